"""Deterministic checks of an answer draft, and the deterministic repair used when
a regenerated draft still breaks a rule (or, through `edit()`, on the first draft
when cutting a sentence fixes it as well as a regeneration would).

Guards are code, not prompts: a model asked not to invent prices still does
sometimes; a regex comparing amounts with this turn's KB facts does not forget.
Each check returns violation codes; `repair()` removes the offending sentences.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from core.settings import GuardSettings
from core.taxonomy import GuardCode, Phase
from core.text.cities import cities_in
from rules.guards.actions import completed_action_claim
from rules.guards.binding import misattributed
from rules.guards.capability import GENERIC, invented_capability
from rules.guards.denial import unfounded_denial
from rules.guards.figures import AllowedFigures, allowed_figures
from rules.guards.language import foreign_words
from rules.guards.lemmas import Sources, content_lemmas
from rules.guards.money import percents, priced_amounts
from rules.guards.reask import reasks_known
from rules.guards.repair import clauses_of, join_clauses
from rules.guards.repetition import repeated_questions, repeats
from rules.guards.text import WORD, sentences
from rules.profile import is_empty

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
_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
# Latin words in lower case: English prose. Capitalized ones (Wipon, Mini, Kaspi)
# are product and brand names that a Russian answer legitimately contains.
_LATIN_WORD = re.compile(r"\b[a-z][a-z']*\b")
_KAZAKH = re.compile(r"[әғқңөұүһі]", re.IGNORECASE)
# How an answer says it will find out (the only honest answer without facts).
# Word stems of "I will find out": check with, ask, verify, ask colleagues, pass on.
# The configured fixed answers must match it (tests/rules/test_guards.py).
_WILL_CHECK = re.compile(
    r"уточн|провер|узна[юеёл]|выясн|свяж|свер|спрош|коллег|передам|менеджер", re.IGNORECASE
)
_FIGURE_CODES: frozenset[GuardCode] = frozenset(
    {
        "unknown_price",
        "unknown_percent",
        "other_city_figure",
        "wrong_price_period",
        "wrong_product_price",
    }
)
# What a sentence states that is not grounded; repair cuts the clause that
# states it and keeps the rest of the sentence.
_CLAUSE_CODES: frozenset[GuardCode] = _FIGURE_CODES | {
    "false_action_claim",
    "unfounded_capability",
    "false_denial",
}
# Cut statements that leave the customer without an answer the bot does not
# have: the final repair says it will check instead.
_GAP_CODES: frozenset[GuardCode] = _FIGURE_CODES | {"false_denial"}
# Words of an answer's sentence that point back to the city named before it.
_BACK_REFERENCE = re.compile(
    r"\b(?:там|туда|оттуда|тамошн\w*)\b|в\s+(?:этом|том\s+же)\s+городе", re.IGNORECASE
)


# A sentence that continues the one before it ("Вам нужен второй экран? Или
# хватит одного?"): without that one it means nothing.
_CONTINUATION = re.compile(r"^(?:или|либо)\b", re.IGNORECASE)


def _orphaned(draft: str, edited: str) -> bool:
    """Whether the edit kept a continuing sentence but cut the one it continues."""
    before = sentences(draft)
    kept = set(sentences(edited))
    return any(
        _CONTINUATION.search(s) and s in kept and before[i - 1] not in kept
        for i, s in enumerate(before)
        if i > 0
    )


@dataclass
class GuardInput:
    """What the checks need to know about the turn."""

    answer: str
    turn: int
    """1 for the first turn; a greeting is allowed then, and when `may_greet`."""
    phase: Phase
    profile: Mapping[str, Any]
    kb_facts: Sequence[str]
    previous_answers: Sequence[str] = field(default_factory=list)
    returning: bool = False
    unanswerable: bool = False
    """The customer asked a factual question and the KB had nothing relevant."""
    customer: Sequence[str] = field(default_factory=list)
    """The customer's messages so far, this turn's included: what the customer
    wrote is never a violation when the answer repeats it (a name in Kazakh)."""
    message: str = ""
    """What the customer wrote this turn: what the answer is about."""
    wanted: Sequence[str] = field(default_factory=list)
    """What the customer's own request (an invoice, trial access, a call) still
    lacks: while anything does, an edit must not cut the question asking for it.
    The phase's wish to qualify the customer can wait a turn; the request cannot."""


@dataclass(frozen=True, slots=True)
class _Turn:
    """What a draft is checked against, computed once per check."""

    allowed: AllowedFigures
    facts: Sources
    grounds: Sources
    """The facts, the customer's messages and the earlier answers."""
    said: Sources
    """What the company has said: the facts and the earlier answers."""
    quotable: frozenset[str]
    """Words of the facts and the customer's messages, lower case."""


class Guard:
    """All checks and the repair, configured from settings.guards."""

    NO_QUESTION_PHASES: frozenset[Phase] = frozenset({"soft_close", "handoff"})

    def __init__(self, cfg: GuardSettings):
        self.cfg = cfg
        self._claims = [
            (re.compile(c.pattern, re.IGNORECASE), c.requires) for c in cfg.action_claims
        ]

    # --- single-sentence predicates, shared by check() and repair() ---

    @staticmethod
    def _in_context(parts: Sequence[str], profile: Mapping[str, Any]) -> list[tuple[str, set[str]]]:
        """Each sentence with the cities it speaks of: those it names; else those
        an earlier sentence named, if it points back to them ("В Шымкенте открылся
        филиал. Там скидка 30%"); else the customer's own city."""
        own = cities_in(str(profile.get("city") or ""))
        named_last: set[str] = set()
        out = []
        for sentence in parts:
            named = cities_in(sentence)
            if named:
                named_last = named
            elif named_last and _BACK_REFERENCE.search(sentence):
                named = named_last
            out.append((sentence, named or own))
        return out

    def _is_greeting(self, sentence: str) -> bool:
        return bool(_GREETING.search(sentence) or _SELF_INTRO.search(sentence))

    def reasks(self, sentence: str, profile: Mapping[str, Any]) -> bool:
        """Whether `sentence` asks again for a field the profile already has."""
        return reasks_known(sentence, profile)

    def _false_claim(self, sentence: str, profile: Mapping[str, Any]) -> bool:
        return any(
            pattern.search(sentence) and (requires is None or is_empty(profile.get(requires)))
            for pattern, requires in self._claims
        )

    def _not_russian(self, text: str, quotable: frozenset[str] = frozenset()) -> bool:
        """Whether `text` is not Russian, the words it quotes from the facts or the
        customer left aside (an address with Kazakh letters copied from the KB)."""
        if not _CYRILLIC.search(text) and not _LATIN_WORD.search(text):
            return True  # no words of any language: emoji, digits
        own = " ".join(foreign_words(text, quotable))
        if _KAZAKH.search(own):
            return True
        cyr = len(_CYRILLIC.findall(own))
        lat = sum(len(w) for w in _LATIN_WORD.findall(own))
        if cyr + lat == 0:
            return False  # only quoted words, names and numbers are left
        return cyr / (cyr + lat) < self.cfg.min_cyrillic_ratio

    def _max_questions(self, phase: Phase) -> int:
        return 0 if phase in self.NO_QUESTION_PHASES else self.cfg.max_questions

    def _turn(self, data: GuardInput) -> _Turn:
        facts = Sources.of(data.kb_facts)
        quotable = {w.lower() for t in (*data.kb_facts, *data.customer) for w in WORD.findall(t)}
        return _Turn(
            allowed_figures(data.kb_facts, self.cfg.price_allow_list),
            facts,
            Sources.of([*data.kb_facts, *data.customer, *data.previous_answers]),
            Sources.of([*data.kb_facts, *data.previous_answers]),
            frozenset(quotable),
        )

    def _sentence_codes(
        self, sentence: str, data: GuardInput, turn: _Turn, cities: set[str]
    ) -> list[GuardCode]:
        """Codes for one sentence; `cities` are those it speaks of (see `_in_context`)."""
        allowed = turn.allowed
        codes: list[GuardCode] = []
        priced = priced_amounts(sentence)
        verdicts = {allowed.amounts.verdict(a, cities) for a, _ in priced}
        if "unknown" in verdicts:
            codes.append("unknown_price")
        shares = {allowed.percents.verdict(p, cities) for p in percents(sentence)}
        if "unknown" in shares:
            codes.append("unknown_percent")
        if "other_city" in verdicts | shares:
            codes.append("other_city_figure")
        if any(allowed.wrong_period(a, period) for a, period in priced):
            codes.append("wrong_price_period")
        if priced and misattributed(sentence, data.kb_facts):
            codes.append("wrong_product_price")
        if data.turn > 1 and not data.returning and self._is_greeting(sentence):
            codes.append("greeting_repeated")
        if self.reasks(sentence, data.profile):
            codes.append("reasked_known_field")
        if self._false_claim(sentence, data.profile) or completed_action_claim(
            sentence, turn.facts
        ):
            codes.append("false_action_claim")
        if invented_capability(sentence, turn.grounds, self.cfg.min_capability_grounding):
            codes.append("unfounded_capability")
        if unfounded_denial(sentence, turn.said, data.message):
            codes.append("false_denial")
        return codes

    # --- the whole answer ---

    def check(self, data: GuardInput) -> list[GuardCode]:
        text = data.answer.strip()
        if not text:
            return ["empty"]
        turn = self._turn(data)
        codes: list[GuardCode] = []
        for sentence, cities in self._in_context(sentences(text), data.profile):
            found = self._sentence_codes(sentence, data, turn, cities)
            codes.extend(c for c in found if c not in codes)
        if len(re.findall(r"\?+", text)) > self._max_questions(data.phase):
            codes.append("too_many_questions")
        if self._not_russian(text, turn.quotable):
            codes.append("not_russian")
        if len(text) > self.cfg.max_answer_chars:
            codes.append("too_long")
        if data.unanswerable and not _WILL_CHECK.search(text):
            codes.append("ungrounded_answer")
        if repeats(text, data.previous_answers, self.cfg.repeat_similarity):
            codes.append("repeated_answer")
        return codes

    def edit(self, data: GuardInput, codes: Sequence[GuardCode]) -> str | None:
        """The draft with the offending part cut, when that is as good as a
        regeneration: only for `cfg.edit_in_place` violations, and only if what
        is left is still the answer: it passes every check, says something
        (`cfg.min_edited_words`), keeps every word of the customer's message the
        draft answered with (else the cut part was the answer), keeps an amount
        if the draft named one, and still asks a question while the customer's
        request lacks data. None otherwise: the draft is regenerated."""
        if not codes or not set(codes) <= set(self.cfg.edit_in_place):
            return None
        edited = self._repair(data, codes, admit_gaps=False)
        if edited in (self.cfg.fallback_answer, self.cfg.unknown_fact_answer):
            return None
        if len(WORD.findall(edited)) < self.cfg.min_edited_words:
            return None
        asks = self._max_questions(data.phase) > 0 and bool(data.wanted)
        if asks and "?" in data.answer and "?" not in edited:
            return None  # the cut took the question that collects what the request needs
        if priced_amounts(data.answer) and not priced_amounts(edited):
            return None  # an amount may have been what the customer asked
        if self._answer_words_lost(data, edited) or _orphaned(data.answer, edited):
            return None
        if self.check(replace(data, answer=edited)):
            return None
        return edited

    @staticmethod
    def _answer_words_lost(data: GuardInput, edited: str) -> bool:
        """Whether the cut took words of the customer's message that the draft
        answered with ("экран" of "что показывает экран?"); words that name no
        subject ("программа", "можно") do not count."""
        asked = content_lemmas(data.message) - GENERIC
        draft, kept = Sources.of([data.answer]), Sources.of([edited])
        return any(draft.has(x) and not kept.has(x) for x in asked)

    def _without_greeting(self, sentence: str) -> str:
        """The sentence without its opening greeting ("Здравствуйте, рады, что
        вы вернулись!" → "Рады, что вы вернулись!"), or "" when nothing worth
        keeping follows it."""
        rest = _GREETING_CLAUSE.sub("", sentence, count=1).strip()
        if len(WORD.findall(rest)) < 3:
            return ""
        return rest[0].upper() + rest[1:]

    def repair(self, data: GuardInput, codes: Sequence[GuardCode]) -> str:
        """Drop what breaks the rules and keep what is grounded: a sentence that
        states something unfounded loses that clause only; a sentence in another
        language goes, and so does a question asked in the last answers; without
        facts for the question, only what claims nothing stays, with the honest
        "уточню" (also said where a figure or a denial was cut). A safe fixed
        answer only if nothing is left."""
        return self._repair(data, codes, admit_gaps=True)

    def _repair(self, data: GuardInput, codes: Sequence[GuardCode], *, admit_gaps: bool) -> str:
        if "empty" in codes:
            return self.cfg.fallback_answer
        turn = self._turn(data)
        kept = sentences(data.answer)
        if "not_russian" in codes:
            kept = [s for s in kept if not self._not_russian(s, turn.quotable)]
        if "repeated_answer" in codes:
            asked = repeated_questions(
                data.answer, data.previous_answers, self.cfg.repeat_similarity
            )
            kept = [s for s in kept if s not in asked]
        unanswerable = "ungrounded_answer" in codes
        if unanswerable:
            kept = [s for s in kept if self._claims_nothing(s, turn)]
        dropped_price = unanswerable
        while True:
            # Dropping a sentence can take away the city a later one pointed back
            # to, so the rest is checked again until nothing more goes.
            passed, dropped = self._keep_allowed(kept, data, turn)
            dropped_price = dropped_price or dropped
            if passed == kept:
                break
            kept = passed
        limit = self._max_questions(data.phase)
        questions = [i for i, s in enumerate(kept) if "?" in s]
        # Keep the last question: it is usually the one that moves the sale on.
        drop = set(questions[: max(0, len(questions) - limit)])
        kept = [s for i, s in enumerate(kept) if i not in drop]
        if dropped_price and admit_gaps:
            # Before a closing question, which should stay last.
            at = len(kept) - 1 if kept and "?" in kept[-1] else len(kept)
            kept.insert(at, self.cfg.unknown_fact_answer)
        text = " ".join(kept).strip()
        if len(text) > self.cfg.max_answer_chars:
            text = self._shorten(kept)
        if not WORD.search(text) or text == self.cfg.unknown_fact_answer:
            return self.cfg.unknown_fact_answer if dropped_price else self.cfg.fallback_answer
        return text

    def _claims_nothing(self, sentence: str, turn: _Turn) -> bool:
        """A sentence an answer without facts may keep: a question, or one whose
        words all come from the conversation (no figure, no capability, no claim)."""
        if "?" in sentence:
            return True
        if priced_amounts(sentence) or percents(sentence):
            return False
        return invented_capability(sentence, turn.grounds, 1.0) is False and all(
            turn.grounds.has(x) for x in content_lemmas(sentence)
        )

    def _keep_allowed(
        self, parts: list[str], data: GuardInput, turn: _Turn
    ) -> tuple[list[str], bool]:
        """The sentences that break no rule (a repeated greeting cut off the
        sentence it opens, an unfounded clause cut out of the sentence that
        holds it), and whether a figure was dropped."""
        kept: list[str] = []
        dropped_figure = False
        for sentence, cities in self._in_context(parts, data.profile):
            bad = self._sentence_codes(sentence, data, turn, cities)
            if bad == ["greeting_repeated"] and not _SELF_INTRO.search(sentence):
                # Only the greeting is wrong: keep what the sentence says after it.
                sentence = self._without_greeting(sentence)
                bad = self._sentence_codes(sentence, data, turn, cities) if sentence else bad
            if bad:
                dropped_figure = dropped_figure or bool(set(bad) & _GAP_CODES)
                if set(bad) <= _CLAUSE_CODES:
                    rest = self._grounded_clauses(sentence, data, turn, cities)
                    if rest:
                        kept.append(rest)
                continue
            kept.append(sentence)
        return kept, dropped_figure

    def _grounded_clauses(
        self, sentence: str, data: GuardInput, turn: _Turn, cities: set[str]
    ) -> str:
        """What is left of `sentence` without its offending clauses ("" when too
        little is left to stand as a sentence)."""
        parts = clauses_of(sentence)
        if len(parts) < 2:
            return ""
        good = [p for p in parts if not self._sentence_codes(p.text, data, turn, cities)]
        if len(good) == len(parts):
            return ""
        rest = join_clauses(good, sentence)
        return rest if len(WORD.findall(rest)) >= self.cfg.min_edited_words - 1 else ""

    def _shorten(self, parts: list[str]) -> str:
        out = ""
        for part in parts:
            candidate = f"{out} {part}".strip()
            if len(candidate) > self.cfg.max_answer_chars:
                break
            out = candidate
        return out or parts[0][: self.cfg.max_answer_chars].rstrip()
