"""Lexical retrieval: BM25 (bm25s) over pymorphy3 lemmas, several views of a section.

Each section is indexed four ways, each a bm25s index over the same documents:

* ``head`` — topic words, keywords and the summary line that opens the facts: what
  the section is *about*;
* ``body`` — the facts: what it *says*;
* ``pairs`` — adjacent lemma pairs of head and body, rewarding a phrase ("розничный
  налог") over its words scattered through the text;
* ``grams`` — character 4-grams of the lemmas, which meet derivations the lemmatizer
  keeps apart ("оплата" / "заплатить", "проверка" / "проверяется") and typos.

Query terms are expanded before scoring: every content word of the query is a
*position* with weighted alternatives (the lemma, its domain synonyms, its
transliteration, and for a word neither the KB nor the dictionary knows, the
nearest KB term by edit distance). A position scores with its best alternative, so
synonyms never count twice.

Ranking mixes the views linearly, each normalized by the query's ideal score, plus
a category prior learned from the KB's own text (naive Bayes: which category's
vocabulary the question speaks). Relevance, used for the floor, is the
IDF-weighted share of the query's positions a section contains (`coverage`):
unlike raw BM25 it is comparable across queries, and a question about something
the KB never mentions covers nothing.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import bm25s
import numpy as np

from kb.loader import SynonymGroups, bundled_synonyms
from kb.text import (
    STOPWORDS,
    Term,
    analyze,
    index_terms,
    is_known_word,
    is_latin,
    lemma,
    to_cyrillic,
    to_latin,
)
from kb.types import Section

LEXICAL_VERSION = "1"
"""Bump when indexing code changes; view parameters are fingerprinted on their own."""

SYNONYM_WEIGHT = 0.6
TRANSLIT_WEIGHT = 0.9
REFLEXIVE_WEIGHT = 0.8
"""Weight of the base verb a reflexive query verb also stands for."""
FUZZY_WEIGHT = (1.0, 0.8, 0.6)
"""Weight of a typo correction by edit distance (0, 1, 2)."""
MIN_FUZZY_LEN = 4
OOV_WORD_FACTOR = 1.5
"""Weight of a dictionary word the KB lacks, relative to the KB's rarest term."""
GRAM = 4


@dataclass(frozen=True)
class ViewSpec:
    """One bm25s index over the sections and its weight in the ranking mix."""

    name: str
    weight: float
    k1: float = 1.2
    b: float = 0.75


# Weights tuned on a random half of the dev questions, checked on the other half
# (`python -m bench.kb_eval`); rounded, since the optimum is flat.
VIEWS: tuple[ViewSpec, ...] = (
    ViewSpec("head", 0.5, b=0.5),
    ViewSpec("body", 2.0),
    ViewSpec("pairs", 1.5),
    ViewSpec("grams", 5.0),
)
COVERAGE_WEIGHT = 0.8
CATEGORY_WEIGHT = 0.1


def index_fingerprint() -> str:
    """The index-time parameters (bm25s version, views, gram size) for the cache key."""
    params = [LEXICAL_VERSION, bm25s.__version__, GRAM, *((v.name, v.k1, v.b) for v in VIEWS)]
    return ",".join(map(str, params))


def summary_line(facts: str) -> str:
    """The opening line of the facts, which in this KB format says what the section is."""
    for line in facts.splitlines():
        if line.strip():
            return line
    return ""


def topic_words(topic: str) -> str:
    # Topic ids are slugs like "equipment_specs_quadro_2143": the words help
    # (quadro), the serial number does not.
    return " ".join(w for w in topic.split("_") if not w.isdigit())


def _pairs(lemmas: Sequence[str]) -> list[str]:
    return [f"{a} {b}" for a, b in itertools.pairwise(lemmas) if a != b]


@functools.lru_cache(maxsize=100_000)
def char_grams(term: str) -> tuple[str, ...]:
    padded = f"<{term}>"
    return tuple(padded[i : i + GRAM] for i in range(max(1, len(padded) - GRAM + 1)))


def section_tokens(section: Section) -> dict[str, list[str]]:
    """The analysed fields of a section: ``head`` and ``body`` lemmas and ``pairs``.

    Pairs are taken within one keyword or one line, never across, so two unrelated
    keywords do not make a phrase.
    """
    head_parts = [topic_words(section.topic), *section.keywords, summary_line(section.facts)]
    head: list[str] = []
    pairs: list[str] = []
    for part in head_parts:
        lemmas = index_terms(part)
        head.extend(lemmas)
        pairs.extend(_pairs(lemmas))
    body: list[str] = []
    for line in section.facts.splitlines():
        lemmas = index_terms(line)
        body.extend(lemmas)
        pairs.extend(_pairs(lemmas))
    return {"head": head, "body": body, "pairs": pairs}


def damerau_levenshtein(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance, or limit + 1 once it exceeds the limit."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


class FuzzyVocabulary:
    """Nearest vocabulary terms by edit distance, SymSpell-style: every term and its
    one-letter deletions point back to the term, so a lookup touches a few dict keys
    instead of scanning the vocabulary."""

    def __init__(self, vocabulary: Iterable[str], frequency: dict[str, int]):
        self._frequency = frequency
        self._by_key: dict[str, list[str]] = {}
        for term in vocabulary:
            if len(term) < MIN_FUZZY_LEN or not term.isalpha():
                continue
            for key in (term, *_deletes(term)):
                self._by_key.setdefault(key, []).append(term)

    def nearest(self, word: str) -> tuple[str, int] | None:
        """The closest term (ties: the more frequent) within 1 edit, 2 for long words."""
        limit = 1 if len(word) < 8 else 2
        candidates: set[str] = set()
        for key in (word, *_deletes(word)):
            candidates.update(self._by_key.get(key, ()))
        best: tuple[int, int, str] | None = None
        for term in candidates:
            distance = damerau_levenshtein(word, term, limit)
            if distance > limit:
                continue
            rank = (distance, -self._frequency.get(term, 0), term)
            if best is None or rank < best:
                best = rank
        return None if best is None else (best[2], best[0])


@functools.cache
def _stopword_typos() -> FuzzyVocabulary:
    return FuzzyVocabulary(STOPWORDS, {})


@dataclass
class QueryPosition:
    """One content word of the query and the terms that may stand for it."""

    text: str
    lemma: str
    alternatives: dict[str, float] = field(default_factory=dict)

    def add(self, term: str, weight: float) -> None:
        if weight > self.alternatives.get(term, 0.0):
            self.alternatives[term] = weight


Phrases = dict[tuple[str, ...], list[tuple[str, ...]]]


def synonym_phrases(groups: SynonymGroups) -> Phrases:
    """Each synonym phrase (a lemma tuple) → the other phrases of its groups."""
    index: Phrases = {}
    for group in groups:
        phrases = [tuple(lemma(w) for w in member.split()) for member in group]
        for phrase in phrases:
            index.setdefault(phrase, []).extend(p for p in phrases if p != phrase)
    return index


@dataclass
class Scores:
    """Per-section results of one query."""

    ranking: np.ndarray
    """The mixed ranking score (unbounded, only its order matters)."""
    coverage: np.ndarray
    """Relevance in [0, 1]: the weighted share of the query a section contains."""


class LexicalIndex:
    """bm25s indexes over the views of the sections, and the query expansion.

    Building analyses every section (pymorphy3: about a second on the real KB) and
    indexes the views; `save`/`load` keep both on disk so a restart skips that.
    """

    def __init__(
        self,
        tokens: dict[str, list[list[str]]],
        categories: Sequence[str],
        retrievers: dict[str, bm25s.BM25] | None = None,
        synonyms: SynonymGroups | None = None,
    ):
        self.tokens = tokens
        self.categories = list(categories)
        self.n_docs = len(self.categories)
        self._bm25 = retrievers if retrievers is not None else self._index_views(tokens)

        df: Counter[str] = Counter()
        for head, body in zip(tokens["head"], tokens["body"], strict=True):
            df.update(set(head) | set(body))
        self.frequency: dict[str, int] = dict(df)
        self.vocabulary = frozenset(df)
        self._latin_vocab = frozenset(t for t in self.vocabulary if is_latin(t))
        self._fuzzy = FuzzyVocabulary(self.vocabulary, self.frequency)
        self._presence = self._presence_lists(tokens)
        self._category_prior(tokens, self.categories)
        self.use_synonyms(bundled_synonyms() if synonyms is None else synonyms)

    def use_synonyms(self, groups: SynonymGroups) -> None:
        """Set the synonym groups queries are expanded with (query time only: the
        index does not change, so a cached index takes the KB's current groups)."""
        self._phrases = synonym_phrases(groups)
        self._longest_phrase = max((len(p) for p in self._phrases), default=1)

    @staticmethod
    def _index_views(tokens: dict[str, list[list[str]]]) -> dict[str, bm25s.BM25]:
        views: dict[str, list[list[str]]] = {
            "head": tokens["head"],
            "body": tokens["body"],
            "pairs": tokens["pairs"],
            "grams": [
                [g for term in head + body for g in char_grams(term)]
                for head, body in zip(tokens["head"], tokens["body"], strict=True)
            ],
        }
        retrievers: dict[str, bm25s.BM25] = {}
        for spec in VIEWS:
            retriever = bm25s.BM25(k1=spec.k1, b=spec.b, method="lucene")
            # An empty document would shift bm25s's numbering; a token no query can
            # produce keeps every section at its place.
            corpus = [doc or ["\x00"] for doc in views[spec.name]]
            retriever.index(corpus, show_progress=False)
            retrievers[spec.name] = retriever
        return retrievers

    @classmethod
    def build(
        cls, sections: Sequence[Section], synonyms: SynonymGroups | None = None
    ) -> LexicalIndex:
        return cls(cls.tokenize(sections), [s.category for s in sections], synonyms=synonyms)

    @staticmethod
    def tokenize(sections: Sequence[Section]) -> dict[str, list[list[str]]]:
        """The analysed sections: the expensive part of building."""
        tokens: dict[str, list[list[str]]] = {"head": [], "body": [], "pairs": []}
        for section in sections:
            for name, values in section_tokens(section).items():
                tokens[name].append(values)
        return tokens

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        payload = {"tokens": self.tokens, "categories": self.categories}
        (directory / "tokens.json").write_text(json.dumps(payload, ensure_ascii=False), "utf-8")
        for name, retriever in self._bm25.items():
            retriever.save(str(directory / name), show_progress=False)

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        payload = json.loads((directory / "tokens.json").read_text("utf-8"))
        retrievers = {
            spec.name: bm25s.BM25.load(str(directory / spec.name), show_progress=False)
            for spec in VIEWS
        }
        return cls(payload["tokens"], payload["categories"], retrievers)

    def _presence_lists(self, tokens: dict[str, list[list[str]]]) -> dict[str, np.ndarray]:
        docs: dict[str, list[int]] = {}
        for doc_id, (head, body) in enumerate(zip(tokens["head"], tokens["body"], strict=True)):
            for term in set(head) | set(body):
                docs.setdefault(term, []).append(doc_id)
        return {term: np.asarray(ids, dtype=np.int32) for term, ids in docs.items()}

    def _category_prior(
        self, tokens: dict[str, list[list[str]]], categories: Sequence[str]
    ) -> None:
        names = sorted(set(categories))
        self._doc_category = np.asarray([names.index(c) for c in categories], dtype=np.int32)
        vocab_index = {term: i for i, term in enumerate(sorted(self.vocabulary))}
        counts = np.full((len(names), len(vocab_index)), 0.1, dtype=np.float64)
        for doc_id, (head, body) in enumerate(zip(tokens["head"], tokens["body"], strict=True)):
            ids = np.fromiter((vocab_index[t] for t in head + body), dtype=np.int64)
            np.add.at(counts[self._doc_category[doc_id]], ids, 1.0)
        self._log_term_given_category = np.log(counts / counts.sum(axis=1, keepdims=True))
        sizes = np.bincount(self._doc_category, minlength=len(names)).astype(np.float64)
        self._log_category = np.log(sizes / sizes.sum())
        self._vocab_index = vocab_index

    def _lucene_idf(self, df: int) -> float:
        return math.log(1.0 + (self.n_docs - df + 0.5) / (df + 0.5))

    def idf(self, term: str) -> float:
        """IDF over head and body together: how rare a term is anywhere in the KB."""
        return self._lucene_idf(self.frequency.get(term, 0))

    # query side

    def expand(self, query: str) -> list[QueryPosition]:
        """The content words of a query with their weighted alternatives."""
        terms = analyze(query)
        positions: list[QueryPosition] = []
        by_lemma: dict[str, QueryPosition] = {}
        for term in terms:
            if term.stop or term.lemma in by_lemma:
                continue
            position = QueryPosition(term.surface, term.lemma)
            position.add(term.lemma, 1.0)
            self._add_base_verb(term.lemma, position)
            if term.lemma not in self.vocabulary:
                self._add_spelling_variants(term, position)
                if not position.alternatives:
                    continue
            by_lemma[term.lemma] = position
            positions.append(position)
        self._add_synonyms(terms, by_lemma, positions)
        return positions

    def _add_base_verb(self, lemma_: str, position: QueryPosition) -> None:
        """A reflexive verb also stands for its base verb when the KB has it
        ("как списывается товар" → списывать): a customer writes the passive
        where the KB writes the active. Not the other way round: a base verb
        widened to its reflexive measured as a loss on the dev set."""
        if lemma_.endswith("ся") and len(lemma_) > 5:
            base = lemma_[:-2]
            if base in self.vocabulary:
                position.add(base, REFLEXIVE_WEIGHT)

    def _add_spelling_variants(self, term: Term, position: QueryPosition) -> None:
        latin = is_latin(term.surface)
        other = lemma(to_cyrillic(term.surface)) if latin else to_latin(term.lemma)
        if other in (self.vocabulary if latin else self._latin_vocab):
            position.add(other, TRANSLIT_WEIGHT)
            return
        if term.surface.isdigit() or len(term.surface) < MIN_FUZZY_LEN:
            return
        # A dictionary word absent from the KB is a topic the KB does not cover,
        # not a typo: correcting "погода" to some KB word would invent relevance.
        if not latin and is_known_word(term.surface):
            return
        if _stopword_typos().nearest(term.surface) is not None:
            # "сколко", "пожалуста": a misspelt filler word, not content.
            position.alternatives.clear()
            return
        for word in dict.fromkeys((term.lemma, term.surface)):
            found = self._fuzzy.nearest(word)
            if found is not None:
                position.add(found[0], FUZZY_WEIGHT[found[1]])
                return
        found = self._fuzzy.nearest(other)
        if found is not None:
            position.add(found[0], FUZZY_WEIGHT[found[1]] * TRANSLIT_WEIGHT)

    def _add_synonyms(
        self,
        terms: list[Term],
        by_lemma: dict[str, QueryPosition],
        positions: list[QueryPosition],
    ) -> None:
        phrases = self._phrases
        lemmas = [t.lemma for t in terms]
        longest = self._longest_phrase
        for start in range(len(lemmas)):
            for size in range(longest, 0, -1):
                phrase = tuple(lemmas[start : start + size])
                if len(phrase) < size or phrase not in phrases:
                    continue
                # A phrase's synonyms join its first content word's position, or
                # make one when the phrase is all stop-words.
                content = [w for w in phrase if w in by_lemma]
                key = content[0] if content else " ".join(phrase)
                position = by_lemma.get(key)
                if position is None:
                    position = QueryPosition(key, key)
                    by_lemma[key] = position
                    positions.append(position)
                for other in phrases[phrase]:
                    for word in other:
                        if word in self.vocabulary:
                            position.add(word, SYNONYM_WEIGHT)
                break

    # scoring

    def position_weight(self, position: QueryPosition) -> float:
        """How much a query position counts: the IDF of its best-known alternative.

        A word the KB never uses counts as more than its rarest term, and a real
        dictionary word ("погода", "фильм") more than a garbled one: a question
        about something the KB does not cover must not pass the floor on its
        filler ("…на вечер") alone.
        """
        known = [self.idf(t) for t in position.alternatives if t in self.vocabulary]
        if known:
            return max(known)
        unknown = self._lucene_idf(0)
        if position.text.isalpha() and is_known_word(position.text):
            return unknown * OOV_WORD_FACTOR
        return unknown

    def _view_scores(self, view: str, terms: Sequence[str]) -> np.ndarray | None:
        retriever = self._bm25[view]
        ids = [retriever.vocab_dict[t] for t in terms if t in retriever.vocab_dict]
        if not ids:
            return None
        return np.asarray(retriever.get_scores_from_ids(ids), dtype=np.float32)

    def category_posterior(self, positions: Sequence[QueryPosition]) -> np.ndarray:
        """P(category | query) by naive Bayes over the KB's own text, per category."""
        log_p = self._log_category.copy()
        for position in positions:
            ids = [self._vocab_index[t] for t in position.alternatives if t in self._vocab_index]
            if ids:
                log_p += self._log_term_given_category[:, ids].max(axis=1)
        posterior = np.exp(log_p - log_p.max())
        return posterior / posterior.sum()

    def score(self, query: str | Sequence[QueryPosition]) -> Scores:
        positions = self.expand(query) if isinstance(query, str) else list(query)
        n = self.n_docs
        ranking = np.zeros(n, dtype=np.float32)
        coverage = np.zeros(n, dtype=np.float32)
        if not positions:
            return Scores(ranking, coverage)
        weights = [self.position_weight(p) for p in positions]
        # Every view is divided by the query's ideal value (each position matched
        # once in a document of average length ≈ its IDF), so views and queries
        # share one scale and the weights mean the same for short and long queries.
        total = float(sum(weights))
        term_views = ("head", "body")
        for position, weight in zip(positions, weights, strict=True):
            matched = np.zeros(n, dtype=np.float32)
            best = {view: np.zeros(n, dtype=np.float32) for view in term_views}
            for term, alt_weight in position.alternatives.items():
                docs = self._presence.get(term)
                if docs is not None:
                    np.maximum.at(matched, docs, np.float32(alt_weight))
                for view in term_views:
                    scores = self._view_scores(view, [term])
                    if scores is not None:
                        np.maximum(best[view], scores * np.float32(alt_weight), out=best[view])
            coverage += np.float32(weight) * matched
            for spec in VIEWS:
                if spec.name in best:
                    ranking += np.float32(spec.weight / total) * best[spec.name]
            grams = char_grams(position.lemma)
            gram_scores = self._view_scores("grams", grams)
            if gram_scores is not None:
                ranking += np.float32(self._weight("grams") / (total * len(grams))) * gram_scores
        query_lemmas = [p.lemma for p in positions if " " not in p.lemma]
        pair_scores = self._view_scores("pairs", _pairs(query_lemmas))
        if pair_scores is not None:
            ranking += np.float32(self._weight("pairs") / total) * pair_scores
        coverage /= np.float32(total)
        ranking += np.float32(COVERAGE_WEIGHT) * coverage
        posterior = self.category_posterior(positions)
        ranking += np.float32(CATEGORY_WEIGHT) * posterior[self._doc_category].astype(np.float32)
        return Scores(ranking, coverage)

    @staticmethod
    def _weight(view: str) -> float:
        return next(spec.weight for spec in VIEWS if spec.name == view)
