"""Which profile fields a sentence asks the customer for, read by meaning.

A sentence asks for something when it is a question or a request ("Подскажите…",
"Оставьте…"). What it asks for is its focus: the noun an interrogative pronoun
agrees with ("Из какого вы города?", "В каком городе ваш магазин?" asks for the
city, not the business; "Какой у вас магазин?" for the business), or the first
word after the interrogative or the request verb that names a field ("Чем вы
занимаетесь?", "Где вы находитесь?", "Сколько у вас точек?"). Every word is read
as its lemma (pymorphy3), so any inflection and word order counts; the fields
are known by a few lemmas each, not by phrases.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from core.text.morph import morph, word_set
from rules.profile import is_empty


@dataclass(frozen=True, slots=True)
class FieldCue:
    field: str
    lemmas: frozenset[str]
    only_after: frozenset[str] = frozenset()
    """Interrogatives the cue needs ("сколько" for a count); empty: any."""


def _cue(field: str, lemmas: str, only_after: str = "") -> FieldCue:
    return FieldCue(field, frozenset(lemmas.split()), frozenset(only_after.split()))


# Specific cues first: "Сколько у вас магазинов?" asks for a count, not a business.
CUES: tuple[FieldCue, ...] = (
    _cue("stores_count", "магазин точка филиал отдел аптека", "сколько"),
    _cue("contact_name", "имя звать обращаться"),
    _cue("phone", "телефон номер контакт связаться позвонить перезвонить ватсап whatsapp"),
    _cue("city", "город населённый регион находиться располагаться расположить откуда"),
    _cue(
        "business_type",
        "бизнес магазин заниматься продавать торговать торговля сфера деятельность "
        "заведение профиль",
    ),
    _cue("current_tools", "пользоваться вести"),
    _cue("company_name", "компания фирма", "как"),
)
_FIELD_LEMMAS = frozenset(lemma for cue in CUES for lemma in cue.lemmas)
# Interrogatives whose focus is the noun they agree with.
_AGREEING = frozenset({"какой", "каков", "который", "чей"})
# "чем" is read as the conjunction first ("больше, чем"); as a question word it asks.
_INTERROGATIVES = _AGREEING | frozenset(
    {"где", "откуда", "куда", "что", "чем", "как", "сколько", "кто"}
)
# Verbs that ask the reader for information when in the imperative.
_REQUEST_VERBS = word_set(
    """подсказать сказать написать указать сообщить оставить назвать уточнить скинуть
    прислать отправить продиктовать"""
)
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)?")
_CLAUSE_END = frozenset(",;:—–-()")
_CASES = {"loc2": "loct", "gen2": "gent", "acc2": "accs", "gen1": "gent", "loc1": "loct"}


_Forms = tuple[tuple[str | None, str | None, str | None], ...]


@dataclass(frozen=True, slots=True)
class _Token:
    lemma: str
    noun: bool
    clause: int
    """How many clause breaks precede the word."""
    forms: _Forms
    """(case, number, gender) of each noun or adjective reading."""
    imperative: bool
    verb: bool


@functools.lru_cache(maxsize=20_000)
def _read(word: str) -> tuple[str, bool, _Forms, bool, bool]:
    parses = morph().parse(word.lower().replace("ё", "е"))
    best = parses[0]
    lemma = best.normal_form.replace("ё", "е")
    forms = tuple(
        (_CASES.get(str(p.tag.case), p.tag.case), p.tag.number, p.tag.gender)
        for p in parses
        if p.tag.POS in {"NOUN", "ADJF"}
    )
    imperative = any("impr" in p.tag and p.normal_form in _REQUEST_VERBS for p in parses)
    noun = any(p.tag.POS == "NOUN" for p in parses[:2])
    verb = best.tag.POS in {"VERB", "INFN"}
    return lemma, noun, forms, imperative, verb


def _tokens(sentence: str) -> list[_Token]:
    out: list[_Token] = []
    clause = 0
    last = 0
    for match in _WORD.finditer(sentence):
        clause += sum(ch in _CLAUSE_END for ch in sentence[last : match.start()])
        last = match.end()
        lemma, noun, forms, imperative, verb = _read(match.group(0))
        out.append(_Token(lemma, noun, clause, forms, imperative, verb))
    return out


def _agree(a: _Token, b: _Token) -> bool:
    """Whether some reading of `a` agrees with some reading of `b` in case and
    number (and gender in the singular)."""
    return any(
        ca == cb and na == nb and (na == "plur" or ga is None or gb is None or ga == gb)
        for ca, na, ga in a.forms
        for cb, nb, gb in b.forms
        if ca is not None
    )


def _field_of(lemma: str, interrogative: str | None) -> str | None:
    for cue in CUES:
        if lemma in cue.lemmas and (not cue.only_after or interrogative in cue.only_after):
            return cue.field
    return None


def _focus(tokens: list[_Token], at: int) -> _Token | None:
    """The word the question or request starting at `at` is about."""
    anchor = tokens[at]
    rest = tokens[at + 1 :]
    if anchor.lemma in _AGREEING:
        at_noun = next((i for i, t in enumerate(rest) if t.noun and _agree(anchor, t)), None)
        if at_noun is not None:
            agreed = rest[at_noun]
            if agreed.lemma in _FIELD_LEMMAS:
                return agreed
            # "Какой у вас вид бизнеса?": the noun it governs in the genitive.
            following = rest[at_noun + 1] if at_noun + 1 < len(rest) else None
            if (
                following is not None
                and following.lemma in _FIELD_LEMMAS
                and any(c == "gent" for c, _, _ in following.forms)
            ):
                return following
        # "Какой программой вы пользуетесь?": the verb says what is asked; a
        # noun elsewhere ("Какой тариф подойдёт для магазина?") does not.
        same = (t for t in rest if t.clause == anchor.clause and not t.noun)
        return next((t for t in same if t.lemma in _FIELD_LEMMAS), None)
    if anchor.lemma in _INTERROGATIVES:
        if anchor.lemma in _FIELD_LEMMAS:
            return anchor  # "Откуда вы?"
        same = (t for t in rest if t.clause == anchor.clause)
        return next((t for t in same if t.lemma in _FIELD_LEMMAS), None)
    # A request verb: its object, a noun in the accusative ("Оставьте номер").
    return next(
        (
            t
            for t in rest
            if t.lemma in _FIELD_LEMMAS and t.noun and any(c == "accs" for c, _, _ in t.forms)
        ),
        None,
    )


def asked_fields(sentence: str) -> set[str]:
    """The profile fields `sentence` asks the customer for (empty for a statement)."""
    tokens = _tokens(sentence)
    requests = [i for i, t in enumerate(tokens) if t.imperative]
    # "Напишите, в каком вы городе": a request makes its clause's question one.
    question = "?" in sentence or bool(requests)
    anchors = [i for i, t in enumerate(tokens) if question and t.lemma in _INTERROGATIVES]
    anchors += requests
    fields: set[str] = set()
    for at in sorted(anchors):
        focus = _focus(tokens, at)
        interrogative = tokens[at].lemma if tokens[at].lemma in _INTERROGATIVES else None
        field = _field_of(focus.lemma, interrogative) if focus else None
        if field:
            fields.add(field)
    if question and not anchors and not any(t.verb for t in tokens):
        # "Ваш город?": a bare noun phrase asked about.
        nouns = (t for t in tokens if t.noun and t.lemma in _FIELD_LEMMAS)
        first = next(nouns, None)
        field = _field_of(first.lemma, None) if first else None
        if field:
            fields.add(field)
    return fields


def reasks_known(sentence: str, profile: Mapping[str, Any]) -> bool:
    """Whether `sentence` asks again for a field the profile already has."""
    return any(not is_empty(profile.get(field)) for field in asked_fields(sentence))
