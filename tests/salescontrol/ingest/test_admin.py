"""An admin's changes to points, registers, devices and users: a field that cannot
be empty refused as null (400, naming it), a name taken where it must be unique a
conflict (409) for a rename as for a creation, and nothing else taken for one."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from salescontrol import fleet
from tests.salescontrol.ingest.service import Ingest
from tests.support.errors import assert_error


async def created(ingest: Ingest, url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await ingest.http.post(f"/api/v1/admin/{url}", json=body, headers=ingest.admin)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def point(ingest: Ingest, name: str = "Центр") -> dict[str, Any]:
    body = {"organisation": "Кофейня", "name": name, "opens_at": "08:00:00"}
    return await created(ingest, "points", body)


async def register(ingest: Ingest, point_id: str, name: str = "Касса 1") -> dict[str, Any]:
    return await created(ingest, f"points/{point_id}/registers", {"name": name})


async def device(ingest: Ingest, register_id: str, name: str) -> dict[str, Any]:
    return await created(ingest, "devices", {"register_id": register_id, "name": name})


async def patch(ingest: Ingest, url: str, body: dict[str, Any]) -> Any:
    return await ingest.http.patch(f"/api/v1/admin/{url}", json=body, headers=ingest.admin)


@pytest.mark.parametrize(
    ("what", "field"),
    [
        ("point", "name"),
        ("point", "timezone"),
        ("point", "business"),
        ("device", "name"),
        ("device", "enabled"),
        ("user", "role"),
        ("user", "enabled"),
        ("user", "password"),
    ],
)
async def test_a_null_for_a_field_that_cannot_be_empty_is_refused_naming_it(
    ingest: Ingest, what: str, field: str
) -> None:
    shop = await point(ingest)
    pi = await device(ingest, (await register(ingest, shop["id"]))["id"], "pi-1")
    user = await created(ingest, "users", {"login": "olga", "password": "long enough pw"})
    before = {"point": shop, "device": pi, "user": user}[what]

    response = await patch(ingest, f"{what}s/{before['id']}", {field: None})

    assert_error(response, 400, "BAD_REQUEST")
    assert response.json()["error"]["message"] == f"{field}: may be left out, but not null"
    listed = await ingest.http.get(f"/api/v1/admin/{what}s", headers=ingest.admin)
    [after] = [r for r in listed.json() if r["id"] == before["id"]]
    assert after.items() <= before.items()  # unchanged (a device's token is shown once)


async def test_a_null_clears_what_may_be_empty_and_a_left_out_field_stays(
    ingest: Ingest,
) -> None:
    shop = await point(ingest)

    response = await patch(ingest, f"points/{shop['id']}", {"opens_at": None})

    assert response.status_code == 200, response.text
    assert response.json() == {**shop, "opens_at": None}


async def test_renaming_a_device_to_a_name_taken_at_its_register_is_a_conflict(
    ingest: Ingest,
) -> None:
    shop = await point(ingest)
    till, other_till = [await register(ingest, shop["id"], n) for n in ("Касса 1", "Касса 2")]
    first, second = [await device(ingest, till["id"], n) for n in ("pi-1", "pi-2")]
    elsewhere = await device(ingest, other_till["id"], "pi-3")

    taken = await patch(ingest, f"devices/{second['id']}", {"name": "pi-1"})

    assert_error(taken, 409, "CONFLICT")
    assert taken.json()["error"]["message"] == fleet.Conflict.MESSAGES["device_name"]
    # The same name at another register, and a device keeping its own, are fine.
    moved = await patch(ingest, f"devices/{elsewhere['id']}", {"name": "pi-1"})
    assert moved.status_code == 200 and moved.json()["name"] == "pi-1"
    kept = await patch(ingest, f"devices/{first['id']}", {"name": "pi-1", "enabled": False})
    assert kept.status_code == 200 and kept.json()["enabled"] is False
    listed = await ingest.http.get("/api/v1/admin/devices", headers=ingest.admin)
    names = {d["id"]: d["name"] for d in listed.json()}
    assert names == {first["id"]: "pi-1", second["id"]: "pi-2", elsewhere["id"]: "pi-1"}


async def test_two_registrations_of_one_name_racing_make_one_device(ingest: Ingest) -> None:
    till = await register(ingest, (await point(ingest))["id"])
    body = {"register_id": till["id"], "name": "pi-1"}

    answers = await asyncio.gather(
        *(ingest.http.post("/api/v1/admin/devices", json=body, headers=ingest.admin)
          for _ in range(4))
    )  # fmt: skip

    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409]
    for refused in (a for a in answers if a.status_code == 409):
        assert refused.json()["error"]["message"] == fleet.Conflict.MESSAGES["device_name"]
    listed = await ingest.http.get("/api/v1/admin/devices", headers=ingest.admin)
    assert [d["name"] for d in listed.json()] == ["pi-1"]


async def test_a_point_or_register_renamed_to_a_taken_name_is_its_own_conflict(
    ingest: Ingest,
) -> None:
    centre, _ = await point(ingest, "Центр"), await point(ingest, "Вокзал")
    first, second = [await register(ingest, centre["id"], n) for n in ("Касса 1", "Касса 2")]

    shop = await patch(ingest, f"points/{centre['id']}", {"name": "Вокзал"})
    till = await patch(ingest, f"registers/{second['id']}", {"name": first["name"]})

    assert_error(shop, 409, "CONFLICT")
    assert shop.json()["error"]["message"] == fleet.Conflict.MESSAGES["point_name"]
    assert_error(till, 409, "CONFLICT")
    assert till.json()["error"]["message"] == fleet.Conflict.MESSAGES["register_name"]


async def test_only_a_unique_names_violation_is_taken_for_a_clash(ingest: Ingest) -> None:
    """Below the API's validation: a NOT NULL violation stays what it is."""
    shop = await point(ingest)
    async with ingest.runtime.sessions() as db:
        with pytest.raises(IntegrityError) as raised:
            await fleet.update_point(db, uuid.UUID(shop["id"]), timezone=None)
        assert fleet.clash(raised.value) is None
    listed = await ingest.http.get("/api/v1/admin/points", headers=ingest.admin)
    assert listed.json() == [shop]
