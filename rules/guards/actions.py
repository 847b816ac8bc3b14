"""Claims that the bot's side has already done something it cannot do from a
chat: opened access, issued or sent an invoice, registered a request,
connected a tariff. Found by morphology, not by phrases: a verb of such an
action (opening, creating, sending, issuing, connecting, registering,
activating, ...) in the past tense of the perfective aspect or as a short
passive participle ("открыли", "отправлен", "оформлена"), or the artefact
said to be waiting for the customer already ("счёт уже ждёт вас").

Not a claim: the future and offers ("откроем", "можем отправить", "после
оплаты вам откроют", "будет открыт"), conditions ("если счёт выставлен"),
negations, questions, the customer's own actions ("вы оформили"), and a
statement the facts of this turn make themselves ("Wipon внесён в реестр")."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from core.text.morph import morph, word_set
from rules.guards.lemmas import Sources, Word, is_content, words

# Verbs of what only a person at the company can do, by lemma.
ACTION_VERBS = word_set("""
    открыть создать завести отправить выслать прислать направить переслать
    скинуть выставить оформить подключить зарегистрировать активировать
    выдать предоставить сформировать заключить настроить установить
    забронировать зарезервировать назначить запланировать начислить
    провести продлить включить
""")
# Verbs that say the artefact has reached the customer; a claim only with
# "уже" and the customer addressed ("счёт уже ждёт вас", "доступ уже пришёл").
ARRIVAL_VERBS = word_set("ждать прийти поступить лежать прибыть дойти")
# Words that put an action in the future, a possibility or a condition.
_IRREALIS = word_set("""
    бы будет будут буду будем быть может можем могу могут можно сможем сможет
    если когда после пока чтобы как_только сразу_после как
""")
_SECOND_PERSON = word_set("вы ты")
_ADDRESSEE = word_set("вы ты уже")
_CUSTOMER = word_set("вы вас вам ваш ты тебя тебе твой")
# A clause ends at these: the action of one clause says nothing about another.
_CLAUSE = re.compile(r"[,;:—–()]|\s(?:и|а|но|или)\s")


def _clauses(sentence: str) -> list[str]:
    return [c for c in _CLAUSE.split(sentence) if c.strip()]


def _completed(word: Word, lemmas: list[str]) -> bool:
    if word.lemma not in ACTION_VERBS:
        return False
    if word.pos == "VERB":
        return "past" in word.tag and "perf" in word.tag
    if word.pos != "PRTS":
        return False
    # "открыт", "закрыт" are also adjectives of a state ("офис открыт с 9"):
    # a claim only when said to the customer or with "уже".
    return not _is_also_adjective(word.surface) or any(x in _ADDRESSEE for x in lemmas)


@functools.lru_cache(maxsize=4096)
def _is_also_adjective(surface: str) -> bool:
    return any(p.tag.POS == "ADJS" for p in morph().parse(surface.lower()))


def _claims_in(clause: str) -> list[tuple[Word, list[Word]]]:
    """The completed actions of the bot's side in one clause, each with the
    clause's words."""
    ws = words(clause)
    lemmas = [w.lemma for w in ws]
    if any(x in _IRREALIS for x in lemmas) or "не" in lemmas:
        return []
    found = []
    for i, word in enumerate(ws):
        if _completed(word, lemmas):
            if word.pos == "VERB" and any(
                w.lemma in _SECOND_PERSON and "nomn" in w.tag for w in ws[:i]
            ):
                continue  # "вы уже оформили заявку": the customer's action
            found.append((word, ws))
        elif (
            word.lemma in ARRIVAL_VERBS and "уже" in lemmas and any(x in _CUSTOMER for x in lemmas)
        ):
            found.append((word, ws))
    return found


def _stated_by(action: Word, clause_words: list[Word], facts: Sources) -> bool:
    """Whether the facts make the same statement: the same action about one of
    the same things ("включён в реестр" under a fact about the register)."""
    if action.lemma not in facts.lemmas:
        return False  # the same verb, not a word of its stem ("оформление")
    things = [w.lemma for w in clause_words if w is not action and is_content(w)]
    return any(facts.has(x) for x in things if x not in _CUSTOMER)


def completed_action_claim(sentence: str, facts: Sources | None = None) -> bool:
    """Whether `sentence` says the bot's side has done an action it cannot do."""
    if sentence.rstrip().endswith("?"):
        return False
    for clause in _clauses(sentence):
        for action, clause_words in _claims_in(clause):
            if facts is None or not _stated_by(action, clause_words, facts):
                return True
    return False


def claims(sentences: Sequence[str], facts: Sources | None = None) -> list[str]:
    """The sentences among `sentences` that claim a completed action."""
    return [s for s in sentences if completed_action_claim(s, facts)]
