"""What the guard did in one turn, seen from the outside: the service's `Guard`
is replaced by one that hands every call to the real guard and notes it.

Nothing of the guard node changes: the node still decides when to check, edit,
regenerate and repair; this only records the drafts it checked with their codes,
whether an edit or the deterministic repair (the fallback) was used, and lets the
final answer be checked again with the same turn data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from core.taxonomy import GuardCode
from rules.guards import Guard, GuardInput


@dataclass
class CheckedDraft:
    data: GuardInput
    codes: list[GuardCode]


@dataclass
class GuardTurn:
    """The guard's calls during one turn, in order."""

    drafts: list[CheckedDraft] = field(default_factory=list)
    edited: bool = False
    """A draft was fixed by cutting sentences out of it (no regeneration)."""
    repaired: bool = False
    """A draft that stayed bad after the regeneration was repaired deterministically."""


class GuardLog(Guard):
    """A `Guard` that delegates to `inner` and keeps each turn's calls in `turn`.

    The inner guard's own calls (an edit checks its result) are not noted: only
    what the guard node asked for is.
    """

    def __init__(self, inner: Guard):
        super().__init__(inner.cfg)
        self.inner = inner
        self.turn = GuardTurn()

    def start_turn(self) -> GuardTurn:
        self.turn = GuardTurn()
        return self.turn

    def check(self, data: GuardInput) -> list[GuardCode]:
        codes = self.inner.check(data)
        self.turn.drafts.append(CheckedDraft(data, list(codes)))
        return codes

    def edit(self, data: GuardInput, codes: Sequence[GuardCode]) -> str | None:
        edited = self.inner.edit(data, codes)
        self.turn.edited = self.turn.edited or edited is not None
        return edited

    def repair(self, data: GuardInput, codes: Sequence[GuardCode]) -> str:
        self.turn.repaired = True
        return self.inner.repair(data, codes)

    def check_final(self, turn: GuardTurn, answer: str) -> list[GuardCode]:
        """The codes the answer the customer got still breaks, checked against the
        same turn data as its last draft ([] when no draft was checked: a handoff
        notice or a shortcut answer never passes the guard)."""
        if not turn.drafts:
            return []
        return self.inner.check(replace(turn.drafts[-1].data, answer=answer))

    def fixed_texts(self) -> frozenset[str]:
        """The guard's fixed answers: a turn that ends with one lost its content."""
        cfg = self.cfg
        return frozenset(
            t.strip()
            for t in (cfg.fallback_answer, cfg.unknown_fact_answer, *cfg.fallback_rephrasings)
        )
