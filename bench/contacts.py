"""Phone numbers as customers write them: `phonenumbers` (what core.text.contacts
uses) against the hand-written patterns it replaced.

    .venv/bin/python -m bench.contacts

Prints, per form, what each finds, then the counts right and the time per
message. The forms are the ones seen in WhatsApp leads (+7 7xx, 8 7xx, 87xx…,
a bare 7xx…, spaces, dashes, parentheses, two numbers in one message) and texts
that hold digits but no phone (amounts, IINs, BINs, barcodes, numbers outside
the allocated ranges).
"""

from __future__ import annotations

import re
import time

from core.text.contacts import find_phones

# The patterns core.text.contacts used before `phonenumbers`, kept for comparison.
_OLD_PHONE = re.compile(
    r"(?<![\d+])(?:\+\s*7|7|8)[\s\-‐–(]*(\d{3})[\s\-‐–)]*(\d{3})[\s\-‐–]*(\d{2})[\s\-‐–]*(\d{2})(?!\d)"
)
_OLD_LOCAL = re.compile(r"(?<![\d+])([79]\d{2})[\s\-]*(\d{3})[\s\-]*(\d{2})[\s\-]*(\d{2})(?!\d)")


def old_find_phones(text: str) -> list[str]:
    found: list[str] = []
    spans: list[tuple[int, int]] = []
    for match in _OLD_PHONE.finditer(text):
        found.append("7" + "".join(match.groups()))
        spans.append(match.span())
    for match in _OLD_LOCAL.finditer(text):
        if not any(start <= match.start() < end for start, end in spans):
            found.append("7" + "".join(match.groups()))
    return list(dict.fromkeys(found))


PHONES: dict[str, list[str]] = {
    "+7 701 234 56 78": ["77012345678"],
    "+77012345678": ["77012345678"],
    "8 701 234 56 78": ["77012345678"],
    "87012345678": ["77012345678"],
    "8(701)234-56-78": ["77012345678"],
    "8 (701) 234-56-78": ["77012345678"],
    "+7 (701) 234 5678": ["77012345678"],
    "7012345678": ["77012345678"],
    "701 234 56 78": ["77012345678"],
    "8-701-234-56-78": ["77012345678"],
    "+7-701-234-56-78": ["77012345678"],
    "77012345678": ["77012345678"],
    "тел.: 8701 234 5678": ["77012345678"],
    "8 727 255 12 34": ["77272551234"],
    "+7 777 1234567": ["77771234567"],
    "8 777 123 45 67": ["77771234567"],
    "+7 912 345 67 89": ["79123456789"],
    "мой номер 8 701 234 56 78, звоните": ["77012345678"],
    "8 705 111 22 33 или 8 747 222 33 44": ["77051112233", "77472223344"],
}
NOT_PHONES = [
    "оборот 7 000 000 000 тенге в год",
    "цена 8 500 000 ₸",
    "ИИН 900101300123",
    "БИН 123456789012",
    "Штрихкод 4870012345678",
    "2 точки, 150 000 в месяц",
    "8 701 234 56",
    "+7 100 123 45 67",
    "8 000 000 00 00",
    "87O12345678",
]
ROUNDS = 300


def main() -> int:
    right = {"phonenumbers": 0, "patterns": 0}
    finders = {"phonenumbers": find_phones, "patterns": old_find_phones}
    cases = [*PHONES.items(), *((text, []) for text in NOT_PHONES)]
    for text, expected in cases:
        marks = []
        for name, finder in finders.items():
            found = finder(text)
            ok = found == expected
            right[name] += ok
            marks.append(f"{name} {found}{'' if ok else '  ✗'}")
        print(f"{text!r:42} " + " | ".join(marks))
    print(f"{len(PHONES)} phone forms + {len(NOT_PHONES)} texts without a phone")
    message = "Меня зовут Айгерим, мой номер 8 701 234 56 78, ИИН 900101300123, магазин в Алматы"
    for name, finder in finders.items():
        started = time.perf_counter()
        for _ in range(ROUNDS):
            finder(message)
        per_ms = (time.perf_counter() - started) / ROUNDS * 1000
        print(f"{name:>12}: {right[name]}/{len(cases)} right, {per_ms:.3f} ms per message")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
