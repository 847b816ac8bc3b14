"""The customer profile: what a value is worth keeping, how a turn's new facts
merge into what is known, the part of the analysis schema the model fills, and
how the profile reads in a prompt. The fields themselves are defined once, in
`core.taxonomy.PROFILE`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, create_model

from core.taxonomy import PROFILE, PROFILE_BY_NAME, ProfileField

LIST_LIMIT = 8
"""Items a list field keeps (the newest): the whole list goes into every prompt."""

_ANNOTATIONS: dict[str, Any] = {
    "text": (str | None, None),
    # A count of shops: anything beyond this is a misread, not a chain.
    "int": (int | None, Field(default=None, ge=0, le=100_000)),
    "bool": (bool | None, None),
    "list": (list[str], Field(default_factory=list)),
}


def _model_field(spec: ProfileField) -> Any:
    return _ANNOTATIONS[spec.per_message or spec.kind]


if TYPE_CHECKING:
    ProfileFacts = BaseModel
else:
    # The `profile` of the analysis schema: the fields the model may fill, made
    # from their one definition (a class written out would be a second one).
    ProfileFacts = create_model(
        "ProfileFacts",
        __doc__="Customer facts stated in the message (null when not mentioned).",
        **{spec.name: _model_field(spec) for spec in PROFILE if spec.from_model},
    )


def is_empty(value: Any) -> bool:
    """Nothing worth keeping: None, "", or an empty list or mapping."""
    return value is None or (isinstance(value, str | list | dict | tuple) and len(value) == 0)


def _accumulate(known: list[Any], new: list[Any]) -> list[Any]:
    """`known` plus the new items it lacks (ignoring case and blanks), the last
    LIST_LIMIT kept: a model restates an interest most turns ("тариф Standard",
    "Standard")."""
    seen = {str(v).strip().casefold() for v in known}
    out = list(known)
    for item in new:
        norm = str(item).strip().casefold()
        if norm and norm not in seen:
            seen.add(norm)
            out.append(item.strip() if isinstance(item, str) else item)
    return out[-LIST_LIMIT:]


def merge_profile(
    left: Mapping[str, Any] | None, right: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Merge newly learned customer facts into the known profile.

    A known value is never erased by an empty one (the analysis often returns
    null for fields the message does not mention); a restated value replaces
    the old one (the customer corrected it). List fields (pains, interests)
    accumulate, because a customer names them one at a time; a single value
    stored before a field became a list is kept as its first item.
    """
    merged = dict(left or {})
    for key, value in (right or {}).items():
        if is_empty(value):
            continue
        old = merged.get(key)
        if isinstance(value, list):
            known = old if isinstance(old, list) else ([] if is_empty(old) else [old])
            merged[key] = _accumulate(known, value)
        else:
            merged[key] = value
    return merged


def facts_from_analysis(facts: BaseModel, contacts: Mapping[str, str]) -> dict[str, Any]:
    """The profile update of one message: what the model read (text trimmed, a
    name in title case, a per-message item as a one-item list) plus the contacts
    the regexes found, which win."""
    update: dict[str, Any] = {}
    for key, value in facts.model_dump().items():
        if isinstance(value, str):
            value = value.strip()
        if is_empty(value):
            continue
        spec = PROFILE_BY_NAME[key]
        if key == "contact_name":
            value = value.title()
        update[key] = [value] if spec.kind == "list" and spec.per_message else value
    update.update(contacts)
    return update


def render_profile(profile: Mapping[str, Any]) -> str:
    """The known fields as a prompt line ("город: Алматы; телефон: получен").
    Contact data reaches the LLM only as "known": it never needs the digits, and
    what it does not see it cannot repeat into an answer."""
    parts = []
    for key, value in profile.items():
        if is_empty(value):
            continue
        spec = PROFILE_BY_NAME.get(key)
        name = spec.label if spec else key
        if spec is not None and spec.opaque:
            parts.append(f"{name}: получен")
        elif isinstance(value, list):
            parts.append(f"{name}: {', '.join(map(str, value))}")
        elif isinstance(value, bool):
            parts.append(f"{name}: {'да' if value else 'нет'}")
        else:
            parts.append(f"{name}: {value}")
    return "; ".join(parts)


def describe_fields() -> str:
    """The analysis prompt's list of the fields the model fills, with their meaning."""
    return ", ".join(
        f"{spec.name} ({spec.hint})" if spec.hint else spec.name
        for spec in PROFILE
        if spec.from_model
    )


def missing_fields(profile: Mapping[str, Any], names: list[str]) -> list[str]:
    """The fields of `names` the profile does not know yet."""
    return [name for name in names if is_empty(profile.get(name))]
