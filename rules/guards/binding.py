"""Whether an amount is named with the product the facts give it for: "Комплект
Standard — 360 000 ₸" names a real amount (the PRO kit's) with the wrong kit.

A product in an answer is a name written in Latin letters or as an acronym
("Standard+", "PRO", "POS DUO", "УКМ") with the noun before it when there is one
("комплект", "тариф", "модуль"). The product an amount is attached to is the
name nearest before it since the previous amount, else the nearest after it
before the next amount, else the nearest before it. The amount and the product
belong together when one statement of the facts holds both: a line, or a part of a line between
semicolons ("«Тариф Standard» — 220 000 ₸; «Комплект Standard» — 168 000 ₸"),
read with its section's first line when it names no product itself ("• Цена:
360 000 ₸" under "Комплект PRO — …"). A name the facts never mention is not
judged here."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rules.guards.lemmas import Word, words
from rules.guards.money import digits_for_words, money_spans, numbers_in


@dataclass(frozen=True, slots=True)
class Product:
    name: str
    """The name's last word, lower case ("standard+", "pro", "duo")."""
    kind: str | None
    """The lemma of the noun written before the name ("комплект"), if any."""


def _is_name(word: Word) -> bool:
    if word.pos == "LATN":
        return True
    return len(word.surface) >= 2 and word.surface.isupper() and word.surface.isalpha()


def _products(ws: Sequence[Word], text: str) -> list[tuple[int, int, Product]]:
    """(start, end, product) of every product name in `ws` (the words of `text`)."""
    out: list[tuple[int, int, Product]] = []
    i = 0
    while i < len(ws):
        if not _is_name(ws[i]):
            i += 1
            continue
        j = i
        while j + 1 < len(ws) and _is_name(ws[j + 1]):
            j += 1
        before = ws[i - 1] if i > 0 else None
        # The kind is the noun right before the name: "комплект PRO", "«Тариф Pro»",
        # not "(… принтер этикеток), PRO".
        kind = None
        if before is not None and before.pos == "NOUN":
            kind = None if text[before.end : ws[i].start].strip(" «\"'") else before.lemma
        out.append((ws[i].start, ws[j].end, Product(ws[j].lemma, kind)))
        i = j + 1
    return out


@dataclass(frozen=True, slots=True)
class _Statement:
    """One amount of the facts with the product it is given for."""

    amount: int
    product: Product
    lemmas: frozenset[str]
    """The words from the previous amount to this one (and the section's first
    line when the line names no product)."""


def _attach(text: str) -> list[tuple[int, Product | None, int, int, list[Word]]]:
    """Each amount of `text` (any number of three digits and more: a fact may put the
    currency in a header) with its product, its span and the words before it."""
    ws = words(text)
    products = _products(ws, text)
    spans = [(value, start, end) for value, start, end in _numbers(text)]
    out = []
    for i, (value, start, end) in enumerate(spans):
        prev_end = spans[i - 1][2] if i else 0
        next_start = spans[i + 1][1] if i + 1 < len(spans) else len(text)
        product = _attached(start, end, prev_end, next_start, products)
        segment = [w for w in ws if prev_end <= w.start < end]
        out.append((value, product, start, end, segment))
    return out


_ANY_NUMBER = re.compile(r"(?<![\d.,])\d{1,3}(?:[ \u00a0\u202f.]\d{3})+|\d{3,}")


def _numbers(text: str) -> list[tuple[int, int, int]]:
    out = []
    for m in _ANY_NUMBER.finditer(text):
        out.append((next(iter(numbers_in([m.group(0)]))), m.start(), m.end()))
    return out


@functools.lru_cache(maxsize=4096)
def _statements(fact: str) -> tuple[_Statement, ...]:
    lines = [line for line in fact.splitlines() if line.strip()]
    if not lines:
        return ()
    header_ws = words(lines[0])
    header_products = _products(header_ws, lines[0])
    out = []
    for line in lines:
        for value, product, _, _, segment in _attach(line):
            lemmas = {w.lemma for w in segment}
            if product is None and header_products:
                product = header_products[0][2]
                lemmas |= {w.lemma for w in header_ws}
            if product is not None:
                out.append(_Statement(value, product, frozenset(lemmas)))
    return tuple(out)


def _same(product: Product, given: _Statement) -> bool:
    if product.name != given.product.name:
        return False
    # A fact that names no kind ("• Lite — 150 000 ₸" under "Тарифы") cannot
    # tell a tariff from a kit of the same name.
    kinds = (None, given.product.kind)
    return product.kind in kinds or given.product.kind is None or product.kind in given.lemmas


def _belongs(amount: int, product: Product, statements: Sequence[_Statement]) -> bool | None:
    """True/False when the facts give `amount` for `product` / only for others;
    None when they cannot tell (the name or the amount is not in the facts)."""
    if not any(s.product.name == product.name for s in statements):
        return None
    holding = [s for s in statements if s.amount == amount]
    if not holding:
        return None
    return any(_same(product, s) for s in holding)


def _attached(
    start: int, end: int, prev_end: int, next_start: int, products: list[tuple[int, int, Product]]
) -> Product | None:
    before = [p for s, e, p in products if prev_end <= s and e <= start]
    if before:
        return before[-1]
    after = [p for s, e, p in products if end <= s and e <= next_start]
    if after:
        return after[0]
    # "ТИС — 22 084 ₸ в месяц, всего 265 000 ₸ в год": the same product still.
    earlier = [p for s, e, p in products if e <= start]
    return earlier[-1] if earlier else None


def misattributed(sentence: str, facts: Iterable[str]) -> list[int]:
    """The amounts of `sentence` named with a product the facts give them not for."""
    text = digits_for_words(sentence)
    spans = money_spans(text)
    if not spans:
        return []
    statements = [s for fact in facts for s in _statements(fact)]
    products = _products(words(text), text)
    wrong = []
    for i, (amount, _, start, end) in enumerate(spans):
        prev_end = spans[i - 1][3] if i else 0
        next_start = spans[i + 1][2] if i + 1 < len(spans) else len(text)
        product = _attached(start, end, prev_end, next_start, products)
        if product is not None and _belongs(amount, product, statements) is False:
            wrong.append(amount)
    return wrong
