"""A customer message as n8n delivers it (a media marker for images and voice
notes), messages that only hand over contact data ("Айгерим, 87015553344"), and
the answer to a mistyped IIN.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from core.text.cities import cities_in
from core.text.contacts import find_emails, find_iins, find_phones, without_contacts
from core.text.morph import morph, word_set
from rules.prompts import INVALID_IIN_ANSWER
from rules.smalltalk import SOCIAL_WORDS

MediaSource = Literal["image", "audio"]
_MEDIA = re.compile(r"^\s*\[(image|audio transcript)\]\s*:\s*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class CustomerText:
    """A customer message with the media marker n8n adds for images and voice notes."""

    text: str
    media_source: MediaSource | None


def split_media(raw: str) -> CustomerText:
    match = _MEDIA.match(raw)
    if not match:
        return CustomerText(raw.strip(), None)
    kind: MediaSource = "image" if match.group(1).lower() == "image" else "audio"
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
    rest = without_contacts(text)
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


_IIN_WORD = re.compile(r"\bиин\w*", re.IGNORECASE)
# A sentence about the IIN that asks to check it (any of these stems) is the
# request; any other sentence about it (passing it on, saving it) is false.
_CHECK_WORDS = re.compile(r"провер|ошиб|неверн|некоррект|опечат|не\s+проход|не\s+сход", re.I)
_SENTENCE = re.compile(r"[^.!?…]+[.!?…]*")


def with_iin_check_request(answer: str) -> str:
    """`answer` for a message whose IIN failed its checks: a sentence about the
    IIN that does not ask to check it is removed, and the fixed request is added
    when no sentence asks for the check."""
    parts = [s.strip() for s in _SENTENCE.findall(answer) if s.strip()]
    about_iin = [s for s in parts if _IIN_WORD.search(s)]
    if any(_CHECK_WORDS.search(s) for s in about_iin):
        return answer
    kept = [s for s in parts if s not in about_iin]
    # Before a closing question, which should stay last.
    at = len(kept) - 1 if kept and kept[-1].endswith("?") else len(kept)
    kept.insert(at, INVALID_IIN_ANSWER)
    return " ".join(kept)
