"""Contact data in text: phones, IINs and e-mails, found, normalized and masked.

A parser with a checksum does not mistype a digit the way a model may, so the
sales bot takes these from here rather than from its analysis, and SalesControl
masks them in transcripts. Phones are found by `phonenumbers` (Google's
libphonenumber) for Kazakhstan and Russia, which share the +7 country code: it
reads every form customers write (+7 7xx, 8 7xx, 87xx…, bare 7xx…, with spaces,
dashes and parentheses) and refuses numbers outside the allocated ranges
(bench/contacts.py compares it with the hand-written patterns it replaced).
Phones are normalized to 11 digits starting with 7.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

import phonenumbers

# KZ first: a number both plans accept is read as Kazakh; RU adds the 9xx mobiles.
_REGIONS = ("KZ", "RU")
_COUNTRY_CODE = 7
# "7 000 000 000 тенге" is money, however much it looks like a number.
_MONEY_AFTER = re.compile(r"\s*(?:₸|тенге|тнг|тг\b|руб|\$|usd|долл|тыс|млн|млрд)", re.IGNORECASE)
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


def _phone_spans(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, '7XXXXXXXXXX') of every valid +7 phone number in `text`."""
    taken: list[tuple[int, int]] = []
    for region in _REGIONS:
        for match in phonenumbers.PhoneNumberMatcher(text, region):
            number = match.number
            if number.country_code != _COUNTRY_CODE or len(str(number.national_number)) != 10:
                continue
            if _MONEY_AFTER.match(text, match.end):
                continue
            if any(start < match.end and match.start < end for start, end in taken):
                continue
            taken.append((match.start, match.end))
            yield match.start, match.end, f"7{number.national_number}"


def find_phones(text: str) -> list[str]:
    """All phone numbers in `text`, normalized to '7XXXXXXXXXX', in order, unique."""
    spans = sorted(_phone_spans(text))
    return list(dict.fromkeys(phone for _, _, phone in spans))


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


def _replace_phones(text: str, placeholder: str) -> str:
    out, last = [], 0
    for start, end, _ in sorted(_phone_spans(text)):
        out += [text[last:start], placeholder]
        last = end
    return "".join(out) + text[last:]


def without_contacts(text: str) -> str:
    """`text` with every phone, valid IIN and e-mail replaced by a space."""
    rest = _replace_phones(_EMAIL.sub(" ", text), " ")
    return _IIN.sub(lambda m: " " if iin_is_valid(m.group(0)) else m.group(0), rest)


def find_invalid_iins(text: str) -> list[str]:
    """Twelve-digit runs that fail the IIN checks (a mistyped IIN), unique."""
    return list(dict.fromkeys(m for m in _IIN.findall(text) if not iin_is_valid(m)))


PHONE_MASK = "[телефон]"
IIN_MASK = "[ИИН]"
INVALID_IIN_MASK = "[ИИН с ошибкой]"
EMAIL_MASK = "[e-mail]"


def mask_contacts(text: str) -> str:
    """`text` with phones, IINs (a mistyped one marked so) and e-mails replaced
    by placeholders: what a prompt shows once the values are extracted, so a
    model neither needs nor repeats the digits."""
    masked = _replace_phones(_EMAIL.sub(EMAIL_MASK, text), PHONE_MASK)
    return _IIN.sub(lambda m: IIN_MASK if iin_is_valid(m.group(0)) else INVALID_IIN_MASK, masked)
