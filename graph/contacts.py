"""Deterministic extraction of contact data: phones, IINs, e-mails, media markers.

These win over the LLM's analysis: a model may mistype a digit, a regex with a
checksum does not. Phones are normalized to 11 digits starting with 7 (KZ and RU
share the +7 country code).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from graph.cities import cities_in
from graph.smalltalk import SOCIAL_WORDS
from kb.text import morph, word_set

# +7 / 7 / 8 followed by 10 digits, with the usual separators. The look-arounds
# keep the pattern from biting into a longer digit run such as an IIN.
_PHONE = re.compile(
    r"(?<![\d+])(?:\+\s*7|7|8)[\s\-‐–(]*(\d{3})[\s\-‐–)]*(\d{3})[\s\-‐–]*(\d{2})[\s\-‐–]*(\d{2})(?!\d)"
)
# A bare 10-digit mobile number ("701 234 56 78"): KZ mobiles start with 7, RU with 9.
_PHONE_LOCAL = re.compile(r"(?<![\d+])([79]\d{2})[\s\-]*(\d{3})[\s\-]*(\d{2})[\s\-]*(\d{2})(?!\d)")
_IIN = re.compile(r"(?<!\d)(\d{12})(?!\d)")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-zA-Zа-яА-Я]{2,}(?![\w-])")
_MEDIA = re.compile(r"^\s*\[(image|audio transcript)\]\s*:\s*", re.IGNORECASE)

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


@dataclass(frozen=True, slots=True)
class CustomerText:
    """A customer message with the media marker n8n adds for images and voice notes."""

    text: str
    media_source: str | None  # "image", "audio" or None


def split_media(raw: str) -> CustomerText:
    match = _MEDIA.match(raw)
    if not match:
        return CustomerText(raw.strip(), None)
    kind = "image" if match.group(1).lower() == "image" else "audio"
    return CustomerText(raw[match.end() :].strip(), kind)


# Words that may stand beside contact data without adding anything to it.
_CONTACT_FILLER = word_set(
    """
    мой моя мое моё мои меня мне вот это имя зовут звать номер номера телефон телефона
    тел моб мобильный сотовый сот whatsapp ватсап вацап почта почты эл электронная email
    e-mail mail e иин
    """
)
# Words a name check must refuse although the dictionary may know them as names.
_NOT_NAMES = SOCIAL_WORDS | word_set("пожалуйста плиз пж")
_NAME_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)?")
_MAX_NAME_WORDS = 3  # first name, surname, patronymic


def _name_kinds(word: str) -> set[str]:
    """How the dictionary reads `word` as a personal name, as one writes it to
    introduce oneself (nominative, singular): a subset of {"Name", "Surn",
    "Patr"}, empty when it is no name. Plural and oblique readings do not count:
    they make names of "Мини" and "Маркет". A first name that is also a place
    does not count as one. Never a greeting or thanks ("Рахмет") and never a
    city: pymorphy3 knows "Тараз" as a first name, "Шымкент" not at all."""
    if word.lower() in _NOT_NAMES or cities_in(word):
        return set()
    parses = morph().parse(word)
    kinds = {
        kind
        for p in parses
        if p.tag.case == "nomn" and p.tag.number != "plur"
        for kind in ("Name", "Surn", "Patr")
        if kind in p.tag
    }
    if any("Geox" in p.tag for p in parses):
        kinds.discard("Name")
    return kinds


@dataclass(frozen=True, slots=True)
class BareContact:
    """A message that only hands over contact data; the name if it gives one."""

    name: str | None


def bare_contact(text: str) -> BareContact | None:
    """`text` as a BareContact when it is nothing but a phone, an IIN or an
    e-mail, with at most the customer's name and a filler word ("Айгерим,
    87015553344", "мой номер 8 701 234 56 78"); None when it says anything else
    (a request, a question, a count, an invalid IIN, two people's contacts), which
    the model must read."""
    if "?" in text:
        return None
    found = (find_phones(text), find_iins(text), find_emails(text))
    if not any(found) or any(len(values) > 1 for values in found):
        return None
    rest = _EMAIL.sub(" ", text)
    rest = _PHONE.sub(" ", rest)
    rest = _PHONE_LOCAL.sub(" ", rest)
    rest = _IIN.sub(lambda m: " " if iin_is_valid(m.group(0)) else m.group(0), rest)
    if any(c.isdigit() for c in rest):
        return None
    words = [w for w in _NAME_WORD.findall(rest) if w.lower() not in _CONTACT_FILLER]
    if len(words) > _MAX_NAME_WORDS:
        return None
    # One's name in any order ("Айгерим Садыкова", "Ахметова Айгерим"), with a
    # first name among the words; a surname alone is too often a place.
    kinds = [_name_kinds(w) for w in words]
    if not all(kinds) or (words and not any("Name" in k for k in kinds)):
        return None
    return BareContact(" ".join(w.title() for w in words) or None)
