"""`salesbot db migrate`: a SQLite installation's conversations, profiles and
answered requests moved to PostgreSQL, where they go on as if nothing moved;
run twice (a run cut short and resumed), nothing is copied twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import api.migrate
from api.cli import main
from api.migrate import migrate
from core.settings import load_settings
from tests.api.service import AUTH, body, serve
from tests.support.ollama_stub import OllamaStub
from tests.support.postgres import BotPostgres
from tests.support.replies import analysis


async def test_conversations_move_to_postgresql_and_go_on(
    stub: OllamaStub, api_env: Path, bot_postgres: BotPostgres, monkeypatch: pytest.MonkeyPatch
) -> None:
    stub.push(
        analysis("business_info", profile={"city": "Алматы"}),
        "Понял, Алматы. Чем занимаетесь?",
        analysis("business_info", profile={"business_type": "аптека"}),
        "Для аптеки подойдёт касса с маркировкой.",
    )
    async with serve() as http:  # SQLite, as installed so far
        for n, text in enumerate(("Мы в Алматы", "У нас аптека")):
            request = body(text, request_id=f"old-{n}")
            assert (
                await http.post("/api/v1/process", json=request, headers=AUTH)
            ).status_code == 200
        other = body("Здравствуйте", user="77010000001", request_id="other-0")
        stub.push(analysis("greeting"), "Здравствуйте!")
        assert (await http.post("/api/v1/process", json=other, headers=AUTH)).status_code == 200
    source = Path(load_settings().env.db_path)
    url = bot_postgres.fresh_database()
    try:
        # A run cut short: the threads and profiles copied, then it dies.
        copy_table = api.migrate._copy_table

        async def dies_at_requests(conn: Any, pool: Any, table: str) -> None:
            if table == "processed_requests":
                raise ConnectionError("the run was cut short")
            await copy_table(conn, pool, table)

        monkeypatch.setattr(api.migrate, "_copy_table", dies_at_requests)
        with pytest.raises(ConnectionError):
            await migrate(source, url, sample=5, say=lambda line: None)
        monkeypatch.setattr(api.migrate, "_copy_table", copy_table)

        first = await migrate(source, url, sample=5, say=lambda line: None)
        assert first.ok, first
        assert first.counts["conversations"] == (2, 2)
        assert first.counts["user_profiles"] == (2, 2)
        assert first.counts["processed_requests"] == (3, 3)
        assert first.counts["checkpoints"][0] == first.counts["checkpoints"][1] > 0
        assert first.sampled == 2 and first.mismatched == []
        # Run once more: nothing doubles.
        again = await migrate(source, url, sample=5, say=lambda line: None)
        assert again.ok and again.counts == first.counts

        monkeypatch.setenv("DATABASE_URL", url)
        calls = len(stub.chat_requests())
        async with serve() as http:
            # An answered request is still answered from the store...
            replay = body("Мы в Алматы", request_id="old-0")
            replayed = await http.post("/api/v1/process", json=replay, headers=AUTH)
            assert replayed.json()["answer"] == "Понял, Алматы. Чем занимаетесь?"
            assert len(stub.chat_requests()) == calls
            # ...and the conversation goes on with its history and profile.
            stub.push(analysis("price_question"), "Тариф для аптеки в Алматы уточню.")
            next_turn = await http.post(
                "/api/v1/process", json=body("Сколько стоит?", request_id="new-0"), headers=AUTH
            )
            assert next_turn.json()["meta"]["turn"] == 3
            history = str(stub.chat_requests()[-1]["messages"])
            assert "У нас аптека" in history and "Для аптеки подойдёт" in history
            profile = await http.get("/api/v1/users/77022951810/profile", headers=AUTH)
            [entry] = profile.json()["profiles"]
            assert (entry["city"], entry["business_type"]) == ("Алматы", "аптека")
    finally:
        bot_postgres.drop(url)


def test_the_command_checks_its_arguments(
    api_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "migrate", "--from", "/no/scheme.db", "--to", "postgresql://x/y"]) == 2
    assert main(["db", "migrate", "--from", "sqlite:///x.db", "--to", "mysql://x/y"]) == 2
    assert "postgresql" in capsys.readouterr().err
