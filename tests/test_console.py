"""`salesbot chat` with stdin from a pipe, as the runbook's console check."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import GRAPH_KB, analysis
from ollama_stub import OllamaStub

SALESBOT = Path(sys.executable).with_name("salesbot")


def run_chat(ollama_url: str, db: Path, lines: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "OLLAMA_BASE_URL": ollama_url,
        "KB_PATH": str(GRAPH_KB),
        "DB_PATH": str(db),
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
        stub.push(
            analysis("greeting"),
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
        stub.push(analysis("gratitude"), "Рад помочь! Остались вопросы по тарифам?")
        again = run_chat(stub.url, db, "Спасибо\n")
        assert again.stdout.strip() == "Рад помочь! Остались вопросы по тарифам?"
        history = stub.chat_requests()[-2]["messages"][-1]["content"]
        assert "Сколько стоит?" in history


def test_chat_survives_llm_down(tmp_path: Path) -> None:
    with OllamaStub() as stub:
        gone = stub.url  # the port is closed once the stub stops
    done = run_chat(gone, tmp_path / "c.db", "Привет\n")
    assert done.returncode == 0
    assert done.stdout == ""
    assert "LLM недоступен" in done.stderr
