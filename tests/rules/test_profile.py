"""How newly learned customer facts merge into the known profile."""

from __future__ import annotations

from rules.profile import LIST_LIMIT, merge_profile


def test_known_value_is_not_erased_by_empty_ones() -> None:
    known = {"city": "Алматы", "business_type": "продукты", "pains": ["недостачи"]}
    update = {"city": None, "business_type": "", "pains": [], "contact_name": None}
    assert merge_profile(known, update) == known


def test_restated_value_replaces_the_old_one() -> None:
    merged = merge_profile(
        {"city": "Алматы", "stores_count": 1}, {"city": "Астана", "stores_count": 3}
    )
    assert merged == {"city": "Астана", "stores_count": 3}


def test_false_and_zero_are_values_not_empties() -> None:
    merged = merge_profile(
        {"automation_before": True}, {"automation_before": False, "stores_count": 0}
    )
    assert merged == {"automation_before": False, "stores_count": 0}


def test_list_fields_accumulate_without_duplicates() -> None:
    merged = merge_profile({"pains": ["недостачи"]}, {"pains": ["очереди", "недостачи"]})
    assert merged["pains"] == ["недостачи", "очереди"]


def test_interests_accumulate_and_a_single_older_value_is_kept() -> None:
    merged = merge_profile({"interest": ["маркировка"]}, {"interest": ["тариф Standard"]})
    assert merged["interest"] == ["маркировка", "тариф Standard"]
    # A checkpoint from before interests became a list holds one string.
    merged = merge_profile({"interest": "касса"}, {"interest": ["сканер"]})
    assert merged["interest"] == ["касса", "сканер"]


def test_list_fields_ignore_case_and_blanks_and_keep_the_latest() -> None:
    merged = merge_profile(
        {"interest": ["тариф Standard"]}, {"interest": ["Тариф Standard ", " ", "сканер"]}
    )
    assert merged["interest"] == ["тариф Standard", "сканер"]
    many = {"pains": [f"боль {i}" for i in range(LIST_LIMIT)]}
    merged = merge_profile(many, {"pains": ["очереди"]})
    assert len(merged["pains"]) == LIST_LIMIT
    assert merged["pains"][-1] == "очереди" and "боль 0" not in merged["pains"]


def test_merge_from_nothing() -> None:
    assert merge_profile(None, {"city": "Шымкент"}) == {"city": "Шымкент"}
    assert merge_profile({"city": "Шымкент"}, None) == {"city": "Шымкент"}
