"""Deterministic checks of an answer draft, and the deterministic repair used when
a regenerated draft still breaks a rule (or, through `edit()`, on the first draft
when cutting a sentence fixes it as well as a regeneration would).

Guards are code, not prompts: a model asked not to invent prices still does
sometimes; a regex comparing amounts with this turn's KB facts does not forget.
Each check returns violation codes; `repair()` removes the offending sentences.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from typing import Any

from graph.cities import cities_in, only_cities
from graph.settings import GuardSettings

# A number (with thousands separators) followed by a currency, or "$" before it.
_NUMBER = r"\d{1,3}(?:[ \u00a0\u202f.,]\d{3})+|\d+"
_MULTIPLIER = (
    r"(?:\s*(?P<mult>тыс\.?|тысяч[аи]?|млрд\.?|миллиард(?:а|ов)?|млн\.?|миллион(?:а|ов)?|k|к)"
    r"(?![а-яa-z]))?"
)
# "1,5 млн": a decimal part counts only before a multiplier.
_FRACTION = r"(?P<frac>[.,]\d{1,2})?"
_CURRENCY = r"(?:₸|тенге|тнг|тг\.?|руб(?:\.|л(?:ей|я|ь))?|р\.|\$|usd|долл(?:\.|ар(?:ов|а)?)?)"
_MONEY_AFTER = re.compile(
    rf"(?P<num>{_NUMBER}){_FRACTION}{_MULTIPLIER}\s*{_CURRENCY}", re.IGNORECASE
)
_MONEY_BEFORE = re.compile(
    rf"(?:\$|usd)\s*(?P<num>{_NUMBER}){_FRACTION}{_MULTIPLIER}", re.IGNORECASE
)
# "скидка 90%": a percentage is a promise as much as a price is.
_PERCENT = re.compile(r"(?<![\d.,])(\d{1,3}(?:[.,]\d+)?)\s*(?:%|процент)", re.IGNORECASE)
_ANY_NUMBER = re.compile(rf"(?P<num>{_NUMBER}){_FRACTION}{_MULTIPLIER}", re.IGNORECASE)

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
# Abbreviations whose dot ends no sentence: "140 тыс. ₸", "г. Алматы", "ул. Абая".
_ABBREVIATION = re.compile(r"\b(?:тыс|млн|млрд|руб|тг|г|ул|оф|д|т\.\s?е|т\.\s?к)\.(?=\s)", re.I)
_HELD_DOT = "\u2024"
_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)
# Latin words in lower case: English prose. Capitalized ones (Wipon, Mini, Kaspi)
# are product and brand names that a Russian answer legitimately contains.
_LATIN_WORD = re.compile(r"\b[a-z][a-z']*\b")
_KAZAKH = re.compile(r"[әғқңөұүһі]", re.IGNORECASE)
_WORD = re.compile(r"\w+")
# How an answer says it will find out (the only honest answer without facts).
_WILL_CHECK = re.compile(r"уточн|провер|узна[юеёл]|выясн|свяж|передам|менеджер", re.IGNORECASE)

# A multiplier's factor by how it starts, billions before millions ("млрд", "млн").
_FACTORS = (
    (("млрд", "миллиард"), 1_000_000_000),
    (("мл", "ми"), 1_000_000),
    (("т", "k", "к"), 1_000),
)
_DIGIT = re.compile(r"\d")
_FIGURE_CODES = frozenset(
    {"unknown_price", "unknown_percent", "other_city_figure", "wrong_price_period"}
)
# How often an amount is paid, read right after it: "150 000 ₸ в год", "5 000 ₸/мес",
# "168 000 ₸ разово". A model that writes "в месяц" for the KB's "в год" keeps the
# KB's number and names a price twelve times off, so the value alone cannot vouch
# for it. A period written before the amount ("в месяц Mini стоит …") is not read.
_PERIOD_AFTER = re.compile(
    r"\s*(?:/\s*|(?:в|за)\s+)?(?:"
    r"(?P<month>мес(?:яц\w*|\.|\b)|ежемесячн\w*)|"
    r"(?P<year>год(?:а|у)?\b|ежегодн\w*)|"
    r"(?P<once>(?:едино|одно)?разов\w*|однократн\w*))",
    re.IGNORECASE,
)


def _to_int(match: re.Match[str]) -> int:
    digits = re.sub(r"[ \u00a0\u202f.,]", "", match.group("num"))
    value = int(digits) if digits else 0
    mult = (match.group("mult") or "").lower()
    if not mult:
        return value
    frac = match.group("frac")
    whole = value + (float("0." + frac[1:]) if frac else 0.0)
    factor = next(f for starts, f in _FACTORS if mult.startswith(starts))
    return round(whole * factor)


def priced_amounts(text: str) -> list[tuple[int, str | None]]:
    """Amounts of money named in `text` (with a currency), normalized to integers,
    each with the period written right after it ("month", "year", "once") or None."""
    found = []
    for pattern in (_MONEY_AFTER, _MONEY_BEFORE):
        for match in pattern.finditer(text):
            period = _PERIOD_AFTER.match(text, match.end())
            found.append((_to_int(match), period.lastgroup if period else None))
    return found


def percents(text: str) -> set[float]:
    """Percentages named in `text` ("90%", "15 процентов")."""
    return {float(m.group(1).replace(",", ".")) for m in _PERCENT.finditer(text)}


def numbers_in(texts: Iterable[str]) -> set[int]:
    """Every number in the KB facts: a fact may put the currency in a header line."""
    found = set()
    for text in texts:
        for match in _ANY_NUMBER.finditer(text):
            found.add(_to_int(match))
    return found


def sentences(text: str) -> list[str]:
    held = _ABBREVIATION.sub(lambda m: m.group(0)[:-1] + _HELD_DOT, text)
    return [s.strip().replace(_HELD_DOT, ".") for s in _SENTENCE.findall(held) if s.strip()]


def _similarity(a: str, b: str) -> float:
    wa, wb = set(_WORD.findall(a.lower())), set(_WORD.findall(b.lower()))
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / len(wa | wb)


@dataclass(slots=True)
class Figures:
    """Numbers an answer may name: `anywhere`, or, for figures the KB gives for
    some cities only, in `by_city`."""

    anywhere: set[float] = field(default_factory=set)
    by_city: dict[float, set[str]] = field(default_factory=dict)

    def add(self, values: Iterable[float], scope: AbstractSet[str]) -> None:
        for value in values:
            if scope:
                self.by_city.setdefault(value, set()).update(scope)
            else:
                self.anywhere.add(value)

    def verdict(self, value: float, cities: set[str]) -> str | None:
        """None when `value` may be named where the answer speaks of `cities`
        (every one of them within the figure's scope: "в Алматы, Астане и
        Шымкенте" does not pass with a figure for Алматы and Астана); "other_city"
        when the facts give it for other cities only; else "unknown"."""
        if value in self.anywhere:
            return None
        scope = self.by_city.get(value)
        if scope is None:
            return "unknown"
        return None if cities and cities <= scope else "other_city"


@dataclass(slots=True)
class AllowedFigures:
    amounts: Figures
    percents: Figures
    periods: dict[float, set[str | None]] = field(default_factory=dict)
    """The periods the facts give each amount with (None: a number without one)."""

    def wrong_period(self, value: float, period: str | None) -> bool:
        """Whether the facts give `value` only with periods other than `period`."""
        given = self.periods.get(value)
        return period is not None and given is not None and not given & {None, period}


# A clause of a fact line: figures inherit the city named earlier in the line
# ("В Шымкенте к открытию филиала, скидка 30%") until a clause names another
# city or speaks of the rest of the country. A sentence end ends a clause too.
_CLAUSE = re.compile(r";|,\s|\s[—–]\s|(?<=[.!?])\s+")
_COUNTRYWIDE = re.compile(
    r"остальн|други[ехм]\s+город|прочи[ехм]\s+город|регион|област|"
    r"по\s+(?:всему\s+|всей\s+)?(?:казахстан|рк\b|республик)|по\s+всей\s+стране|"
    r"в\s+любом\s+город|во\s+всех\s+город|везде",
    re.IGNORECASE,
)
# "кроме Алматы и Астаны" names the cities a figure is not for.
_EXCEPT = re.compile(r"^\W*(?:кроме|за\s+исключением)\b", re.IGNORECASE)
# Words of an answer's sentence that point back to the city named before it.
_BACK_REFERENCE = re.compile(
    r"\b(?:там|туда|оттуда|тамошн\w*)\b|в\s+(?:этом|том\s+же)\s+городе", re.IGNORECASE
)
# 0 % and 100 % promise nothing: "0-0-12, то есть 0% переплаты", "на 100% в облаке".
_ALWAYS_FINE_PERCENTS = (0.0, 100.0)
# "• Город: Алматы" among a section's parameters scopes all of its figures.
_CITY_PARAMETER = re.compile(r"^\W*город\s*[:—–-]\s*(.+)$", re.IGNORECASE | re.MULTILINE)
# "10–15%": both ends are percentages the facts give.
_PERCENT_RANGE = re.compile(r"(\d{1,3})\s*[-–—]\s*\d{1,3}(?:[.,]\d+)?\s*(?:%|процент)", re.I)


def _fact_percents(text: str) -> set[float]:
    return percents(text) | {float(m.group(1)) for m in _PERCENT_RANGE.finditer(text)}


def _section_scope(fact: str) -> set[str]:
    """Cities a whole fact block is about: a "Город: X" parameter, or a summary
    line that names cities and nothing countrywide ("Акция в Шымкенте — …")."""
    named = set().union(*(cities_in(m) for m in _CITY_PARAMETER.findall(fact)))
    if named:
        return named
    summary = fact.strip().split("\n", 1)[0]
    return set() if _COUNTRYWIDE.search(summary) else cities_in(summary)


_Period = tuple[int, str | None]
_Scoped = tuple[frozenset[float], frozenset[float], frozenset[str], frozenset[_Period]]


def _figures_of(text: str, scope: frozenset[str]) -> _Scoped:
    """(amounts, percentages, cities, (amount, period) pairs) of a line or clause.
    Every number counts as an amount: a fact may put the currency in a header
    line ("Цены, ₸:"), and such a number has no period."""
    numbers = numbers_in([text])
    priced = priced_amounts(text)
    periods = {*priced, *((n, None) for n in numbers - {value for value, _ in priced})}
    return frozenset(numbers), frozenset(_fact_percents(text)), scope, frozenset(periods)


def _cities_after(clause: str, clauses: Sequence[str]) -> frozenset[str]:
    """The cities a figure's clause is followed by when they are only a list that
    ends the line or a parenthesis: "от 140 000 ₸ (Алматы, Астана)", "1–2 дня —
    Алматы, Астана". Not "3 000 ₸, Алматы — бесплатно", where the city begins
    the next statement, nor "3 000 ₸ (кроме Алматы, Астаны)", a parenthesis that
    opens after the figure with words other than city names."""
    after_figure = clause[[m.end() for m in _DIGIT.finditer(clause)][-1] :]
    _, opened, inside = after_figure.rpartition("(")
    if opened and inside.strip() and not only_cities(inside):
        return frozenset()
    listed: set[str] = set()
    for following in clauses:
        if _DIGIT.search(following) or not only_cities(following):
            return frozenset()
        listed |= cities_in(following)
        if ")" in following:
            break
    return frozenset(listed)


@functools.lru_cache(maxsize=4096)
def _fact_figures(fact: str) -> tuple[_Scoped, ...]:
    """The figures of one KB section's facts (`_figures_of`), by line or clause,
    the cities empty for figures valid anywhere. Cached: the same sections come back turn after
    turn, and a turn checks its facts once per draft."""
    out: list[_Scoped] = []
    section_scope = frozenset(_section_scope(fact))
    for line in fact.splitlines():
        if not _DIGIT.search(line):
            continue  # no figure; a city named here scopes nothing
        if not section_scope and not cities_in(line):
            out.append(_figures_of(line, section_scope))
            continue
        scope = section_scope
        listing = False  # the previous clause was only a city: "Алматы, Астана, …"
        clauses = _CLAUSE.split(line)
        for i, clause in enumerate(clauses):
            named = frozenset(cities_in(clause))
            figures = bool(_DIGIT.search(clause))
            if _COUNTRYWIDE.search(clause) or _EXCEPT.search(clause):
                scope = section_scope
            elif named:
                scope = scope | named if listing else named
            listing = bool(named) and not figures
            if figures:
                listed = _cities_after(clause, clauses[i + 1 :])
                own = scope if named else section_scope
                out.append(_figures_of(clause, own | listed if listed else scope))
    return tuple(out)


def allowed_figures(kb_facts: Iterable[str], allow_list: Iterable[float] = ()) -> AllowedFigures:
    """Amounts and percentages the facts give, each anywhere or for its cities,
    and the periods each amount is given with."""
    allowed = AllowedFigures(Figures(set(allow_list)), Figures(set(_ALWAYS_FINE_PERCENTS)))
    for fact in kb_facts:
        for amounts, shares, scope, periods in _fact_figures(fact):
            allowed.amounts.add(amounts, scope)
            allowed.percents.add(shares, scope)
            for value, period in periods:
                allowed.periods.setdefault(value, set()).add(period)
    return allowed


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

    def _allowed_figures(self, data: GuardInput) -> AllowedFigures:
        return allowed_figures(data.kb_facts, self.cfg.price_allow_list)

    def _sentence_codes(
        self, sentence: str, data: GuardInput, allowed: AllowedFigures, cities: set[str]
    ) -> list[str]:
        """Codes for one sentence; `cities` are those it speaks of (see `_in_context`)."""
        codes = []
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
        for sentence, cities in self._in_context(sentences(text), data.profile):
            found = self._sentence_codes(sentence, data, allowed, cities)
            codes.extend(c for c in found if c not in codes)
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
        kept = sentences(data.answer)
        dropped_price = False
        while True:
            # Dropping a sentence can take away the city a later one pointed back
            # to, so the rest is checked again until nothing more goes.
            passed, dropped = self._keep_allowed(kept, data, allowed)
            dropped_price = dropped_price or dropped
            if passed == kept:
                break
            kept = passed
        limit = self._max_questions(data.phase)
        questions = [i for i, s in enumerate(kept) if "?" in s]
        # Keep the last question: it is usually the one that moves the sale on.
        drop = set(questions[: max(0, len(questions) - limit)])
        kept = [s for i, s in enumerate(kept) if i not in drop]
        if dropped_price:
            # Before a closing question, which should stay last.
            at = len(kept) - 1 if kept and "?" in kept[-1] else len(kept)
            kept.insert(at, self.cfg.unknown_fact_answer)
        text = " ".join(kept).strip()
        if len(text) > self.cfg.max_answer_chars:
            text = self._shorten(kept)
        return text or self.cfg.fallback_answer

    def _keep_allowed(
        self, parts: list[str], data: GuardInput, allowed: AllowedFigures
    ) -> tuple[list[str], bool]:
        """The sentences that break no rule (a repeated greeting cut off the
        sentence it opens), and whether a figure was dropped."""
        kept: list[str] = []
        dropped_figure = False
        for sentence, cities in self._in_context(parts, data.profile):
            bad = self._sentence_codes(sentence, data, allowed, cities)
            if bad == ["greeting_repeated"] and not _SELF_INTRO.search(sentence):
                # Only the greeting is wrong: keep what the sentence says after it.
                sentence = self._without_greeting(sentence)
                bad = self._sentence_codes(sentence, data, allowed, cities) if sentence else bad
            if bad:
                dropped_figure = dropped_figure or bool(set(bad) & _FIGURE_CODES)
                continue
            kept.append(sentence)
        return kept, dropped_figure

    def _shorten(self, parts: list[str]) -> str:
        out = ""
        for part in parts:
            candidate = f"{out} {part}".strip()
            if len(candidate) > self.cfg.max_answer_chars:
                break
            out = candidate
        return out or parts[0][: self.cfg.max_answer_chars].rstrip()
