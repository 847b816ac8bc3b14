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
        if (self.attempted == "no") != (self.customer_reaction == "none"):
            raise ValueError(
                'customer_reaction "none" — тогда и только тогда, когда attempted "no"'
            )
        if self.attempted == "no" and (self.quality or self.categories):
            raise ValueError('при attempted "no" нужны quality 0 и пустой categories')
        if self.attempted == "yes" and not (self.categories and self.quality >= 1):
            raise ValueError('при attempted "yes" нужны хотя бы одна категория и quality от 1')
        if len(set(self.categories)) != len(self.categories):
            raise ValueError("категории в categories повторяются")
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
