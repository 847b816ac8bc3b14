"""GET /health on a local port: the agent's state as JSON, for a technician's curl
and for monitoring (200 while recording, idle or starting; 503 when the disk is
full or ffmpeg keeps failing). The standard library's threaded HTTP server in a
daemon thread: it only reads `Status.health()`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from salescontrol.recorder.status import HEALTHY_STATES

log = logging.getLogger(__name__)


class HealthServer:
    def __init__(self, host: str, port: int, snapshot: Callable[[], dict[str, Any]]) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] != "/health":
                    self._send(404, {"error": {"code": "not_found", "message": "try /health"}})
                    return
                body = outer.snapshot()
                self._send(200 if body["state"] in HEALTHY_STATES else 503, body)

            def _send(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body, ensure_ascii=False).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("health: " + format, *args)

        self.snapshot = snapshot
        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="health", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
