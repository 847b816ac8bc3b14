"""Text analysis shared by indexing and search: normalization, tokens, lemmas.

Documents and queries go through the same steps, so "Кассы", "касса" and "KASSA"
end up as the same term: lower case, ё → е, homoglyphs of mixed-script words fixed,
pymorphy3 lemmas (cached per token: the analyzer is slow per word and a KB
repeats the same words thousands of times), domain aliases, Russian stop-words.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from importlib import metadata

from bm25s.stopwords import STOPWORDS_RUSSIAN

from core.text.morph import morph
from kb.synonyms import ALIASES, PRO_CONTEXT

ANALYZER_VERSION = "5"
"""Bump when tokenization code changes; word lists are fingerprinted on their own."""

# Kazakh Cyrillic adds nine letters to the Russian alphabet. Customers here write
# in Kazakh too ("қазақ тілінде бар ма?"), and a tokenizer that knows only [а-я]
# would cut such words into meaningless fragments ("аз", "нде").
_KAZAKH = "әғқңөұүһі"
KAZAKH_STEM = 5
"""Letters of a Kazakh word kept as its stem (a suffix-stripping stand-in)."""
_KAZAKH_LETTER = re.compile(f"[{_KAZAKH}]")
_TOKEN = re.compile(rf"[0-9a-zа-я{_KAZAKH}]+(?:-[0-9a-zа-я{_KAZAKH}]+)*")
_LETTER_DIGIT = re.compile(rf"[a-zа-я{_KAZAKH}]+|[0-9]+")
_LATIN = re.compile(r"[a-z]")
_CYRILLIC = re.compile(f"[а-я{_KAZAKH}]")

# Latin and Cyrillic letters that look alike: a word typed with a mixed layout
# ("кассa" with a Latin "a") is brought to the script of most of its letters.
# Kazakh "і" is often typed as the Latin "i".
_LAT_TO_CYR = str.maketrans("aceopxykmtbhi", "асеорхукмтвні")
_CYR_TO_LAT = str.maketrans("асеорхукмтвні", "aceopxykmtbhi")

# Phonetic transliteration, to meet a product name written in the other script
# ("премиум" ~ "premium", "kassa" ~ "касса") when no alias covers it.
_CYR_TRANSLIT = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ж": "zh", "з": "z",
    "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p",
    "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "h", "ц": "ts", "ч": "ch",
    "ш": "sh", "щ": "sch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya",
}  # fmt: skip
_LAT_TRANSLIT = (
    ("sch", "щ"), ("sh", "ш"), ("ch", "ч"), ("zh", "ж"), ("ts", "ц"), ("yu", "ю"),
    ("ya", "я"), ("kh", "х"), ("qu", "кв"), ("x", "кс"), ("w", "в"), ("a", "а"),
    ("b", "б"), ("c", "к"), ("d", "д"), ("e", "е"), ("f", "ф"), ("g", "г"), ("h", "х"),
    ("i", "и"), ("j", "дж"), ("k", "к"), ("l", "л"), ("m", "м"), ("n", "н"), ("o", "о"),
    ("p", "п"), ("q", "к"), ("r", "р"), ("s", "с"), ("t", "т"), ("u", "у"), ("v", "в"),
    ("y", "и"), ("z", "з"),
)  # fmt: skip

# Conversational filler that carries no topic, on top of the generic stop-words.
_FILLER = {
    "подсказать", "сказать", "пожалуйста", "здравствуйте", "здравствовать", "добрый",
    "привет", "хотеть", "хотеться", "интересовать", "интересно", "узнать", "вообще",
    "ваш", "наш", "свой", "это", "весь", "который", "мочь", "ли", "какой", "сколько",
    "каков", "также", "либо", "именно", "очень", "спасибо", "например", "т", "д", "др",
    "ещё", "еще", "рассказать", "объяснить", "показать", "посоветовать", "нужно", "надо",
    "можно", "бы", "ок", "окей", "ага", "угу", "ладно", "понятно", "ясно", "отлично",
    "супер", "около",
    # Kazakh question particles, pronouns and question words
    "ма", "ме", "ба", "бе", "па", "пе", "бар", "жоқ", "және", "мен", "қалай", "қандай",
    "не", "неше", "қанша", "қашан", "қайда", "иә", "сіз", "сізге", "сіздің", "сізде",
    "біз", "бізге", "біздің", "бізде", "бола", "болады", "мүмкін", "сәлем", "сәлеметсіз",
    # English function words: topic slugs ("faq_how_to_start") are indexed too
    "the", "a", "an", "of", "and", "or", "in", "on", "for", "to", "is", "are", "be", "how",
    "what", "why", "when", "where", "who", "which", "do", "does", "can", "you", "your", "my",
    "me", "i", "we", "it", "with", "without", "from", "by", "at", "as", "vs", "per", "about",
    "this", "that", "there", "if", "no", "not", "yes",
}  # fmt: skip
# Words of the generic stop list that carry a question's meaning, kept as terms:
# absence and prohibition ("без интернета", "нельзя вернуть", "нет сканера"),
# numerals ("на две точки") and comparatives ("что лучше"). A bare "не" stays a
# stop-word: it is in most of the KB's lines and measured as a loss on its own.
MEANINGFUL: frozenset[str] = frozenset(
    {"без", "нет", "нельзя", "ни", "один", "два", "три", "больше", "более", "лучше"}
)
STOPWORDS: frozenset[str] = (
    frozenset(w.replace("ё", "е") for w in (*STOPWORDS_RUSSIAN, *_FILLER)) - MEANINGFUL
)


def analyzer_fingerprint() -> str:
    """What shapes index tokens besides the code: for the index cache key, so that
    editing a word list or upgrading the dictionary re-indexes by itself."""
    digest = hashlib.sha256()
    parts = [ANALYZER_VERSION, *sorted(STOPWORDS), *sorted(ALIASES.items()), *sorted(PRO_CONTEXT)]
    for package in ("pymorphy3", "pymorphy3-dicts-ru"):
        try:
            parts.append(f"{package}=={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{package}==?")
    for part in parts:
        digest.update(repr(part).encode("utf-8"))
    return digest.hexdigest()[:16]


def normalize(text: str) -> str:
    return text.lower().replace("ё", "е")


def _fix_script(token: str) -> str:
    latin = len(_LATIN.findall(token))
    cyrillic = len(_CYRILLIC.findall(token))
    if not (latin and cyrillic):
        return token
    # Prefer the reading in which every letter converts ("рrо" → "pro"), then the
    # script of most letters ("кассa" → "касса").
    as_cyrillic = token.translate(_LAT_TO_CYR)
    as_latin = token.translate(_CYR_TO_LAT)
    cyrillic_clean = _LATIN.search(as_cyrillic) is None
    latin_clean = _CYRILLIC.search(as_latin) is None
    if cyrillic_clean != latin_clean:
        return as_cyrillic if cyrillic_clean else as_latin
    return as_cyrillic if cyrillic >= latin else as_latin


def to_latin(token: str) -> str:
    return "".join(_CYR_TRANSLIT.get(ch, ch) for ch in token)


def to_cyrillic(token: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(token):
        for src, dst in _LAT_TRANSLIT:
            if token.startswith(src, i):
                out.append(dst)
                i += len(src)
                break
        else:
            out.append(token[i])
            i += 1
    return "".join(out)


def is_latin(token: str) -> bool:
    return _LATIN.search(token) is not None and _CYRILLIC.search(token) is None


def surface_tokens(text: str) -> list[str]:
    """Word tokens of a text, lower case, ё → е, scripts fixed.

    A word with a plus yields the word and then the word with it ("Standard+" →
    standard, standard+). A hyphenated word yields its parts and then the whole
    ("онлайн-касса" → онлайн, касса, онлайн-касса); a letters-and-digits code yields
    its parts too ("xp420b" →
    xp420b, xp, 420, b), so "XP 420B" and "XP420B" meet.
    """
    tokens: list[str] = []
    normal = normalize(text)
    for match in _TOKEN.finditer(normal):
        word = _fix_script(match.group())
        parts = word.split("-")
        if len(parts) > 1:
            tokens.extend(p for p in parts if p)
        tokens.append(word)
        if len(parts) == 1:
            pieces = _LETTER_DIGIT.findall(word)
            if len(pieces) > 1:
                tokens.extend(pieces)
        if normal.startswith("+", match.end()) and word.isalpha():
            # "Standard+" is a product of its own beside "Standard"; a number's
            # plus ("10+") only means "or more".
            tokens.append(f"{word}+")
    return tokens


@functools.lru_cache(maxsize=200_000)
def lemma(token: str) -> str:
    """The normal form of one surface token, with domain aliases applied."""
    alias = ALIASES.get(token)
    if alias is not None:
        return alias
    if token.endswith("+"):
        return f"{lemma(token[:-1])}+"
    if token.isdigit() or _CYRILLIC.search(token) is None:
        return token
    if _KAZAKH_LETTER.search(token):
        # A Kazakh word: the Russian dictionary would only guess at it. Kazakh
        # inflects by suffixes only, so a prefix is a fair stem ("тілінде",
        # "тілін" → "тілін"); shorter words are kept whole.
        return token[:KAZAKH_STEM]
    normal = str(morph().parse(token)[0].normal_form).replace("ё", "е")
    return ALIASES.get(normal, normal)


@functools.lru_cache(maxsize=100_000)
def is_known_word(token: str) -> bool:
    """True when the dictionary knows the word (a typo usually is not known)."""
    return bool(morph().word_is_known(token))


def is_stopword(token: str, lemma_: str) -> bool:
    if token in STOPWORDS or lemma_ in STOPWORDS:
        return True
    # Zeros are the thousands of prices ("12 000"), one letter is a fragment.
    return set(token) == {"0"} or (len(token) == 1 and not token.isdigit())


@dataclass(frozen=True, slots=True)
class Term:
    """One analysed token: what was written and the lemma it stands for."""

    surface: str
    lemma: str
    stop: bool


def analyze(text: str) -> list[Term]:
    """All tokens of a text with their lemmas, stop-words marked (not removed), so
    that phrase synonyms ("сколько стоит") can still see them."""
    tokens = surface_tokens(text)
    terms: list[Term] = []
    previous = ""
    for i, token in enumerate(tokens):
        lem = lemma(token)
        # A preposition never ends a phrase: a final "про" is the Pro tariff.
        if token == "про" and (previous in PRO_CONTEXT or i == len(tokens) - 1):
            lem = "pro"
        terms.append(Term(token, lem, lem != "pro" and is_stopword(token, lem)))
        previous = lem
    return terms


def index_terms(text: str) -> list[str]:
    """The lemmas a document is indexed by."""
    return [t.lemma for t in analyze(text) if not t.stop]
