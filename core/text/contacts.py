"""Contact data in text: phones, IINs and e-mails, found and normalized.

A regex with a checksum does not mistype a digit the way a model may, so the
sales bot takes these from here rather than from its analysis, and SalesControl
masks them in transcripts. Phones are normalized to 11 digits starting with 7
(KZ and RU share the +7 country code).
"""

from __future__ import annotations

import re
from datetime import date

# +7 / 7 / 8 followed by 10 digits, with the usual separators. The look-arounds
# keep the pattern from biting into a longer digit run such as an IIN.
_PHONE = re.compile(
    r"(?<![\d+])(?:\+\s*7|7|8)[\s\-‐–(]*(\d{3})[\s\-‐–)]*(\d{3})[\s\-‐–]*(\d{2})[\s\-‐–]*(\d{2})(?!\d)"
)
# A bare 10-digit mobile number ("701 234 56 78"): KZ mobiles start with 7, RU with 9.
_PHONE_LOCAL = re.compile(r"(?<![\d+])([79]\d{2})[\s\-]*(\d{3})[\s\-]*(\d{2})[\s\-]*(\d{2})(?!\d)")
_IIN = re.compile(r"(?<!\d)(\d{12})(?!\d)")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-zA-Zа-яА-Я]{2,}(?![\w-])")

_IIN_WEIGHTS_1 = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
_IIN_WEIGHTS_2 = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)


def iin_is_valid(iin: str) -> bool:
    """Kazakhstan IIN: 12 digits, a birth date YYMMDD, a century/sex digit, a checksum."""
    if len(iin) != 12 or not iin.isdigit():
        return False
    digits = [int(c) for c in iin]
    century_sex = digits[6]
    if century_sex not in range(1, 7):
        return False
    century = 1800 + 100 * ((century_sex - 1) // 2)
    try:
        date(century + int(iin[0:2]), int(iin[2:4]), int(iin[4:6]))
    except ValueError:
        return False
    check = sum(d * w for d, w in zip(digits, _IIN_WEIGHTS_1, strict=False)) % 11
    if check == 10:
        check = sum(d * w for d, w in zip(digits, _IIN_WEIGHTS_2, strict=False)) % 11
        if check == 10:
            return False
    return check == digits[11]


def find_phones(text: str) -> list[str]:
    """All phone numbers in `text`, normalized to '7XXXXXXXXXX', in order, unique."""
    found: list[str] = []
    spans: list[tuple[int, int]] = []
    for match in _PHONE.finditer(text):
        found.append("7" + "".join(match.groups()))
        spans.append(match.span())
    for match in _PHONE_LOCAL.finditer(text):
        if any(start <= match.start() < end for start, end in spans):
            continue
        found.append("7" + "".join(match.groups()))
    return list(dict.fromkeys(found))


def find_iins(text: str) -> list[str]:
    return list(dict.fromkeys(m for m in _IIN.findall(text) if iin_is_valid(m)))


def find_emails(text: str) -> list[str]:
    return list(dict.fromkeys(m.lower() for m in _EMAIL.findall(text)))


def extract_contacts(text: str) -> dict[str, str]:
    """Profile fields found deterministically: phone, iin, email (the first of each)."""
    fields: dict[str, str] = {}
    for name, values in (
        ("phone", find_phones(text)),
        ("iin", find_iins(text)),
        ("email", find_emails(text)),
    ):
        if values:
            fields[name] = values[0]
    return fields


def without_contacts(text: str) -> str:
    """`text` with every phone, valid IIN and e-mail replaced by a space."""
    rest = _EMAIL.sub(" ", text)
    rest = _PHONE.sub(" ", rest)
    rest = _PHONE_LOCAL.sub(" ", rest)
    return _IIN.sub(lambda m: " " if iin_is_valid(m.group(0)) else m.group(0), rest)
