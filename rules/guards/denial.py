"""Denials about the company or the product ("у нас нет сайта", "мы не работаем
с маркетплейсами", "такой функции нет") checked against what the company has
said: this turn's facts and the bot's earlier answers. A denial whose object
neither mentions is invented, as much as an invented capability is: the KB
not knowing a thing is no evidence that the thing does not exist.

A denial is a declarative sentence with a negated verb of existence or ability
("не поддерживает", "не работаем", "не умеет", "не можем") or a predicative
"нет"/"нету"/"нельзя" ("функции нет"). Not denials: the answer particle
("Нет, не проблема"), suppositions and conditions ("если у вас нет ЭЦП"),
what the customer has or does (second person), and what the bot itself does
not know ("у меня нет точных данных" — the honest answer without facts).

Unlike a capability statement, the customer's messages do not ground a denial:
"у вас есть сайт?" names the site, and "сайта нет" is exactly the invented
answer to it. A denial without an object of its own ("такого нет") denies what
the customer just asked about, so the question's words are its object then.
"""

from __future__ import annotations

import re

from core.text.morph import word_set
from rules.guards.capability import GENERIC, THINGS
from rules.guards.lemmas import Sources, Word, is_content, words

# Verbs and predicatives of existence and ability; negated, they deny.
DENIABLE = word_set("""
    есть быть иметь иметься существовать бывать предусмотреть предусматривать
    работать поддерживать уметь мочь можно позволять позволить предоставлять
    предлагать подключать подключаться интегрироваться продавать
""")
_NO = word_set("нет нету нельзя")
_NOT = "не"
_IRREALIS = word_set("если бы когда чтобы")
# The customer's side, and the bot's own knowledge ("у меня нет данных").
_NOT_COMPANY = word_set("вы ты ваш твой я мой")
_NOT_COMPANY_FORMS = frozenset({"меня", "мне", "мной", "вас", "вам", "вами", "тебя", "тебе"})
# What names the denied thing: nouns, names and their qualifiers. The verbs
# around it vary with the wording ("не печатает", "не выводит").
_NAMING = THINGS | {"ADJF", "PRTF"}
# Where a clause ends: what one clause denies is not what the next one says
# ("карт нет, поэтому молоко по техкарте не спишет").
_CLAUSE = re.compile(
    r"\s*(?:[;:]|\s[—–]\s|,\s*(?=(?:а|но|и|или|поэтому|так\s+что|потому|зато|хотя)\s))\s*",
    re.IGNORECASE,
)
# Words of a denial that say nothing about what is denied.
_GENERIC = (
    GENERIC
    | DENIABLE
    | _NO
    | word_set("""
    такой подобный сейчас пока отдельно отдельный сожаление увы
    компания сделать делать это
""")
)


def _negated_verb(ws: list[Word], i: int) -> bool:
    """Whether the "не" at `i` negates a verb of existence or ability (next word)
    said of the company ("не могу сказать" is the bot's own knowledge)."""
    following = ws[i + 1] if i + 1 < len(ws) else None
    if following is None or following.lemma not in DENIABLE:
        return False
    if "1per" in following.tag and "sing" in following.tag:
        return False
    # "не только X, но и Y" is no denial; "не может быть" is a supposition.
    after = ws[i + 2] if i + 2 < len(ws) else None
    return not (following.lemma == "мочь" and after is not None and after.lemma == "быть")


def _clauses(sentence: str) -> list[str]:
    return [c for c in _CLAUSE.split(sentence.strip()) if c.strip()]


def is_denial(sentence: str) -> bool:
    """Whether `sentence` (or a clause) states that the company or its product
    lacks something."""
    if sentence.rstrip().endswith("?"):
        return False
    ws = words(sentence)
    lemmas = {w.lemma for w in ws}
    surfaces = {w.surface.lower() for w in ws}
    if lemmas & _IRREALIS or lemmas & _NOT_COMPANY or surfaces & _NOT_COMPANY_FORMS:
        return False
    for i, w in enumerate(ws):
        if w.lemma in _NO:
            # "Нет, ..." opening an answer is a reply, not a statement.
            opening = i == 0 and sentence.lstrip()[len(w.surface) :].lstrip().startswith(",")
            if not opening:
                return True
        elif w.lemma == _NOT and _negated_verb(ws, i):
            return True
    return False


def _object(text: str) -> list[Word]:
    return [w for w in words(text) if is_content(w) and w.lemma not in _GENERIC]


def unfounded_denial(sentence: str, said: Sources, question: str = "") -> bool:
    """Whether `sentence` denies something the company's sources (`said`: this
    turn's facts and earlier answers) never mention. The object is the denial's
    own content words, else those of the customer's `question`; a denial of
    nothing nameable is not judged."""
    if sentence.rstrip().endswith("?"):
        return False
    return any(_unfounded(clause, said, question) for clause in _clauses(sentence))


def _unfounded(clause: str, said: Sources, question: str) -> bool:
    if not is_denial(clause):
        return False
    obj = _object(clause) or _object(question)
    if not obj:
        return False
    missing = [w for w in obj if not said.has(w.lemma)]
    if any(w.pos in _NAMING for w in missing):
        return True  # "цветные ценники" are not "ценники": qualifiers count
    return len(missing) * 2 > len(obj)
