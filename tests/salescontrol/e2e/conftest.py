"""The synthesized shop day of ../shared/salescontrol/dialogues_dev.yaml (built once,
cached), and what the end-to-end runs need installed."""

from __future__ import annotations

import importlib.util

import pytest

from tests.support import SHARED
from tests.support.shopday import ShopDay, build_shop_day, missing_tools

SCRIPT = SHARED / "salescontrol" / "dialogues_dev.yaml"


@pytest.fixture(scope="session")
def day() -> ShopDay:
    if not SCRIPT.is_file():
        pytest.skip(f"{SCRIPT} is not here (../shared sits beside the checkout)")
    if missing := missing_tools():
        pytest.skip(f"cannot synthesize speech without {', '.join(missing)} (.ci/run installs)")
    if importlib.util.find_spec("faster_whisper") is None:
        pytest.skip("transcription needs the asr extra: pip install '.[asr]'")
    return build_shop_day(SCRIPT)
