"""`salesbot chat` with stdin from a pipe, as the runbook's console check."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import GRAPH_KB
from tests.support.ollama_stub import OllamaStub
from tests.support.postgres import BotPostgres
from tests.support.replies import analysis

SALESBOT = Path(sys.executable).with_name("salesbot")


def run_chat(
    ollama_url: str, db: Path, lines: str, database_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        "OLLAMA_BASE_URL": ollama_url,
        "KB_PATH": str(GRAPH_KB),
        "DB_PATH": str(db),
        **({"DATABASE_URL": database_url} if database_url else {}),
    }
    return subprocess.run(
        [str(SALESBOT), "chat"],
        input=lines,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_piped_chat_prints_one_answer_per_line_and_remembers(tmp_path: Path) -> None:
    db = tmp_path / "chat.db"
    with OllamaStub() as stub:
        # A bare greeting takes no analysis call, only the answer.
        stub.push(
            "Здравствуйте! Чем занимается ваш бизнес?",
            analysis("price_question", search_query="цена тарифов"),
            "Тариф Mini стоит 5 000 ₸ в год.",
        )
        done = run_chat(stub.url, db, "Здравствуйте\nСколько стоит?\n/quit\nне дойдёт\n")
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines() == [
            "Здравствуйте! Чем занимается ваш бизнес?",
            "Тариф Mini стоит 5 000 ₸ в год.",
        ]

        # A second run with the same ids continues the same conversation.
        stub.push("Рад помочь! Остались вопросы по тарифам?")
        again = run_chat(stub.url, db, "Спасибо\n")
        assert again.stdout.strip() == "Рад помочь! Остались вопросы по тарифам?"
        answer_prompt = stub.chat_requests()[-1]["messages"]
        assert any("Сколько стоит?" in str(m["content"]) for m in answer_prompt)


def test_chat_on_postgresql_remembers_across_runs(
    tmp_path: Path, bot_postgres: BotPostgres
) -> None:
    url = bot_postgres.fresh_database()
    db = tmp_path / "unused.db"
    try:
        with OllamaStub() as stub:
            stub.push(
                analysis("price_question", search_query="цена тарифов"),
                "Тариф Mini стоит 5 000 ₸ в год.",
            )
            done = run_chat(stub.url, db, "Сколько стоит касса?\n", database_url=url)
            assert done.returncode == 0, done.stderr
            assert done.stdout.splitlines() == ["Тариф Mini стоит 5 000 ₸ в год."]
            stub.push("Рад помочь! Остались вопросы по тарифам?")
            again = run_chat(stub.url, db, "Спасибо\n", database_url=url)
            assert again.stdout.strip() == "Рад помочь! Остались вопросы по тарифам?"
            answer_prompt = stub.chat_requests()[-1]["messages"]
            assert any("Сколько стоит касса?" in str(m["content"]) for m in answer_prompt)
        assert not db.exists(), "the state lives in PostgreSQL"
    finally:
        bot_postgres.drop(url)


def test_chat_survives_llm_down(tmp_path: Path) -> None:
    with OllamaStub() as stub:
        gone = stub.url  # the port is closed once the stub stops
    done = run_chat(gone, tmp_path / "c.db", "Привет\n")
    assert done.returncode == 0
    assert done.stdout == ""
    assert "LLM недоступен" in done.stderr
