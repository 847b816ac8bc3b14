"""The KB the service serves, swappable at run time, and its dense index
attached in the background.

The lexical index is ready in seconds; the dense one can take minutes to embed
(about eight on two cores for the company KB). So the holder serves the lexical
KB at once and, when dense retrieval is on, loads or builds the dense index in a
background thread, then swaps in the same KB with it (hybrid). Nothing waits for
that thread: a start, `/ready` and a reload answer at once. If the model cannot
load or the build fails, the service stays lexical and `status` says why.

The build runs on a bounded number of the engine's threads (`kb.dense.
build_threads`) at a lower CPU priority, so the cores it leaves keep answering.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from core.settings import KBSettings
from kb.base import KnowledgeBase, open_dense_index, open_kb
from kb.dense import BuildCancelled, DenseUnavailable, embeddings_id, load_embeddings, resolve
from kb.loader import KBError

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

log = logging.getLogger(__name__)

Retrieval = Literal["lexical", "building", "hybrid"]

BUILD_NICENESS = 10
"""How much lower the build thread's CPU priority is (Linux: per thread)."""


@dataclass(frozen=True, slots=True)
class RetrievalStatus:
    """What the service ranks with now, and why not hybrid when it is not."""

    retrieval: Retrieval
    reason: str | None = None


class KBHolder:
    """The current KB, swappable at run time (admin endpoint, SIGHUP).

    `reload()` builds a complete new lexical KB first and swaps the reference only
    when it succeeded; searches in flight keep the KB they started with. A broken
    KB leaves the current one serving and raises, so the caller can report why.
    With `dense`, each KB gets its dense index in the background (see the module).
    `embeddings` replaces the model `settings.dense` names (tests, benchmarks).
    """

    def __init__(
        self,
        settings: KBSettings,
        *,
        dense: bool = False,
        embeddings: Embeddings | None = None,
        kb: KnowledgeBase | None = None,
    ):
        self._settings = settings
        self._dense = dense
        self._model = embeddings
        self._lock = threading.Lock()
        self._current = kb if kb is not None else open_kb(settings)
        self._status = RetrievalStatus("lexical", None if dense else "dense retrieval is off")
        self._cancel = threading.Event()
        self._worker: threading.Thread | None = None
        self._building: str | None = None
        """The content hash whose dense index is being built, if any."""
        self._settled = threading.Event()
        self._settled.set()
        if dense:
            self._attach_dense(self._current)

    @property
    def current(self) -> KnowledgeBase:
        return self._current

    @property
    def status(self) -> RetrievalStatus:
        return self._status

    def wait_settled(self, timeout: float | None = None) -> bool:
        """Block until no dense index is being built (tests, `kb index`)."""
        return self._settled.wait(timeout)

    def close(self) -> None:
        """Stop a build in progress at its next batch (service shutdown)."""
        self._cancel.set()

    def reload(self) -> KnowledgeBase:
        """Re-read the KB directory and swap it in. Blocking (seconds when the
        content changed): call it from a worker thread in async code.

        Unchanged content keeps its dense index. Changed content is served
        lexically at once while its dense index is built; the old dense index
        cannot rank the new sections, and the new facts matter more.

        Raises `KBError` (with every problem listed) and keeps the old KB when the
        new content is invalid.
        """
        with self._lock:
            try:
                fresh = open_kb(self._settings)
            except KBError as exc:
                log.error(
                    "kb reload rejected; still serving %s",
                    self._current.content_hash[:12],
                    extra={"kb_errors": len(exc.errors)},
                )
                raise
            previous = self._current
            same = fresh.content_hash == previous.content_hash
            if same and previous.dense is not None:
                fresh = fresh.with_dense(previous.dense)
            self._current = fresh
            log.info(
                "kb reloaded",
                extra={
                    "kb_hash_before": previous.content_hash[:12],
                    "kb_hash": fresh.content_hash[:12],
                    "kb_retrieval": fresh.retrieval,
                },
            )
            # The same content's build under way carries on: it is switched into
            # whichever KB with that content is current when it is done.
            if self._dense and fresh.dense is None and self._building != fresh.content_hash:
                self._attach_dense(fresh)
            return fresh

    def _attach_dense(self, kb: KnowledgeBase) -> None:
        """Start a background load or build of `kb`'s dense index, stopping the
        one under way (it was for a KB no longer served)."""
        self._cancel.set()
        cancel = threading.Event()
        self._cancel = cancel
        self._building = kb.content_hash
        self._settled.clear()
        self._set_status(RetrievalStatus("building", "dense index loading or building"))
        worker = threading.Thread(
            target=self._build, args=(kb, cancel), name="kb-dense", daemon=True
        )
        self._worker = worker
        worker.start()

    def _build(self, kb: KnowledgeBase, cancel: threading.Event) -> None:
        started = time.perf_counter()
        try:
            _lower_priority()
            model = self._load_model()
            with _thread_limit(self._settings.dense.build_threads):
                dense, from_cache = open_dense_index(
                    self._settings, kb.sections, model, cancelled=cancel.is_set
                )
        except BuildCancelled:
            log.info("kb retrieval: dense build for %s stopped", kb.content_hash[:12])
            return
        except DenseUnavailable as exc:
            self._finish(cancel, RetrievalStatus("lexical", f"dense model unavailable: {exc}"))
            return
        except Exception as exc:  # a failed build must leave the service lexical, not down
            log.exception("kb retrieval: dense index failed")
            self._finish(cancel, RetrievalStatus("lexical", f"dense index failed: {exc}"))
            return
        with self._lock:
            if cancel.is_set() or self._current.content_hash != kb.content_hash:
                return
            self._current = self._current.with_dense(dense)
            self._finish(
                cancel,
                RetrievalStatus("hybrid"),
                cached=from_cache,
                seconds=round(time.perf_counter() - started, 1),
            )

    def _load_model(self) -> Embeddings:
        # Loaded once; a reload reuses it. A failure is retried at the next reload.
        if self._model is None:
            self._model = load_embeddings(resolve(self._settings.dense).model)
            log.info("kb retrieval: dense model %s loaded", embeddings_id(self._model))
        return self._model

    def _finish(self, cancel: threading.Event, status: RetrievalStatus, **extra: object) -> None:
        if cancel.is_set():
            return
        self._building = None
        self._set_status(status, **extra)
        self._settled.set()

    def _set_status(self, status: RetrievalStatus, **extra: object) -> None:
        self._status = status
        fields: dict[str, object] = {
            "kb_retrieval": status.retrieval,
            "kb_hash": self._current.content_hash[:12],
        }
        fields.update({f"kb_dense_{k}": v for k, v in extra.items()})
        if status.reason and status.retrieval == "lexical":
            log.warning("kb retrieval: lexical (%s)", status.reason, extra=fields)
        else:
            log.info("kb retrieval: %s", status.retrieval, extra=fields)


def _lower_priority() -> None:
    """This thread (only: Linux priorities are per thread) yields the CPU to the
    threads that answer requests."""
    with contextlib.suppress(AttributeError, OSError):  # not Linux
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BUILD_NICENESS)


def _thread_limit(threads: int) -> contextlib.AbstractContextManager[object]:
    """The embedding engine's OpenMP work on `threads` threads while this thread
    builds. omp_set_num_threads applies to the calling thread only, so requests
    embed their queries with all the cores. Call after the model is loaded: its
    OpenMP library is loaded with it."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the engines that use OpenMP come with it
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads, user_api="openmp")
