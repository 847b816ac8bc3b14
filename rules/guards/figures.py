"""The figures this turn's KB facts allow an answer to name, and where: every
amount and percentage of the facts, valid anywhere or only for the cities a
fact scopes it to ("В Шымкенте … скидка 30%", "• Город: Алматы"), each amount
with the periods the facts give it."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from core.text.cities import cities_in, only_cities
from rules.guards.money import numbers_in, percents, priced_amounts

_DIGIT = re.compile(r"\d")


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
