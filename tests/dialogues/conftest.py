"""Collects the recorded dialogues: every YAML file under tests/dialogues is one test.

Each test replays its dialogue through the real service
(tests.support.dialogues.replay) with the Ollama-protocol stub serving the
recorded replies. A failure is printed as the harness's diff-like report, not
as a traceback. Dialogues under
known_failures/ document a defect of the bot: they run as xfail (not strict)
with the file's `reason`, so the summary lists them instead of hiding them; a
known failure whose recording is stale is a real failure.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.dialogues import (
    CASSETTE_SUFFIX,
    DialogueFormatError,
    LoadedDialogue,
    load_dialogue,
    replay,
)
from tests.support.ollama_stub import OllamaStub

HERE = Path(__file__).resolve().parent
KNOWN_FAILURES = HERE / "known_failures"
_KB_CACHE = pytest.StashKey[Path]()
_STUB = pytest.StashKey[OllamaStub]()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in {".yaml", ".yml"} or file_path.name.endswith(CASSETTE_SUFFIX):
        return None
    if HERE not in file_path.resolve().parents:
        return None
    collector: pytest.Collector = DialogueFile.from_parent(parent, path=file_path)
    return collector


def _kb_cache(config: pytest.Config) -> Path:
    """One KB index cache for the whole run: the index is built once, then loaded
    by every dialogue's fresh service (each still gets its own database)."""
    if _KB_CACHE not in config.stash:
        holder = tempfile.TemporaryDirectory(prefix="salesbot-dialogues-kb-")
        config.add_cleanup(holder.cleanup)
        config.stash[_KB_CACHE] = Path(holder.name)
    return config.stash[_KB_CACHE]


def _stub(config: pytest.Config) -> OllamaStub:
    """One Ollama-protocol stub for the whole run, emptied before each dialogue.

    Stopping a stub waits for its server loop's half-second poll; one per
    dialogue would double the suite's time.
    """
    if _STUB not in config.stash:
        stub = OllamaStub().start()
        config.add_cleanup(stub.stop)
        config.stash[_STUB] = stub
    stub = config.stash[_STUB]
    # A stale step of the previous dialogue may have left replies queued.
    stub.queue.clear()
    stub.errors.clear()
    stub.requests.clear()
    return stub


class DialogueFailed(AssertionError):
    """A dialogue step broke one of its assertions."""


class StaleRecording(AssertionError):
    """A step's recorded replies no longer line up with the LLM calls the code makes.

    Kept apart from DialogueFailed so that a known failure whose recording went
    stale fails for real: it no longer documents anything.
    """


class DialogueFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        try:
            loaded = load_dialogue(self.path)
        except DialogueFormatError as exc:
            raise self.CollectError(str(exc)) from None
        problems = loaded.format_problems()
        known_failure = KNOWN_FAILURES in self.path.resolve().parents
        reason = loaded.dialogue.reason
        if known_failure and not reason:
            problems.append("a dialogue in known_failures/ needs a `reason`")
        if reason and not known_failure:
            problems.append("`reason` marks a known failure: move the file to known_failures/")
        if problems:
            raise self.CollectError(f"{self.path}:\n  " + "\n  ".join(problems))
        if loaded.dialogue.draft:
            self.warn(
                pytest.PytestWarning(
                    f"{self.path.name}: draft assertions from `salesbot dialogues record` "
                    "are not reviewed yet (remove `draft: true` after review)"
                )
            )
        item = DialogueItem.from_parent(self, name=loaded.dialogue.test_case, loaded=loaded)
        if known_failure:
            item.add_marker(pytest.mark.xfail(reason=reason, strict=False, raises=DialogueFailed))
        yield item


class DialogueItem(pytest.Item):
    def __init__(self, *, loaded: LoadedDialogue, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.loaded = loaded

    def runtest(self) -> None:
        stub = _stub(self.config)
        result = asyncio.run(replay(self.loaded, stub, kb_cache_dir=_kb_cache(self.config)))
        if result.stale:
            raise StaleRecording(result.report())
        if not result.passed:
            raise DialogueFailed(result.report())

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str:
        if isinstance(excinfo.value, DialogueFailed | StaleRecording):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo, style=style))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"dialogue {self.name}"
