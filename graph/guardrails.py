"""Deterministic checks of an answer draft, and the deterministic repair used when
a regenerated draft still breaks a rule (or, through `edit()`, on the first draft
when cutting a sentence fixes it as well as a regeneration would).

Guards are code, not prompts: a model asked not to invent prices still does
sometimes; a regex comparing amounts with this turn's KB facts does not forget.
Each check returns violation codes; `repair()` removes the offending sentences.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from graph.cities import cities_in
from graph.settings import GuardSettings

# A number (with thousands separators) followed by a currency, or "$" before it.
_NUMBER = r"\d{1,3}(?:[ \u00a0\u202f.,]\d{3})+|\d+"
_MULTIPLIER = r"(?:\s*(?P<mult>тыс\.?|тысяч[аи]?|млн\.?|миллион(?:а|ов)?|k|к)(?![а-яa-z]))?"
_CURRENCY = r"(?:₸|тенге|тнг|тг\.?|руб(?:\.|л(?:ей|я|ь))?|р\.|\$|usd|долл(?:\.|ар(?:ов|а)?)?)"
_MONEY_AFTER = re.compile(
    rf"(?P<num>{_NUMBER})(?:[.,]\d{{1,2}})?{_MULTIPLIER}\s*{_CURRENCY}", re.IGNORECASE
)
_MONEY_BEFORE = re.compile(rf"(?:\$|usd)\s*(?P<num>{_NUMBER}){_MULTIPLIER}", re.IGNORECASE)
# "скидка 90%": a percentage is a promise as much as a price is.
_PERCENT = re.compile(r"(?<![\d.,])(\d{1,3}(?:[.,]\d+)?)\s*(?:%|процент)", re.IGNORECASE)
_ANY_NUMBER = re.compile(rf"(?P<num>{_NUMBER}){_MULTIPLIER}", re.IGNORECASE)

_GREETING = re.compile(
    r"^\s*(здравствуй|добр(ый|ое|ого)\s+(день|утр|вечер)|привет|приветствую|салем|сәлем|"
    r"ассалам|доброго времени)",
    re.IGNORECASE,
)
# The greeting and the address after it, up to the first punctuation mark.
_GREETING_CLAUSE = re.compile(_GREETING.pattern + r"[^,!.?…:;—]*[,!.…:;—]?", re.IGNORECASE)
_SELF_INTRO = re.compile(
    r"\b(меня зовут|я\s*[—–-]?\s*(ваш\s+)?(менеджер|консультант|ассистент|бот)|"
    r"на связи\s+(менеджер|компания|wipon))",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"[^.!?…\n]+(?:[.!?…]+|\n|$)")
_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
# Latin words in lower case: English prose. Capitalized ones (Wipon, Mini, Kaspi)
# are product and brand names that a Russian answer legitimately contains.
_LATIN_WORD = re.compile(r"\b[a-z][a-z']*\b")
_KAZAKH = re.compile(r"[әғқңөұүһі]", re.IGNORECASE)
_WORD = re.compile(r"\w+")
# How an answer says it will find out (the only honest answer without facts).
_WILL_CHECK = re.compile(r"уточн|провер|узна[юеёл]|выясн|свяж|передам|менеджер", re.IGNORECASE)

_MULTIPLIERS = {"т": 1_000, "k": 1_000, "к": 1_000, "м": 1_000_000}


def _to_int(number: str, mult: str | None) -> int:
    digits = re.sub(r"[ \u00a0\u202f.,]", "", number)
    value = int(digits) if digits else 0
    if mult:
        value *= _MULTIPLIERS.get(mult[0].lower(), 1)
    return value


def money_amounts(text: str) -> set[int]:
    """Amounts of money named in `text` (with a currency), normalized to integers."""
    amounts = set()
    for pattern in (_MONEY_AFTER, _MONEY_BEFORE):
        for match in pattern.finditer(text):
            amounts.add(_to_int(match.group("num"), match.group("mult")))
    return amounts


def percents(text: str) -> set[float]:
    """Percentages named in `text` ("90%", "15 процентов")."""
    return {float(m.group(1).replace(",", ".")) for m in _PERCENT.finditer(text)}


def numbers_in(texts: Iterable[str]) -> set[int]:
    """Every number in the KB facts: a fact may put the currency in a header line."""
    found = set()
    for text in texts:
        for match in _ANY_NUMBER.finditer(text):
            found.add(_to_int(match.group("num"), match.group("mult")))
    return found


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(text) if s.strip()]


def _similarity(a: str, b: str) -> float:
    wa, wb = set(_WORD.findall(a.lower())), set(_WORD.findall(b.lower()))
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / len(wa | wb)


@dataclass(slots=True)
class Figures:
    """The numbers an answer may name: `anywhere`, or, for figures the KB gives
    for some cities only, in `by_city`."""

    anywhere: set[float]
    by_city: dict[float, set[str]]

    def allow(self, value: float, cities: set[str]) -> bool:
        return value in self.anywhere or bool(self.by_city.get(value, set()) & cities)


@dataclass
class GuardInput:
    """What the checks need to know about the turn."""

    answer: str
    turn: int
    """1 for the first turn; a greeting is allowed then, and when `may_greet`."""
    phase: str
    profile: Mapping[str, Any]
    kb_facts: Sequence[str]
    previous_answers: Sequence[str] = field(default_factory=list)
    returning: bool = False
    unanswerable: bool = False
    """The customer asked a factual question and the KB had nothing relevant."""


class Guard:
    """All checks and the repair, configured from settings.guards."""

    NO_QUESTION_PHASES = frozenset({"soft_close", "handoff"})

    def __init__(self, cfg: GuardSettings):
        self.cfg = cfg
        self._reask = {
            name: [re.compile(p, re.IGNORECASE) for p in patterns]
            for name, patterns in cfg.reask_patterns.items()
        }
        self._claims = [
            (re.compile(c.pattern, re.IGNORECASE), c.requires) for c in cfg.action_claims
        ]

    # --- single-sentence predicates, shared by check() and repair() ---

    def _is_greeting(self, sentence: str) -> bool:
        return bool(_GREETING.search(sentence) or _SELF_INTRO.search(sentence))

    def reasks(self, sentence: str, profile: Mapping[str, Any]) -> bool:
        """Whether `sentence` asks again for a field the profile already has."""
        return any(
            profile.get(name) not in (None, "", []) and any(p.search(sentence) for p in patterns)
            for name, patterns in self._reask.items()
        )

    def _false_claim(self, sentence: str, profile: Mapping[str, Any]) -> bool:
        return any(
            pattern.search(sentence) and (requires is None or not profile.get(requires))
            for pattern, requires in self._claims
        )

    def _not_russian(self, text: str) -> bool:
        if _KAZAKH.search(text):
            return True
        cyr = len(_CYRILLIC.findall(text))
        lat = sum(len(w) for w in _LATIN_WORD.findall(text))
        return cyr + lat == 0 or cyr / (cyr + lat) < self.cfg.min_cyrillic_ratio

    def _max_questions(self, phase: str) -> int:
        return 0 if phase in self.NO_QUESTION_PHASES else self.cfg.max_questions

    def _allowed_figures(self, data: GuardInput) -> Figures:
        """Numbers the facts contain (amounts and percentages), plus the allow-list.
        A fact line that names a city ("В Шымкенте … скидка 30%") gives its
        figures for that city only."""
        figures = Figures(set(self.cfg.price_allow_list), {})
        for fact in data.kb_facts:
            for line in fact.splitlines():
                values = set(numbers_in([line])) | percents(line)
                scope = cities_in(line) if values else set()
                if not scope:
                    figures.anywhere |= values
                for value in values if scope else ():
                    figures.by_city.setdefault(value, set()).update(scope)
        return figures

    def _sentence_codes(self, sentence: str, data: GuardInput, allowed: Figures) -> list[str]:
        codes = []
        # A city figure is fine for a customer from there, or said with its city.
        cities = cities_in(sentence) | cities_in(str(data.profile.get("city") or ""))
        if any(not allowed.allow(a, cities) for a in money_amounts(sentence)):
            codes.append("unknown_price")
        if any(not allowed.allow(p, cities) for p in percents(sentence)):
            codes.append("unknown_percent")
        if data.turn > 1 and not data.returning and self._is_greeting(sentence):
            codes.append("greeting_repeated")
        if self.reasks(sentence, data.profile):
            codes.append("reasked_known_field")
        if self._false_claim(sentence, data.profile):
            codes.append("false_action_claim")
        return codes

    # --- the whole answer ---

    def check(self, data: GuardInput) -> list[str]:
        text = data.answer.strip()
        if not text:
            return ["empty"]
        allowed = self._allowed_figures(data)
        codes: list[str] = []
        for sentence in sentences(text):
            codes.extend(c for c in self._sentence_codes(sentence, data, allowed) if c not in codes)
        if len(re.findall(r"\?+", text)) > self._max_questions(data.phase):
            codes.append("too_many_questions")
        if self._not_russian(text):
            codes.append("not_russian")
        if len(text) > self.cfg.max_answer_chars:
            codes.append("too_long")
        if data.unanswerable and not _WILL_CHECK.search(text):
            codes.append("ungrounded_answer")
        if any(
            _similarity(text, old) >= self.cfg.repeat_similarity for old in data.previous_answers
        ):
            codes.append("repeated_answer")
        return codes

    def edit(self, data: GuardInput, codes: Sequence[str]) -> str | None:
        """The draft with the offending sentences cut, when that is as good as a
        regeneration: only for `cfg.edit_in_place` violations (a repeated greeting,
        a question about a known field), and only if what is left passes every
        check, still says something (`cfg.min_edited_words`) and still asks its
        question if the draft had one. None otherwise."""
        if not codes or not set(codes) <= set(self.cfg.edit_in_place):
            return None
        edited = self.repair(data, codes)
        if len(_WORD.findall(edited)) < self.cfg.min_edited_words:
            return None
        if "?" in data.answer and "?" not in edited:
            return None  # the cut took the question that moves the sale on
        if self.check(replace(data, answer=edited)):
            return None
        return edited

    def _without_greeting(self, sentence: str) -> str:
        """The sentence without its opening greeting ("Здравствуйте, рады, что
        вы вернулись!" → "Рады, что вы вернулись!"), or "" when nothing worth
        keeping follows it."""
        rest = _GREETING_CLAUSE.sub("", sentence, count=1).strip()
        if len(_WORD.findall(rest)) < 3:
            return ""
        return rest[0].upper() + rest[1:]

    def repair(self, data: GuardInput, codes: Sequence[str]) -> str:
        """Drop what breaks the rules; fall back to a safe fixed answer if nothing is left."""
        if "empty" in codes or "not_russian" in codes:
            return self.cfg.fallback_answer
        if "ungrounded_answer" in codes:
            return self.cfg.unknown_fact_answer
        allowed = self._allowed_figures(data)
        kept: list[str] = []
        dropped_price = False
        for sentence in sentences(data.answer):
            bad = self._sentence_codes(sentence, data, allowed)
            if bad == ["greeting_repeated"] and not _SELF_INTRO.search(sentence):
                # Only the greeting is wrong: keep what the sentence says after it.
                sentence = self._without_greeting(sentence)
                bad = self._sentence_codes(sentence, data, allowed) if sentence else bad
            if bad:
                dropped_price = dropped_price or bool(
                    {"unknown_price", "unknown_percent"} & set(bad)
                )
                continue
            kept.append(sentence)
        limit = self._max_questions(data.phase)
        questions = [i for i, s in enumerate(kept) if "?" in s]
        # Keep the last question: it is usually the one that moves the sale on.
        drop = set(questions[: max(0, len(questions) - limit)])
        kept = [s for i, s in enumerate(kept) if i not in drop]
        if dropped_price:
            kept.append(self.cfg.unknown_fact_answer)
        text = " ".join(kept).strip()
        if len(text) > self.cfg.max_answer_chars:
            text = self._shorten(kept)
        return text or self.cfg.fallback_answer

    def _shorten(self, parts: list[str]) -> str:
        out = ""
        for part in parts:
            candidate = f"{out} {part}".strip()
            if len(candidate) > self.cfg.max_answer_chars:
                break
            out = candidate
        return out or parts[0][: self.cfg.max_answer_chars].rstrip()
