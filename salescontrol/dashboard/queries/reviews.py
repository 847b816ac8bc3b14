"""Reviews: a person flags a dialogue's analysis with a reason, corrects its fields
and resolves the flag; the reviewed dialogues of a period, listed and exported as
the data set for improving the prompt.

The machine's Analysis rows are never changed: a person's corrections live on the
review (`Review.corrections`, only the fields that differ from the machine's
current run), so the export shows both side by side. Each change is one
transaction.

A dialogue has at most one open review. Flagging it again while one is open adds
the new reason to that review (nothing a person typed is lost, and two admins
flagging at once do not make two reviews: the dialogue's row lock orders them).
Flagging after the last review was resolved opens a new one that starts from the
last corrections, so a dialogue's latest review always holds the person's whole
judgement — which is why the list and the export show each dialogue once, with its
latest review.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, get_args
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from salescontrol.dashboard.periods import Period
from salescontrol.db.models import Analysis, Dialogue, Point, Register, Review, Transcript, User
from salescontrol.pipeline.analysis.schema import Rule, inconsistency
from salescontrol.pipeline.messages import Attempted, Reaction

FIELDS = (
    "attempted",
    "quality",
    "categories",
    "customer_reaction",
    "closing_question",
    "summary",
)
"""The analysis' fields a person may correct."""
ATTEMPTED_VALUES: tuple[str, ...] = get_args(Attempted)
REACTION_VALUES: tuple[str, ...] = get_args(Reaction)
QUALITIES = range(4)
"""0-3, as the analysis schema and the database's `analysis_quality` allow."""
STATUSES = ("open", "resolved")
REASON_MAX = 1000
TEXT_MAX = 1000
"""A corrected closing question or summary."""

FIELD_LABELS = {
    "attempted": "Попытка допродажи",
    "quality": "Качество",
    "categories": "Категории",
    "customer_reaction": "Реакция покупателя",
    "closing_question": "Вопрос продавца",
    "summary": "Кратко",
}
_RULES: dict[Rule, str] = {
    "reaction_iff_no_attempt": (
        "Реакция «Нет реакции» бывает тогда и только тогда, когда попытки допродажи не было."
    ),
    "no_attempt_is_empty": "Если попытки не было, качество — 0 и категорий нет.",
    "attempt_has_category": "Если попытка была, нужны хотя бы одна категория и качество от 1.",
    "categories_repeat": "Категории повторяются.",
}


class ReviewError(Exception):
    """A change that cannot be made, said in Russian for the person who asked."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


# --- values ------------------------------------------------------------------------


def machine_values(analysis: Analysis | None) -> dict[str, Any]:
    """The machine's judgement in the correctable fields (all empty when there is
    none: not analysed yet, or skipped for too little speech)."""
    if analysis is None or analysis.status != "done":
        return {name: [] if name == "categories" else None for name in FIELDS}
    return {name: getattr(analysis, name) for name in FIELDS} | {
        "categories": list(analysis.categories)
    }


def form_values(analysis: Analysis | None, review: Review | None) -> dict[str, Any]:
    """What the correction form shows: the machine's values with the review's
    corrections over them."""
    return machine_values(analysis) | (dict(review.corrections) if review else {})


def clean_reason(raw: str | None) -> str:
    reason = (raw or "").strip()
    if not reason:
        raise ReviewError(400, "Укажите причину.")
    if len(reason) > REASON_MAX:
        raise ReviewError(400, f"Причина длиннее {REASON_MAX} символов.")
    return reason


def _one(form: Mapping[str, Sequence[str]], name: str) -> str:
    values = form[name]
    return values[-1].strip() if values else ""


def _text(form: Mapping[str, Sequence[str]], name: str) -> str | None:
    value = _one(form, name)
    if len(value) > TEXT_MAX:
        raise ReviewError(400, f"{FIELD_LABELS[name]}: длиннее {TEXT_MAX} символов.")
    return value or None


def parse_corrections(form: Mapping[str, Sequence[str]], codes: Sequence[str]) -> dict[str, Any]:
    """The corrected fields a form sent (a field it did not send stays as it was),
    checked against the values the analysis allows; `codes` are the categories of
    the dialogue's kind of shop. A form sends `categories` once empty so that
    clearing every box still says "no categories"."""
    parsed: dict[str, Any] = {}
    if "attempted" in form:
        attempted = _one(form, "attempted")
        if attempted not in ATTEMPTED_VALUES:
            raise ReviewError(400, f"Попытка допродажи: недопустимое значение «{attempted}».")
        parsed["attempted"] = attempted
    if "quality" in form:
        quality = _one(form, "quality")
        if not (quality.isascii() and quality.isdigit()) or int(quality) not in QUALITIES:
            raise ReviewError(400, f"Качество — целое число от 0 до 3, а не «{quality}».")
        parsed["quality"] = int(quality)
    if "categories" in form:
        chosen = [value.strip() for value in form["categories"] if value.strip()]
        for code in chosen:
            if code not in codes:
                raise ReviewError(400, f"Категория «{code}» не относится к этой точке.")
        if len(set(chosen)) != len(chosen):
            raise ReviewError(400, _RULES["categories_repeat"])
        parsed["categories"] = [code for code in codes if code in chosen]
    if "customer_reaction" in form:
        reaction = _one(form, "customer_reaction")
        if reaction not in REACTION_VALUES:
            raise ReviewError(400, f"Реакция покупателя: недопустимое значение «{reaction}».")
        parsed["customer_reaction"] = reaction
    for name in ("closing_question", "summary"):
        if name in form:
            parsed[name] = _text(form, name)
    return parsed


def _check_whole(values: Mapping[str, Any]) -> None:
    """The corrected judgement as a whole is one the analysis could give."""
    if any(values[name] is None for name in ("attempted", "quality", "customer_reaction")):
        raise ReviewError(400, "Укажите попытку допродажи, качество и реакцию покупателя.")
    broken = inconsistency(
        values["attempted"], values["quality"], values["categories"], values["customer_reaction"]
    )
    if broken is not None:
        raise ReviewError(400, _RULES[broken])


def _differs(name: str, value: Any, machine: Any) -> bool:
    if name == "categories":
        return set(value) != set(machine)
    return bool(value != machine)


# --- changes -----------------------------------------------------------------------


async def _current_analysis(db: AsyncSession, dialogue_id: uuid.UUID) -> Analysis | None:
    found: Analysis | None = await db.scalar(
        select(Analysis).where(Analysis.dialogue_id == dialogue_id, Analysis.current.is_(True))
    )
    return found


async def dialogue_business(db: AsyncSession, dialogue_id: uuid.UUID) -> str | None:
    """The kind of shop of the dialogue's point (whose categories it may have)."""
    business: str | None = await db.scalar(
        select(Point.business)
        .join(Dialogue, Dialogue.point_id == Point.id)
        .where(Dialogue.id == dialogue_id)
    )
    return business


async def _open_review(db: AsyncSession, dialogue_id: uuid.UUID, review_id: int) -> Review:
    review: Review | None = await db.scalar(
        select(Review)
        .where(Review.id == review_id, Review.dialogue_id == dialogue_id)
        .with_for_update()
    )
    if review is None:
        raise ReviewError(404, "Такой проверки нет.")
    if review.status != "open":
        raise ReviewError(409, "Эта проверка уже решена: отметьте диалог заново.")
    return review


async def flag(db: AsyncSession, dialogue_id: uuid.UUID, user_id: uuid.UUID, reason: str) -> Review:
    """Flag the dialogue: a new open review, or the reason added to the open one."""
    reason = clean_reason(reason)
    # The dialogue's row lock: two flags at once end in one open review.
    if await db.get(Dialogue, dialogue_id, with_for_update=True) is None:
        raise ReviewError(404, "Такого диалога нет.")
    latest: Review | None = await db.scalar(
        select(Review).where(Review.dialogue_id == dialogue_id).order_by(Review.id.desc()).limit(1)
    )
    if latest is not None and latest.status == "open":
        if reason not in latest.reason.split("\n\n"):  # a form sent twice adds nothing
            latest.reason = f"{latest.reason}\n\n{reason}"
        review = latest
    else:
        review = Review(
            dialogue_id=dialogue_id,
            user_id=user_id,
            reason=reason,
            corrections=dict(latest.corrections) if latest is not None else {},
        )
        db.add(review)
    await db.commit()
    return review


async def correct(
    db: AsyncSession,
    dialogue_id: uuid.UUID,
    review_id: int,
    submitted: Mapping[str, Any],
    codes: Sequence[str],
) -> Review:
    """Save corrections (parsed by `parse_corrections`) on the open review: the
    fields whose value then differs from the machine's current run."""
    review = await _open_review(db, dialogue_id, review_id)
    machine = machine_values(await _current_analysis(db, dialogue_id))
    values = machine | review.corrections | dict(submitted)
    _check_whole(values)
    review.corrections = {
        name: values[name] for name in FIELDS if _differs(name, values[name], machine[name])
    }
    if "categories" in review.corrections:
        review.corrections["categories"] = [c for c in codes if c in values["categories"]]
    await db.commit()
    return review


async def resolve(
    db: AsyncSession, dialogue_id: uuid.UUID, review_id: int, user_id: uuid.UUID
) -> Review:
    review = await _open_review(db, dialogue_id, review_id)
    review.status = "resolved"
    review.resolved_at = datetime.now(UTC)
    review.resolved_by = user_id
    await db.commit()
    return review


# --- the reviewed dialogues of a period --------------------------------------------


@dataclass(frozen=True, slots=True)
class ReviewedPage:
    rows: list[Any]
    total: int


def _latest(period: Period, status: str | None) -> Select[Any]:
    """The id of each dialogue's latest review, for the dialogues of the period
    (by their local day) whose latest review has `status` (None: any).

    Reviews are few (a person's work) and dialogues many: the latest reviews come
    first, and each one's dialogue is looked up by its key (LATERAL) — otherwise
    the planner reads every dialogue of a long period to find the reviewed ones."""
    latest = (
        select(Review.dialogue_id, func.max(Review.id).label("id"))
        .group_by(Review.dialogue_id)
        .subquery()
    )
    in_period = (
        select(Dialogue.id)
        .join(Point, Point.id == Dialogue.point_id)
        .where(Dialogue.id == latest.c.dialogue_id)
        .where(period.contains(Dialogue.started_at, Point.timezone))
        # One row by the key anyway; the LIMIT keeps PostgreSQL from flattening
        # the lookup back into a join over the whole period.
        .limit(1)
        .lateral()
    )
    chosen = select(latest.c.id).select_from(latest).join(in_period, true())
    if status is not None:
        chosen = chosen.join(Review, Review.id == latest.c.id).where(Review.status == status)
    return chosen


_author = aliased(User)
_resolver = aliased(User)


def _reviewed(period: Period, status: str | None) -> Select[Any]:
    return (
        select(
            Review.id.label("review_id"),
            Review.status,
            Review.reason,
            Review.corrections,
            Review.created_at,
            Review.resolved_at,
            _author.login.label("author"),
            _resolver.login.label("resolver"),
            Dialogue.id.label("dialogue_id"),
            Dialogue.started_at,
            Dialogue.ended_at,
            Point.name.label("point"),
            Point.timezone,
            Point.business,
            Register.name.label("register"),
            Analysis.run,
            Analysis.status.label("analysis_status"),
            Analysis.model,
            Analysis.prompt_version,
            Analysis.evidence,
            *(getattr(Analysis, name) for name in FIELDS),
        )
        .join(Dialogue, Dialogue.id == Review.dialogue_id)
        .join(Point, Point.id == Dialogue.point_id)
        .join(Register, Register.id == Dialogue.register_id)
        .join(_author, _author.id == Review.user_id)
        .outerjoin(_resolver, _resolver.id == Review.resolved_by)
        .outerjoin(Analysis, (Analysis.dialogue_id == Dialogue.id) & Analysis.current.is_(True))
        .where(Review.id.in_(_latest(period, status)))
    )


async def reviewed_page(
    db: AsyncSession, period: Period, status: str | None, page: int, size: int
) -> ReviewedPage:
    """A page of the period's reviewed dialogues, latest flagged first."""
    total = await db.scalar(select(func.count()).select_from(_latest(period, status).subquery()))
    rows = await db.execute(
        _reviewed(period, status)
        .order_by(Review.created_at.desc(), Review.id.desc())
        .limit(size)
        .offset((page - 1) * size)
    )
    return ReviewedPage(list(rows), total or 0)


EXPORT_COLUMNS = (
    "dialogue_id",
    "point",
    "register",
    "business",
    "timezone",
    "started_local",
    "duration_s",
    "transcript",
    "analysis_status",
    "analysis_run",
    "model",
    "prompt_version",
    *FIELDS,
    "evidence",
    "corrected_fields",
    *(f"corrected_{name}" for name in FIELDS),
    "review_reason",
    "review_status",
    "flagged_by",
    "flagged_at_local",
    "resolved_by",
    "resolved_at_local",
)
"""One row per reviewed dialogue: where and when, what was said, the machine's
current judgement, the person's corrections (`corrected_fields` names them, so a
field corrected to empty is told from one not corrected) and the review."""

_LOCAL = "%Y-%m-%d %H:%M:%S"


def _local(value: datetime | None, zone: ZoneInfo) -> str | None:
    return value.astimezone(zone).strftime(_LOCAL) if value is not None else None


def _export_row(row: Any) -> dict[str, Any]:
    zone = ZoneInfo(row.timezone)
    corrections: dict[str, Any] = row.corrections
    return {
        "dialogue_id": str(row.dialogue_id),
        "point": row.point,
        "register": row.register,
        "business": row.business,
        "timezone": row.timezone,
        "started_local": _local(row.started_at, zone),
        "duration_s": round((row.ended_at - row.started_at).total_seconds(), 1),
        "transcript": row.text,
        "analysis_status": row.analysis_status,
        "analysis_run": row.run,
        "model": row.model,
        "prompt_version": row.prompt_version,
        **{name: getattr(row, name) for name in FIELDS},
        "categories": list(row.categories or []),
        "evidence": list(row.evidence or []),
        "corrected_fields": [name for name in FIELDS if name in corrections],
        **{f"corrected_{name}": corrections.get(name) for name in FIELDS},
        "review_reason": row.reason,
        "review_status": row.status,
        "flagged_by": row.author,
        "flagged_at_local": _local(row.created_at, zone),
        "resolved_by": row.resolver,
        "resolved_at_local": _local(row.resolved_at, zone),
    }


async def export_rows(
    db: AsyncSession, period: Period, status: str | None
) -> AsyncIterator[dict[str, Any]]:
    """The period's reviewed dialogues in the order they were said, streamed from a
    server-side cursor (a year of reviews never sits in memory at once)."""
    query = (
        _reviewed(period, status)
        .add_columns(Transcript.text)
        .outerjoin(Transcript, Transcript.dialogue_id == Dialogue.id)
        .order_by(Dialogue.started_at, Dialogue.id)
    )
    result = await db.stream(query.execution_options(yield_per=200))
    async for row in result:
        yield _export_row(row)
