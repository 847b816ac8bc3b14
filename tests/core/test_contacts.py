"""Deterministic extraction of phones, IINs and e-mails."""

from __future__ import annotations

import pytest

from core.text.contacts import (
    extract_contacts,
    find_emails,
    find_iins,
    find_invalid_iins,
    find_phones,
    iin_is_valid,
    mask_contacts,
)


def make_iin(prefix11: str) -> str:
    """Complete 11 digits with the IIN checksum (tests need valid IINs)."""
    digits = [int(c) for c in prefix11]
    check = sum(d * w for d, w in zip(digits, range(1, 12), strict=True)) % 11
    if check == 10:
        weights = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)
        check = sum(d * w for d, w in zip(digits, weights, strict=True)) % 11
    assert check != 10, "pick another prefix"
    return prefix11 + str(check)


VALID_IIN = make_iin("90010130012")  # born 1990-01-01, male, 20th century


@pytest.mark.parametrize(
    "text",
    [
        "+7 701 234 56 78",
        "+7 (701) 234-56-78",
        "87012345678",
        "8 701 234 5678",
        "77012345678",
        "мой номер 7012345678, звоните",
        "тел: +7-701-234-56-78.",
    ],
)
def test_kz_phone_formats_normalize_to_11_digits(text: str) -> None:
    assert find_phones(text) == ["77012345678"]


def test_russian_mobile_is_normalized_too() -> None:
    assert find_phones("+7 916 123-45-67") == ["79161234567"]
    assert find_phones("9161234567") == ["79161234567"]


@pytest.mark.parametrize(
    "text",
    [
        "12345",
        "у нас 3 магазина и 1500 товаров",
        "цена 150 000 тенге",
        "+1 415 555 2671",
        "701 234 56",  # too short
        "870123456789012",  # too long to be a phone
    ],
)
def test_not_phones(text: str) -> None:
    assert find_phones(text) == []


def test_iin_checksum() -> None:
    assert iin_is_valid(VALID_IIN)
    broken = VALID_IIN[:-1] + str((int(VALID_IIN[-1]) + 1) % 10)
    assert not iin_is_valid(broken)
    assert not iin_is_valid("991301300123")  # month 13
    assert not iin_is_valid("12345")


def test_iin_found_and_not_taken_for_a_phone() -> None:
    text = f"ИИН {VALID_IIN}, телефон 87012345678"
    assert find_iins(text) == [VALID_IIN]
    assert find_phones(text) == ["77012345678"]
    assert find_phones(VALID_IIN) == []


def test_invalid_iin_ignored() -> None:
    assert find_iins("мой иин 123456789012") == []


def test_emails() -> None:
    assert find_emails("пишите на Shop.Owner+1@mail.kz или info@wipon.kz.") == [
        "shop.owner+1@mail.kz",
        "info@wipon.kz",
    ]
    assert find_emails("собака@ и @mail.kz") == []


def test_extract_contacts_takes_the_first_of_each() -> None:
    fields = extract_contacts(f"Айгуль, 8 777 111 22 33, {VALID_IIN}, a@b.kz")
    assert fields == {"phone": "77771112233", "iin": VALID_IIN, "email": "a@b.kz"}


def test_money_is_not_a_phone() -> None:
    assert find_phones("оборот 7 000 000 000 тенге в год") == []


def test_numbers_outside_the_allocated_ranges_are_not_phones() -> None:
    assert find_phones("+7 100 123 45 67") == []
    assert find_phones("8 000 000 00 00") == []


def test_mistyped_iins_are_found() -> None:
    broken = VALID_IIN[:-1] + str((int(VALID_IIN[-1]) + 1) % 10)
    assert find_invalid_iins(f"мой иин {broken}") == [broken]
    assert find_invalid_iins(f"мой иин {VALID_IIN}") == []


def test_masking_hides_every_contact() -> None:
    broken = VALID_IIN[:-1] + str((int(VALID_IIN[-1]) + 1) % 10)
    text = f"Айгуль, 8 (701) 555-44-33, ИИН {VALID_IIN}, старый {broken}, a@b.kz"
    masked = mask_contacts(text)
    assert masked == "Айгуль, [телефон], ИИН [ИИН], старый [ИИН с ошибкой], [e-mail]"
