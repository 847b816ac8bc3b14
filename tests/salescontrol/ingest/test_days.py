"""A chunk belongs to the local day of its point: around midnight in Asia/Almaty
(UTC+5) the UTC date is still the day before, and a listing by day must follow the
shop's clock, not UTC's — nor the server's."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tests.salescontrol.audio import AudioFactory
from tests.salescontrol.ingest.service import Ingest
from tests.support.errors import assert_error

ALMATY = ZoneInfo("Asia/Almaty")


async def test_chunks_around_local_midnight_land_on_the_points_local_day(
    ingest: Ingest, audio: AudioFactory
) -> None:
    device = await ingest.device(timezone="Asia/Almaty")
    midnight = datetime.combine(datetime(2026, 12, 5).date(), time(0), tzinfo=ALMATY)
    before = (midnight - timedelta(seconds=30)).astimezone(UTC)  # 23:59:30 on the 4th
    after = (midnight + timedelta(seconds=30)).astimezone(UTC)  # 00:00:30 on the 5th
    # Both are on 4 December in UTC: a UTC cut would put them on one day.
    assert before.date() == after.date() == datetime(2026, 12, 4).date()
    ids = {}
    for name, start in (("before", before), ("after", after)):
        ids[name] = uuid.uuid4()
        # The device states its start in UTC; the offset it uses must not matter.
        stated = start if name == "before" else start.astimezone(ALMATY)
        response = await device.upload(ids[name], stated.isoformat(), audio.opus())
        assert response.status_code == 201, response.text
        assert datetime.fromisoformat(response.json()["started_at"]) == start

    url = f"/api/v1/admin/devices/{device.id}/chunks"
    on_4th = (await ingest.http.get(url, params={"day": "2026-12-04"}, headers=ingest.admin)).json()
    on_5th = (await ingest.http.get(url, params={"day": "2026-12-05"}, headers=ingest.admin)).json()

    assert [c["chunk_id"] for c in on_4th] == [str(ids["before"])]
    assert [c["chunk_id"] for c in on_5th] == [str(ids["after"])]
    assert on_4th[0]["local_day"] == "2026-12-04" and on_5th[0]["local_day"] == "2026-12-05"


async def test_a_point_elsewhere_cuts_its_days_in_its_own_zone(
    ingest: Ingest, audio: AudioFactory
) -> None:
    device = await ingest.device(timezone="Europe/Moscow")
    start = datetime(2026, 12, 4, 21, 30, tzinfo=UTC)  # 00:30 on the 5th in Moscow
    assert (await device.upload(uuid.uuid4(), start, audio.opus())).status_code == 201

    url = f"/api/v1/admin/devices/{device.id}/chunks"
    on_5th = await ingest.http.get(url, params={"day": "2026-12-05"}, headers=ingest.admin)
    on_4th = await ingest.http.get(url, params={"day": "2026-12-04"}, headers=ingest.admin)

    assert [c["local_day"] for c in on_5th.json()] == ["2026-12-05"]
    assert on_4th.json() == []


async def test_a_listing_needs_a_valid_day_and_a_known_device(ingest: Ingest) -> None:
    device = await ingest.device()
    url = f"/api/v1/admin/devices/{device.id}/chunks"
    assert_error(await ingest.http.get(url, headers=ingest.admin), 400, "BAD_REQUEST")
    bad_day = await ingest.http.get(url, params={"day": "2026-13-01"}, headers=ingest.admin)
    assert_error(bad_day, 400, "BAD_REQUEST")
    unknown = await ingest.http.get(
        f"/api/v1/admin/devices/{uuid.uuid4()}/chunks",
        params={"day": "2026-12-04"},
        headers=ingest.admin,
    )
    assert_error(unknown, 404, "NOT_FOUND")


async def test_a_point_needs_a_real_time_zone(ingest: Ingest) -> None:
    response = await ingest.http.post(
        "/api/v1/admin/points",
        json={"organisation": "Кофейня", "name": "Центр", "timezone": "Asia/Nowhere"},
        headers=ingest.admin,
    )
    assert_error(response, 400, "BAD_REQUEST")
    assert "Asia/Nowhere" in response.json()["error"]["message"]
