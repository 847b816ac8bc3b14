"""The demo's finishing touches: its users, two reviews, and timestamps that look
like a working day's.

The pipeline ran just now, but its rows describe audio of the last days: a
transcript made a week after its dialogue would make every "time to analysis"
absurd. So the demo's chunks, dialogues, transcripts and analyses get the times
a core keeping up with its recorders would have given them (a chunk stored a few
seconds after it ended, the analysis a minute or two after the dialogue; a
re-run a day later). The updates are functions of the rows themselves, so
running them again changes nothing.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from salescontrol.accounts import create_user
from salescontrol.db.models import Analysis, Dialogue, Review, Session, User
from salescontrol.security import hash_password

USERS = (("admin", "admin"), ("viewer", "viewer"))
"""(login, role) of the demo's users."""


async def reset_users(session: AsyncSession) -> dict[str, str]:
    """Create the demo's users, or give them new passwords; login → password."""
    passwords = {}
    for login, role in USERS:
        password = secrets.token_urlsafe(12)
        user = await session.scalar(select(User).where(User.login == login))
        if user is None:
            await create_user(session, login, password, role)
        else:
            digest = await asyncio.to_thread(hash_password, password)
            user.password_hash, user.role, user.enabled = digest, role, True
            # As any password reset: the sessions of the old password end.
            await session.execute(delete(Session).where(Session.user_id == user.id))
        passwords[login] = password
    return passwords


_TIMES = (
    """UPDATE audio_chunks SET created_at = ended_at + interval '4 seconds'
       WHERE device_id = ANY(:devices) AND created_at > ended_at + interval '4 seconds'""",
    """UPDATE dialogues SET closed_at = least(ended_at + interval '13 seconds', closed_at)
       WHERE device_id = ANY(:devices) AND state = 'closed'""",
    """UPDATE transcripts t SET created_at = d.ended_at + interval '50 seconds'
       FROM dialogues d WHERE d.id = t.dialogue_id AND d.device_id = ANY(:devices)""",
    # The first run a minute and a half after the dialogue, a re-run a day later
    # (never later than now).
    """UPDATE analyses a SET created_at = least(
           d.ended_at + interval '90 seconds' + (a.run - 1) * interval '1 day', :now)
       FROM dialogues d WHERE d.id = a.dialogue_id AND d.device_id = ANY(:devices)""",
)


async def backdate(session: AsyncSession, devices: list[uuid.UUID], now: datetime) -> None:
    for statement in _TIMES:
        await session.execute(text(statement), {"devices": devices, "now": now})


# (category of the offer, reason, corrections; None: still open)
_REVIEWS: tuple[tuple[str, str, dict[str, object] | None], ...] = (
    (
        "syrup",
        "Оценка 1 кажется заниженной: продавец назвал конкретную добавку. Прослушать запись.",
        None,
    ),
    (
        "other",
        "«Возьмёте ещё что-нибудь?» — дежурная фраза, а не предложение.",
        {"attempted": "no", "quality": 0, "categories": []},
    ),
)


async def add_reviews(
    session: AsyncSession, devices: list[uuid.UUID], admin_login: str, now: datetime
) -> int:
    """Two reviews by the admin, once: an open one and a resolved one with its
    corrections, on the latest weakly rated offers. The number added."""
    admin = await session.scalar(select(User.id).where(User.login == admin_login))
    if admin is None:
        return 0
    mine = select(Dialogue.id).where(Dialogue.device_id.in_(devices))
    if await session.scalar(select(Review.id).where(Review.dialogue_id.in_(mine)).limit(1)):
        return 0
    added = 0
    for category, reason, corrections in _REVIEWS:
        found = (
            await session.execute(
                select(Analysis.dialogue_id, Analysis.created_at)
                .join(Dialogue, Dialogue.id == Analysis.dialogue_id)
                .where(
                    Dialogue.device_id.in_(devices),
                    Analysis.current.is_(True),
                    Analysis.categories.contains([category]),
                )
                .order_by(Dialogue.started_at.desc())
                .limit(1)
            )
        ).first()
        if found is None:
            continue
        dialogue_id, analysed = found
        # Looked at an hour after the analysis, settled two hours later.
        created = min(analysed + timedelta(hours=1), now)
        review = Review(dialogue_id=dialogue_id, user_id=admin, reason=reason, created_at=created)
        if corrections is not None:
            review.status = "resolved"
            review.corrections = corrections
            review.resolved_by = admin
            review.resolved_at = min(created + timedelta(hours=2), now)
        session.add(review)
        added += 1
    await session.flush()
    return added
