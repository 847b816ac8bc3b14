"""The synthesized shop day of tests.support.shopday and the WER of tests.support.wer:
the script's validation, clock-aligned chunks that decode to their stated length,
a ground truth that matches the audio (speech where it says, room noise between),
the cache, and Russian text normalization."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.support import ROOT, SHARED
from tests.support.shopday import (
    DayParams,
    ScriptError,
    ShopDay,
    build_shop_day,
    decode,
    load_script,
    missing_tools,
)
from tests.support.shopday.__main__ import main as shopday_cli
from tests.support.shopday.chunks import cuts, probe_duration
from tests.support.shopday.layout import lay_out
from tests.support.shopday.script import parse_script
from tests.support.shopday.voices import speakable
from tests.support.wer import corpus_wer, normalize, spell_number, wer

DEV = SHARED / "salescontrol" / "dialogues_dev.yaml"
needs_dev = pytest.mark.skipif(not DEV.exists(), reason=f"{DEV} is not there")
SHORT = """
business: coffee_shop
dialogues:
  - id: a
    silence_before_s: 2
    turns:
      - [seller, "Здравствуйте!"]
      - [customer, "Чай, пожалуйста."]
    upsell: {attempted: no, categories: [], customer_reaction: none, quality: 0}
  - id: b
    silence_before_s: 13
    turns:
      - [customer, "Два эспрессо."]
      - [seller, "Тысяча тенге."]
    upsell: {attempted: no, categories: [], customer_reaction: none, quality: 0}
"""


def _dialogue(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "x",
        "silence_before_s": 1,
        "turns": [["seller", "Добрый день."]],
        "upsell": {"attempted": True, "categories": [], "customer_reaction": "none", "quality": 0},
    }
    return {**base, **changes}


# --- the script ---------------------------------------------------------------------------


@needs_dev
def test_the_dev_script_loads_with_yes_no_as_words() -> None:
    script = load_script(DEV)
    assert len(script.dialogues) == 10 and script.business == "coffee_shop"
    assert {d.upsell.attempted for d in script.dialogues} <= {"yes", "no", "uncertain"}
    assert script.dialogues[0].reference_text.startswith("Здравствуйте! Что для вас? Капучино")


@pytest.mark.parametrize(
    ("dialogue", "message"),
    [
        (
            _dialogue(turns=[["seller", "Да."], ["cashier", "Нет."]]),
            "dialogue 'x': turns.turn 2.who",
        ),
        (
            _dialogue(turns=[["seller", "Да."], ["seller"]]),
            "dialogue 'x', turn 2: a turn is a pair",
        ),
        (_dialogue(turns=[["seller", "?!"]]), "turn 1.text"),
        (_dialogue(silence_before_s=-1), "dialogue 'x': silence_before_s"),
        (_dialogue(upsell={"attempted": "maybe"}), "dialogue 'x': upsell.attempted"),
        (_dialogue(id=None), "dialogue #1"),
    ],
)
def test_script_errors_name_the_dialogue_and_turn(
    dialogue: dict[str, object], message: str
) -> None:
    with pytest.raises(ScriptError, match=message.replace(".", r"\.").replace("?", r"\?")):
        parse_script({"business": "coffee_shop", "dialogues": [dialogue]})


def test_script_refuses_duplicate_ids_and_keeps_extra_labels() -> None:
    with pytest.raises(ScriptError, match="'x': the id is used twice"):
        parse_script({"dialogues": [_dialogue(), _dialogue()]})
    labels = {"attempted": False, "customer_reaction": "none", "quality": 0, "note": "x"}
    script = parse_script({"dialogues": [_dialogue(upsell=labels)]})
    assert script.dialogues[0].upsell.model_dump()["note"] == "x"
    assert script.dialogues[0].upsell.attempted == "no"


def test_speakable_text_spells_digits_and_drops_unknown_signs() -> None:
    assert speakable("С вас 1200 — «спасибо»!") == "С вас тысяча двести, спасибо!"


# --- layout and cutting, without synthesis ------------------------------------------------


def test_params_refuse_what_the_recorder_could_not_produce() -> None:
    with pytest.raises(ValueError, match="whole millisecond"):
        DayParams(start=datetime(2026, 12, 4, 4, 0, 0, 500, tzinfo=UTC))
    with pytest.raises(ValueError, match="divide a day"):
        DayParams(chunk_s=7)
    with pytest.raises(ValueError, match="aware"):
        DayParams(start=datetime(2026, 12, 4, 4, 0))


@pytest.mark.parametrize(
    ("start", "chunk_s", "seconds", "expected"),
    [
        ("2026-12-04T04:00:00Z", 60, 150.0, [60.0, 60.0, 30.0]),
        ("2026-12-04T04:00:25.5Z", 60, 100.0, [34.5, 60.0, 5.5]),
        ("2026-12-04T04:00:25.5Z", 20, 40.0, [14.5, 20.0, 5.5]),
        ("2026-12-04T04:00:00Z", 60, 120.0, [60.0, 60.0]),
    ],
)
def test_cuts_fall_on_the_clock(
    start: str, chunk_s: int, seconds: float, expected: list[float]
) -> None:
    params = DayParams(start=datetime.fromisoformat(start), chunk_s=chunk_s)
    pieces = cuts(round(seconds * 16000), params)
    assert [(c.end - c.start) / 16000 for c in pieces] == expected
    assert pieces[0].start_us == params.start_us
    assert all(c.start_us % (chunk_s * 1_000_000) == 0 for c in pieces[1:])
    assert all(a.end == b.start for a, b in itertools.pairwise(pieces))


def test_layout_is_seeded_and_keeps_each_silence() -> None:
    script = parse_script(yaml.safe_load(SHORT))
    speech = [[np.ones(8000, np.float32)] * 2, [np.ones(4000, np.float32)] * 2]
    one = lay_out(script, speech, DayParams())
    assert one == lay_out(script, speech, DayParams())
    assert one != lay_out(script, speech, DayParams(seed=2))
    a0, a1, b0, b1 = one.placed
    assert a0.start == 2 * 16000 and b0.start - a1.end == 13 * 16000
    assert all(8000 <= gap <= 19200 for gap in (a1.start - a0.end, b1.start - b0.end))
    assert one.samples == b1.end + 15 * 16000


# --- a synthesized day --------------------------------------------------------------------


@pytest.fixture(scope="module")
def tools() -> None:
    """Checked when a test needs them, not at collection (festival takes ~0.4 s)."""
    if missing_tools():
        pytest.skip(
            f"missing {', '.join(missing_tools())} (Debian: festival festvox-ru sox ffmpeg)"
        )


@pytest.fixture(scope="module")
def dev_day(tools: None) -> ShopDay:
    if not DEV.exists():
        pytest.skip(f"{DEV} is not there")
    return build_shop_day(DEV)


@pytest.fixture(scope="module")
def decoded(dev_day: ShopDay) -> np.ndarray:
    return np.concatenate([decode(chunk.path) for chunk in dev_day.chunks])


def _seconds(day: ShopDay, moment: datetime) -> float:
    return (moment - day.start).total_seconds()


@pytest.mark.slow
def test_chunks_are_clock_aligned_and_decode_to_their_length(dev_day: ShopDay) -> None:
    chunks = dev_day.chunks
    assert chunks[0].start == dev_day.start == datetime(2026, 12, 4, 4, 0, 32, tzinfo=UTC)
    assert chunks[0].samples == 28 * 16000  # started mid-minute: a short first chunk
    assert all(c.start.second == 0 and c.start.microsecond == 0 for c in chunks[1:])
    assert all(a.end == b.start for a, b in itertools.pairwise(chunks))
    assert chunks[-1].end == dev_day.end
    assert sum(c.samples for c in chunks) == round(_seconds(dev_day, dev_day.end) * 16000)
    for chunk in chunks:
        assert abs(probe_duration(chunk.path) - chunk.samples / 16000) <= 0.030
        assert len(decode(chunk.path)) == chunk.samples
        assert abs(chunk.duration_s - chunk.samples / 16000) <= 0.030


@pytest.mark.slow
def test_the_truth_is_consistent(dev_day: ShopDay) -> None:
    script = load_script(DEV)
    assert [d.id for d in dev_day.dialogues] == [d.id for d in script.dialogues]
    previous_end = dev_day.start
    for truth, dialogue in zip(dev_day.dialogues, script.dialogues, strict=True):
        silence = (truth.start - previous_end).total_seconds()
        assert silence == pytest.approx(dialogue.silence_before_s, abs=1e-4)
        assert [(t.who, t.text) for t in truth.turns] == [(t.who, t.text) for t in dialogue.turns]
        assert truth.upsell == dialogue.upsell.model_dump(mode="json")
        for a, b in itertools.pairwise(truth.turns):
            assert 0.5 - 1e-4 <= (b.start - a.end).total_seconds() <= 1.2 + 1e-4
        assert all(truth.start <= t.start < t.end <= truth.end for t in truth.turns)
        overlapped = tuple(
            c.index for c in dev_day.chunks if c.start < truth.end and truth.start < c.end
        )
        assert truth.chunks == overlapped
        previous_end = truth.end
    assert (dev_day.end - previous_end).total_seconds() == pytest.approx(15.0, abs=1e-4)


@pytest.mark.slow
def test_some_dialogues_cross_a_chunk_boundary(dev_day: ShopDay) -> None:
    crossing = [d for d in dev_day.dialogues if d.crosses_boundary]
    assert [d.id for d in crossing] == ["d03", "d06", "d08"]
    for dialogue in crossing:
        inside = [c for c in dev_day.chunks if c.index in dialogue.chunks]
        assert dialogue.start < inside[0].end and inside[-1].start < dialogue.end


def _rms(audio: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(audio, dtype=np.float64)))) if len(audio) else 0.0


@pytest.mark.slow
def test_speech_is_where_the_truth_says(dev_day: ShopDay, decoded: np.ndarray) -> None:
    """Every turn is loud; the decoded audio just outside it (20-120 ms away) is
    as quiet as the room: truth and audio agree to within ~20 ms."""
    rate = dev_day.sample_rate

    def at(moment: datetime) -> int:
        return round(_seconds(dev_day, moment) * rate)

    turns = [t for d in dev_day.dialogues for t in d.turns]
    speech = np.zeros(len(decoded), bool)
    for turn in turns:
        speech[at(turn.start) : at(turn.end)] = True
    room = _rms(decoded[~speech])
    assert room < 0.01
    guard, window = round(0.020 * rate), round(0.100 * rate)
    for turn in turns:
        start, end = at(turn.start), at(turn.end)
        assert _rms(decoded[start:end]) > 10 * room, turn.text
        before = decoded[start - guard - window : start - guard]
        after = decoded[end + guard : end + guard + window]
        assert _rms(before) < 3 * room and _rms(after) < 3 * room, turn.text


@pytest.mark.slow
def test_the_cache_returns_the_same_day_fast(dev_day: ShopDay) -> None:
    began = time.monotonic()
    again = build_shop_day(DEV)
    assert time.monotonic() - began < 0.5
    assert again == dev_day
    assert dev_day.folder.parent == ROOT / ".cache" / "shopday"


@pytest.mark.slow
def test_a_mid_minute_start_and_concurrent_builds(tools: None, tmp_path: Path) -> None:
    script = tmp_path / "short.yaml"
    script.write_text(SHORT, encoding="utf-8")
    cache = tmp_path / "cache"
    start = "2026-12-04T04:00:25.500Z"
    code = (
        "import sys, json; from pathlib import Path; from datetime import datetime;"
        "from tests.support.shopday import DayParams, build_shop_day;"
        f"p = DayParams(start=datetime.fromisoformat({start!r}), chunk_s=20);"
        f"d = build_shop_day(Path({str(script)!r}), p, Path({str(cache)!r}));"
        "print(json.dumps(d.to_json()))"
    )
    runs = [
        subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [json.loads(run.communicate(timeout=120)[0]) for run in runs]
    assert all(run.returncode == 0 for run in runs)
    assert outputs[0] == outputs[1]
    published = [p for p in cache.iterdir() if not p.name.startswith(".")]
    assert len(published) == 1 and not list(cache.glob(".tmp-*"))
    day = ShopDay.from_json(outputs[0], published[0])
    first = day.chunks[0]
    assert first.start == datetime(2026, 12, 4, 4, 0, 25, 500_000, tzinfo=UTC)
    assert first.samples == round(14.5 * 16000)
    assert all(c.start.second % 20 == 0 and c.start.microsecond == 0 for c in day.chunks[1:])
    assert day.dialogues[0].start == first.start + timedelta(seconds=2)


@pytest.mark.slow
def test_the_cli_writes_chunks_and_truth(dev_day: ShopDay, tmp_path: Path) -> None:
    out = tmp_path / "day"
    assert shopday_cli(["--dialogues", str(DEV), "--out", str(out)]) == 0
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    assert truth == dev_day.to_json()
    assert all((out / chunk["file"]).is_file() for chunk in truth["chunks"])
    assert (out / "day.wav").is_file()


# --- normalization and WER ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1200", "тысяча двести"),
        ("200", "двести"),
        ("С вас 1 200 ₸.", "с вас тысяча двести тенге"),
        ("2100 тенге", "две тысячи сто тенге"),
        ("Ещё что-нибудь?", "еще что нибудь"),
        ("Всё — «ОК»!", "все ок"),
        ("1300инге", "тысяча триста инге"),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_spell_number() -> None:
    assert spell_number(1650) == "тысяча шестьсот пятьдесят"
    assert spell_number(21) == "двадцать один"
    assert spell_number(1_001_000) == "миллион одна тысяча"


def test_wer_counts() -> None:
    same = wer("С вас тысяча двести тенге.", "с вас 1200 тенге")
    assert (same.errors, same.reference_words, same.rate) == (0, 5, 0.0)
    one = wer("капучино пожалуйста", "к пучина пожалуйста")
    assert (one.substitutions, one.insertions, one.deletions) == (1, 1, 0) and one.rate == 1.0
    gone = wer("да нет", "")
    assert (gone.deletions, gone.rate) == (2, 1.0)
    assert wer("", "").rate == 0.0
    total = corpus_wer([("а б в г", "а б в г"), ("да", "нет")])
    assert (total.errors, total.reference_words, total.rate) == (1, 5, 0.2)
