"""Hot reload of the knowledge base: the admin endpoint and SIGHUP both call
`reload_kb`, which re-reads the KB directory off the event loop and swaps it in
only when the new content is valid."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Coroutine
from typing import Any

from kb import KBError, KBHolder, KnowledgeBase

log = logging.getLogger("salesbot.api")


async def reload_kb(kb: KBHolder) -> KnowledgeBase:
    """Reload the KB off the event loop (index builds take seconds)."""
    return await asyncio.to_thread(kb.reload)


def install_reload_signal(kb: KBHolder) -> None:
    """SIGHUP reloads the KB, the way daemons reload their configuration."""

    async def reload_logged() -> None:
        # KBHolder logs why a reload is rejected; the old KB keeps serving.
        with contextlib.suppress(KBError):
            await reload_kb(kb)

    try:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, lambda: _spawn(reload_logged()))
    except (NotImplementedError, RuntimeError, ValueError):
        log.info("SIGHUP reload unavailable here; use POST /api/v1/admin/kb/reload")


def remove_reload_signal() -> None:
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)


_background: set[asyncio.Task[None]] = set()


def _spawn(coro: Coroutine[Any, Any, None]) -> None:
    # Keep a reference: the loop holds tasks only weakly.
    task = asyncio.get_running_loop().create_task(coro)
    _background.add(task)
    task.add_done_callback(_background.discard)
