"""The recorded-dialogue harness: the sales flow's regression suite.

A dialogue is one YAML file per conversation (`format`). A replay drives the
real service through its HTTP API (`driver`, a fresh SQLite DB) with an
Ollama-protocol server serving the recorded replies (`replay`), checks each step
(`checker`) and reports a failure as a diff (`report`). The recorder plays the
same lines against a live Ollama through a proxy that keeps every reply
(`recorder`) and writes what it saw as draft assertions (`yaml_io`);
`salesbot dialogues record` is its command line (`cli`). The scorecard
(`scoring`, `salesbot dialogues score`) plays the same lines against a live
model and reports what each turn cost and what the guard found. The pytest
collector is tests/dialogues/conftest.py.
"""

from tests.support.dialogues.checker import Mismatch, check_step
from tests.support.dialogues.driver import DialogueService, Observation
from tests.support.dialogues.format import (
    CASSETTE_SUFFIX,
    Cassette,
    Dialogue,
    DialogueFormatError,
    LoadedDialogue,
    StepAssert,
    load_dialogue,
    parse_offset,
)
from tests.support.dialogues.recorder import RecordingProxy, apply_recording, record
from tests.support.dialogues.replay import ScriptedOllama, replay
from tests.support.dialogues.report import ReplayResult, format_failure

__all__ = [
    "CASSETTE_SUFFIX",
    "Cassette",
    "Dialogue",
    "DialogueFormatError",
    "DialogueService",
    "LoadedDialogue",
    "Mismatch",
    "Observation",
    "RecordingProxy",
    "ReplayResult",
    "ScriptedOllama",
    "StepAssert",
    "apply_recording",
    "check_step",
    "format_failure",
    "load_dialogue",
    "parse_offset",
    "record",
    "replay",
]
