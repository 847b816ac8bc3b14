"""A round-robin front for benchmarks: one loopback address before several
instances of the service, as nginx's upstream is in production.

Each client connection goes to the next instance in turn; a client that opens a
connection per request (no keep-alive) is spread per request. An instance that
refuses the connection (killed, not yet started again) is skipped for the next
one, as nginx's `proxy_next_upstream error` does; an instance that dies in the
middle of a request closes the client's connection, which the client retries.
Loopback only, a byte pipe: the front never reads HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import Counter

from tests.support.net import free_port


class RoundRobinFront:
    def __init__(self, backends: list[int]):
        self.backends = backends
        self.port = free_port()
        self.chosen: Counter[int] = Counter()
        """Backend port → connections it took."""
        self._turn = itertools.cycle(range(len(backends)))
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> RoundRobinFront:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        for _ in self.backends:
            port = self.backends[next(self._turn)]
            with contextlib.suppress(OSError):
                pair = await asyncio.open_connection("127.0.0.1", port)
                self.chosen[port] += 1
                return pair
        return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream = await self._connect()
        if upstream is None:  # every instance down: the client sees a closed connection
            writer.close()
            return
        up_reader, up_writer = upstream
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except asyncio.CancelledError:
            # The benchmark's event loop is ending with requests still open (its
            # customers were cancelled): close both sides and end quietly, where
            # a cancelled connection task would be logged as an error by asyncio.
            writer.close()
            up_writer.close()


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    """Copy until either side closes, then close the destination."""
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while chunk := await src.read(65536):
            dst.write(chunk)
            await dst.drain()
    with contextlib.suppress(OSError):
        dst.close()
