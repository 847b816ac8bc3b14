"""Spoken phone numbers, payment card numbers and IINs masked in a transcript.

Whisper writes a dictated number as digits ("8 701 234-56-78", "87012345678"),
as Russian or Kazakh words ("восемь, семьсот один, …", "сегіз, жеті жүз бір, …")
or as a mix. Digit groups and number words that follow one another with only
spaces, dashes or brackets between them (commas too, between groups of up to three
digits) form a run; a run of at least `MIN_DIGITS` digits is personal data and is
replaced by a mask:

- 12 digits: an IIN (checksum or not: a misheard digit must not unmask it);
- 13–19 digits that pass the Luhn check or are grouped 4-4-4-4: a card;
- any other run: a phone number (local numbers have 7 digits).

Amounts are left alone: a group followed by a currency or measure word (with the
thousands groups before it: "1 200 000 тенге", "екі жүз теңге"), groups joined by
тысяча, миллион or мың ("две тысячи сто", "екі мың бес жүз"), and a bare
thousands-grouped number below a billion.

A transcript's runs are found on the dialogue's whole text (`redact_segments`): a
number said across two of Whisper's segments is masked in each of them, in the
segment's text and in its words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Literal

from salescontrol.pipeline.asr.numbers import LONGEST_GROUP, is_multiplier, parse_group
from salescontrol.pipeline.messages import TranscriptSegment, Word

MIN_DIGITS = 7
Kind = Literal["phone", "card", "iin"]
MASKS: dict[Kind, str] = {"phone": "[номер]", "card": "[карта]", "iin": "[ИИН]"}

_TOKEN = re.compile(r"\d+|[^\W\d_]+|[₸$€]")
_JOIN = re.compile(r"[\s\-‐‑–—()]*")
_COMMA = re.compile(r"[\s\-‐‑–—()]*,[\s\-‐‑–—()]*")
_THOUSANDS = re.compile(r"\d{1,3}(?:[  ]\d{3})+")
_PLUS = re.compile(r"(?:\+|\bплюс)\s*$", re.IGNORECASE)
_MEASURE = re.compile(
    r"тенге|тэнге|теңге\w*|тг|₸|тиын\w*|\$|€|руб|рубл[ьяеи]\w*|доллар\w*|евро|сом|сома|сомов|"
    r"грамм\w*|гр|г|кг|килограмм\w*|келі|мл|миллилитр\w*|литр\w*|л|см|мм|штук\w*|шт|дана|"
    r"процент\w*|пайыз\w*",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Found:
    start: int
    end: int
    kind: Kind


@dataclass
class _Group:
    digits: str
    start: int
    end: int
    from_digits: bool
    amount: bool = False


def _groups(text: str) -> list[_Group]:
    """Digit groups and number-word groups, amounts marked."""
    tokens = list(_TOKEN.finditer(text))
    groups: list[_Group] = []
    after_multiplier = False
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        word = tok.group()
        if word.isdigit():
            groups.append(_Group(word, tok.start(), tok.end(), True, after_multiplier))
            i += 1
        else:
            # A group is a few words ("семьсот двадцать один", "жеті жүз отыз бір")
            # with only spaces between them.
            span = [tok]
            while (
                len(span) < LONGEST_GROUP
                and i + len(span) < len(tokens)
                and _adjacent(text, span[-1].end(), tokens[i + len(span)])
            ):
                span.append(tokens[i + len(span)])
            before = tokens[i - 1] if i else None
            after = tokens[i + 1] if i + 1 < len(tokens) else None
            digits, used = parse_group(
                [t.group() for t in span],
                before.group() if before and _near(text, before.end(), tok) else None,
                after.group() if after and _near(text, tok.end(), after) else None,
            )
            if used:
                end = span[used - 1].end()
                groups.append(_Group(digits, tok.start(), end, False, after_multiplier))
                i += used
            else:
                if is_multiplier(word) and groups and _adjacent(text, groups[-1].end, tok):
                    groups[-1].amount = True
                if _MEASURE.fullmatch(word) and groups and _adjacent(text, groups[-1].end, tok):
                    _mark_amount(text, groups)
                i += 1
            after_multiplier = not used and is_multiplier(word)
            continue
        after_multiplier = False
    return groups


def _adjacent(text: str, end: int, tok: re.Match[str]) -> bool:
    return not text[end : tok.start()].strip()


def _near(text: str, end: int, tok: re.Match[str]) -> bool:
    """Whether only what may join two groups of a run (spaces, dashes, brackets, a
    comma) lies between `end` and the token."""
    gap = text[end : tok.start()]
    return bool(_JOIN.fullmatch(gap) or _COMMA.fullmatch(gap))


def _mark_amount(text: str, groups: list[_Group]) -> None:
    """The last group is an amount, with the thousands groups before it."""
    j = len(groups) - 1
    groups[j].amount = True
    while (
        j > 0
        and groups[j].from_digits
        and len(groups[j].digits) == 3
        and groups[j - 1].from_digits
        and len(groups[j - 1].digits) <= 3
        and text[groups[j - 1].end : groups[j].start] in (" ", " ")
    ):
        groups[j - 1].amount = True
        j -= 1
        if len(groups[j].digits) < 3:
            break


def _joined(text: str, a: _Group, b: _Group) -> bool:
    gap = text[a.end : b.start]
    if _JOIN.fullmatch(gap):
        return True
    return bool(_COMMA.fullmatch(gap)) and len(a.digits) <= 3 and len(b.digits) <= 3


def _runs(text: str, groups: list[_Group]) -> list[list[_Group]]:
    """Groups joined into runs; an amount between two groups keeps them apart."""
    runs: list[list[_Group]] = []
    previous: _Group | None = None
    for group in groups:
        if not group.amount:
            if runs and runs[-1][-1] is previous and _joined(text, runs[-1][-1], group):
                runs[-1].append(group)
            else:
                runs.append([group])
        previous = group
    return runs


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _kind(run: list[_Group], text: str) -> Kind | None:
    digits = "".join(g.digits for g in run)
    n = len(digits)
    if n < MIN_DIGITS:
        return None
    spoken = text[run[0].start : run[-1].end]
    if n <= 9 and all(g.from_digits for g in run) and _THOUSANDS.fullmatch(spoken):
        return None  # "1 500 000": a sum, said without its currency
    if n == 12:
        return "iin"
    grouped = len(run) == 4 and all(len(g.digits) == 4 and g.from_digits for g in run)
    if 13 <= n <= 19 and (grouped or _luhn(digits)):
        return "card"
    return "phone"


def find_sensitive(text: str) -> list[Found]:
    """The spans of `text` to mask, in order."""
    found: list[Found] = []
    for run in _runs(text, _groups(text)):
        kind = _kind(run, text)
        if kind is None:
            continue
        start = run[0].start
        if plus := _PLUS.search(text, 0, start):
            start = plus.start()
        found.append(Found(start, run[-1].end, kind))
    return found


def _masked(text: str, found: Sequence[Found], offset: int = 0) -> str:
    for f in reversed(found):
        text = text[: f.start - offset] + MASKS[f.kind] + text[f.end - offset :]
    return text


def redact(text: str) -> str:
    return _masked(text, find_sensitive(text))


def redact_segments(
    segments: Sequence[TranscriptSegment],
) -> tuple[str, list[TranscriptSegment]]:
    """The dialogue's text and its segments, numbers masked.

    Numbers are found once, on the segments' texts joined in order (the dialogue's
    text), so that a number said across two segments, or across two of Whisper's
    windows, is one run; each segment masks its part of every run it holds, in its
    text and in its words. The text is the masked segments joined: it and the
    segments mask the same things."""
    parts = _parts([s.text for s in segments])
    masked = [_masked_segment(s, found) for s, found in zip(segments, parts, strict=True)]
    return " ".join(s.text for s in masked if s.text), masked


def redact_segment(segment: TranscriptSegment) -> TranscriptSegment:
    return redact_segments([segment])[1][0]


def _parts(texts: Sequence[str]) -> list[list[Found]]:
    """`find_sensitive` over the texts joined with spaces, each span cut into its
    part in each text it touches (in that text's offsets)."""
    starts: list[int] = []
    at = 0
    for text in texts:
        starts.append(at)
        at += len(text) + 1 if text else 0
    found = find_sensitive(" ".join(t for t in texts if t))
    parts: list[list[Found]] = []
    for text, start in zip(texts, starts, strict=True):
        local: list[Found] = []
        for f in found:
            a, b = max(f.start - start, 0), min(f.end - start, len(text))
            if a < b:
                local.append(Found(a, b, f.kind))
        parts.append(local)
    return parts


def _masked_segment(segment: TranscriptSegment, found: Sequence[Found]) -> TranscriptSegment:
    if not found:
        return segment
    return segment.model_copy(
        update={
            "text": _masked(segment.text, found),
            "words": _masked_words(segment.text, segment.words, found),
        }
    )


def _touches(f: Found, start: int, end: int) -> bool:
    return f.start < end and f.end > start


def _masked_words(text: str, words: Sequence[Word], found: Sequence[Found]) -> list[Word]:
    """The words with `found` (spans of `text`, the words' segment) masked. The
    words a span runs over become one word that keeps the first one's start and
    the last one's end."""
    places = _places(text, words)
    out: list[Word] = []
    i = 0
    while i < len(words):
        hits = [f for f in found if _touches(f, *places[i])]
        if not hits:
            out.append(words[i])
            i += 1
            continue
        j = i
        while j + 1 < len(words) and any(_touches(f, *places[j + 1]) for f in hits):
            j += 1
            hits = [f for f in found if _touches(f, places[i][0], places[j][1])]
        lo, hi = places[i][0], max(places[j][1], places[i][0])
        part = _masked(
            text[lo:hi], [Found(max(f.start, lo), min(f.end, hi), f.kind) for f in hits], lo
        )
        span = words[i : j + 1]
        first = span[0].word
        out.append(
            Word(
                start_s=span[0].start_s,
                end_s=span[-1].end_s,
                word=first[: len(first) - len(first.lstrip())] + part,
                probability=min(w.probability for w in span),
            )
        )
        i = j + 1
    return out


def _places(text: str, words: Sequence[Word]) -> list[tuple[int, int]]:
    """Where each word is in its segment's text: [start, end) of its characters
    there, spaces aside. Whisper decodes both from the same tokens, but it may hand
    a punctuation mark to the word of the next or previous segment, so characters
    are matched, not counted; a word none of whose characters is found sits, empty,
    where the previous one ended."""
    spoken = "".join(w.word for w in words)
    where = [-1] * len(spoken)
    for block in SequenceMatcher(None, spoken, text, autojunk=False).get_matching_blocks():
        where[block.a : block.a + block.size] = range(block.b, block.b + block.size)
    places: list[tuple[int, int]] = []
    at = end = 0
    for w in words:
        matched = [
            where[k]
            for k in range(at, at + len(w.word))
            if where[k] >= 0 and not spoken[k].isspace()
        ]
        if matched:
            end = max(matched) + 1
            places.append((min(matched), end))
        else:
            places.append((end, end))
        at += len(w.word)
    return places
