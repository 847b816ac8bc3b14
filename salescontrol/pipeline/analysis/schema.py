"""The judgement the model fills in for one dialogue, built per kind of shop so that
the JSON schema sent to the model enumerates exactly that shop's categories.

Validators keep it consistent (no reaction to an offer never made, an offer has a
category and a quality) and check that every evidence quote occurs in the
transcript, which reaches them as pydantic's validation context (`TRANSCRIPT`): a
violation is a validation error, which the LLM client's one repair reports back.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, create_model, model_validator

from core.settings import Business
from salescontrol.pipeline.messages import Attempted, Reaction

TRANSCRIPT = "transcript"
"""The validation context's key for the dialogue's text."""

_NOT_WORD = re.compile(r"[\W_]+")


def normalize(text: str) -> str:
    """Text as quotes are matched: case, ё/е, punctuation, quotes and spacing ignored."""
    words = _NOT_WORD.sub(" ", text.casefold().replace("ё", "е"))
    return " ".join(words.split())


def occurs(quote: str, transcript: str) -> bool:
    """Whether `quote` is a run of whole words of `transcript` (after `normalize`)."""
    needle = normalize(quote)
    return bool(needle) and f" {needle} " in f" {normalize(transcript)} "


Rule = Literal[
    "reaction_iff_no_attempt", "no_attempt_is_empty", "attempt_has_category", "categories_repeat"
]


def inconsistency(
    attempted: str, quality: int, categories: list[str], reaction: str
) -> Rule | None:
    """The first rule a judgement's fields break together, or None. Shared with the
    dashboard's corrections, which say the same rule in a person's words."""
    if (attempted == "no") != (reaction == "none"):
        return "reaction_iff_no_attempt"
    if attempted == "no" and (quality or categories):
        return "no_attempt_is_empty"
    if attempted == "yes" and not (categories and quality >= 1):
        return "attempt_has_category"
    if len(set(categories)) != len(categories):
        return "categories_repeat"
    return None


_BROKEN: dict[Rule, str] = {
    # Said to the model in its repair: in the terms of its JSON schema.
    "reaction_iff_no_attempt": (
        'customer_reaction "none" — тогда и только тогда, когда attempted "no"'
    ),
    "no_attempt_is_empty": 'при attempted "no" нужны quality 0 и пустой categories',
    "attempt_has_category": 'при attempted "yes" нужны хотя бы одна категория и quality от 1',
    "categories_repeat": "категории в categories повторяются",
}


class Judgement(BaseModel):
    """What every business's judgement has; `judgement_schema` adds the categories."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    evidence: list[str]
    closing_question: str | None
    attempted: Attempted
    categories: list[str]
    quality: int = Field(ge=0, le=3)
    customer_reaction: Reaction
    summary: str = Field(min_length=1)
    confidence: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        broken = inconsistency(
            self.attempted, self.quality, self.categories, self.customer_reaction
        )
        if broken is not None:
            raise ValueError(_BROKEN[broken])
        return self

    @model_validator(mode="after")
    def _quoted(self, info: ValidationInfo) -> Self:
        context: dict[str, Any] = info.context or {}
        transcript = context.get(TRANSCRIPT)
        if not isinstance(transcript, str):
            raise ValueError("no transcript to check the evidence against")
        for number, quote in enumerate(self.evidence, 1):
            if not occurs(quote, transcript):
                raise ValueError(
                    f"evidence №{number}: такой цитаты нет в расшифровке; "
                    "копируй слова дословно, как они там написаны"
                )
        return self


@functools.cache
def _schema(codes: tuple[str, ...], max_evidence: int) -> type[Judgement]:
    category = Literal[codes]  # type: ignore[valid-type]
    return create_model(
        "Judgement",
        __base__=Judgement,
        evidence=(list[str], Field(max_length=max_evidence)),
        categories=(list[category], ...),
    )


def judgement_schema(business: Business, max_evidence: int) -> type[Judgement]:
    """The judgement for `business`: its category codes as the only choices (cached)."""
    return _schema(tuple(business.categories), max_evidence)
