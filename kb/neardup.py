"""Near-duplicate sections: which sections say what another says.

A KB written by many hands repeats itself: the weekend support hours are told by
four sections in four wordings. A question labelled with one of them is answered by
the others too, so the answer-level benchmark (`salesbot kb equivalents`) counts them
as acceptable, and `salesbot kb lint` tells the editors to merge them.

Only the facts are compared, never what a ranker returns for a question. Each
section becomes the set of its fact lemmas (the indexing analyzer: lemmas, no
stop-words). Two sets are compared by IDF-weighted Jaccard, so that the words every
section has ("wipon", "параметры", "режим") count for little and the subject words
for much. A similar wording is not the same answer when the sections are about
different things told in the same template (the delivery time to Aktau and to
Khromtau, the price of one monoblock and of another), so `S` covers `L` only when
every *marker* of `L` appears in `S` as well: its numbers, its Latin-script names
(models, tariffs) and its proper names (cities). The relation is directed: an
overview that names Standard and Pro covers the section about Pro, not the reverse.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from core.text.morph import morph
from kb.text import analyze, is_latin, lemma
from kb.types import Section

SIMILARITY = 0.30
"""IDF-weighted Jaccard of the fact lemmas from which two sections count as saying
the same; chosen on the company KB by reading pairs (bench/KB_RESULTS.md)."""

COMMON_SHARE = 0.05
"""A lemma in more than this share of the sections never proposes a candidate pair
(it would pair half the KB) and is no marker of a subject; it still counts in the
similarity. In a small KB a lemma in up to `COMMON_MIN` sections is never common."""
COMMON_MIN = 5

NAME_SHARE = 0.25
"""A name in more than this share of the sections (the brand) tells no subject apart
when deciding whether two sections talk about the same thing; tariff and kit names
("Standard", "Pro"), frequent as they are, do."""

_PLUS_NAME = re.compile(r"(\w+)\+")
# A capitalized Cyrillic word; group 1 is set when it opens a sentence, a line or a
# parameter's value (where any word is capitalized).
_CAPITALIZED = re.compile(
    r"(?:(^|[.!?:•—–\-]\s*)|(?<=[\w,;)»\"] ))\b([А-ЯЁ][а-яё]+(?:-[А-ЯЁа-яё]+)?)\b",
    re.MULTILINE,
)
_PROPER = frozenset({"Geox", "Name", "Surn", "Patr", "Orgn", "Trad", "Abbr"})


@dataclass(frozen=True, slots=True)
class Profile:
    """What the comparison sees of one section."""

    topic: str
    category: str
    source: str
    terms: frozenset[str]
    markers: frozenset[str]
    """Terms that tell one subject from another: numbers, Latin names, proper names."""
    subject: frozenset[str]
    """The names (markers other than numbers) of the summary line, what the section is
    about; all its names when the summary line has none."""


@dataclass(frozen=True, slots=True)
class Pair:
    """Two sections with similar facts, `first` < `second` by topic."""

    first: str
    second: str
    similarity: float
    covers_first: bool
    """`second` has every marker of `first` (so it answers what `first` answers)."""
    covers_second: bool


def _is_proper(token: str) -> bool:
    return any(_PROPER & set(p.tag.grammemes) for p in morph().parse(token)[:1])


def _capitalized_names(text: str) -> set[str]:
    """Lemmas of words written with a capital inside a sentence ("доставляем в
    Кызылорду"): the dictionary misses many local place names. At the start of a
    sentence or a parameter's value any word is capitalized, so those do not count."""
    return {
        lemma(m.group(2).lower().replace("ё", "е"))
        for m in _CAPITALIZED.finditer(text)
        if m.group(1) is None
    }


def _markers(text: str) -> tuple[set[str], set[str]]:
    # "Standard+" is another kit than "Standard", but the analyzer drops the plus:
    # such a name is taken whole, and cut from the text the analyzer reads.
    plus = {f"{lemma(m.group(1).lower())}+" for m in _PLUS_NAME.finditer(text)}
    terms: set[str] = set(plus)
    markers: set[str] = plus | _capitalized_names(text)
    for term in analyze(_PLUS_NAME.sub(" ", text)):
        if term.stop:
            continue
        terms.add(term.lemma)
        if term.lemma.isdigit() or is_latin(term.lemma) or _is_proper(term.surface):
            markers.add(term.lemma)
    return terms, markers


def profile(section: Section) -> Profile:
    terms, markers = _markers(section.facts)
    _, summary = _markers(section.facts.split("\n", 1)[0])
    names = {m for m in summary if not m.isdigit()} or {m for m in markers if not m.isdigit()}
    return Profile(
        section.topic,
        section.category,
        section.source,
        frozenset(terms),
        frozenset(markers),
        frozenset(names),
    )


class NearDuplicates:
    """Pairwise fact similarity over a KB, with the markers that veto an equivalence."""

    def __init__(
        self, sections: Sequence[Section], threshold: float = SIMILARITY, floor: float | None = None
    ):
        self.threshold = threshold
        self.floor = threshold if floor is None else min(floor, threshold)
        """Pairs are kept from this similarity (the lint looks for contradictions
        among less similar pairs too); equivalents and duplicates need `threshold`."""
        self.profiles = {s.topic: profile(s) for s in sections}
        df: dict[str, int] = defaultdict(int)
        for p in self.profiles.values():
            for term in p.terms:
                df[term] += 1
        n = max(1, len(self.profiles))
        self.idf = {term: math.log(1 + n / count) for term, count in df.items()}
        # Markers that half the KB carries ("wipon", "1") tell no subject apart.
        self._limit = max(COMMON_SHARE * n, COMMON_MIN)
        self._common = {term for term, count in df.items() if count > self._limit}
        self._brand = {term for term, count in df.items() if count > NAME_SHARE * n}
        self.pairs = self._pairs()
        self._covered_by: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for pair in self.pairs:
            if pair.similarity < self.threshold:
                continue
            if pair.covers_first:
                self._covered_by[pair.first].append((pair.second, pair.similarity))
            if pair.covers_second:
                self._covered_by[pair.second].append((pair.first, pair.similarity))

    def similarity(self, a: str, b: str) -> float:
        first, second = self.profiles[a].terms, self.profiles[b].terms
        union = sum(self.idf[t] for t in first | second)
        return sum(self.idf[t] for t in first & second) / union if union else 0.0

    def covers(self, label: str, other: str) -> bool:
        """`other` names every subject marker of `label`."""
        wanted = self.profiles[label].markers - self._common
        return wanted <= self.profiles[other].terms

    def same_subject(self, a: str, b: str) -> bool:
        """Each names what the other is about (the models, tariffs, cities of its
        summary line, the brand aside): the two talk about the same thing, whatever
        figures they give. A monoblock's section naming the CPU "i5" is not about
        the POS i5, since the POS i5's section does not name that monoblock."""
        first, second = self.profiles[a], self.profiles[b]
        return first.subject - self._brand <= second.terms and (
            second.subject - self._brand <= first.terms
        )

    def _pairs(self) -> list[Pair]:
        postings: dict[str, list[str]] = defaultdict(list)
        for p in self.profiles.values():
            for term in p.terms:
                postings[term].append(p.topic)
        pairs: list[Pair] = []
        for topic in sorted(self.profiles):
            candidates: set[str] = set()
            for term in self.profiles[topic].terms:
                if len(postings[term]) <= self._limit:
                    candidates.update(postings[term])
            for other in sorted(c for c in candidates if c > topic):
                similarity = self.similarity(topic, other)
                if similarity >= self.floor:
                    pairs.append(
                        Pair(
                            topic,
                            other,
                            round(similarity, 4),
                            self.covers(topic, other),
                            self.covers(other, topic),
                        )
                    )
        return pairs

    def equivalents(self, topic: str) -> list[str]:
        """Sections that answer what `topic` answers, most similar first."""
        found = sorted(self._covered_by.get(topic, []), key=lambda item: (-item[1], item[0]))
        return [other for other, _ in found]

    def duplicates(self) -> list[Pair]:
        """Pairs that cover each other: the same thing said twice."""
        return [
            p
            for p in self.pairs
            if p.similarity >= self.threshold and p.covers_first and p.covers_second
        ]


def acceptable_topics(detector: NearDuplicates, topics: Iterable[str]) -> dict[str, list[str]]:
    """Each label with its equivalents after it; an unknown label stays alone."""
    return {
        topic: [topic, *detector.equivalents(topic)] if topic in detector.profiles else [topic]
        for topic in topics
    }
