"""The deployment kit in deploy/.

The nginx site is proven end to end: rendered with a self-signed certificate and
free loopback ports, checked with `nginx -t`, then run by a real nginx in front of
`salesbot serve` (with the Ollama stub as Ollama) and exercised over HTTPS. The
systemd units go through `systemd-analyze verify` where it exists and through
plain checks of the settings the runbook relies on; the env example is checked
against the variables the service knows; warmup.sh runs against the stub.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.settings import Environment, FeatureFlags
from tests.support import ROOT
from tests.support.net import free_port, stop, wait_until_up
from tests.support.nginx import (
    Ports,
    Proxy,
    nginx_command,
    nginx_conf,
    nginx_test,
    replace,
    require_nginx,
    running_nginx,
    running_proxy,
    self_signed_certificate,
)
from tests.support.ollama_stub import DEFAULT_MODEL, OllamaStub, canned_reply
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

DEPLOY = ROOT / "deploy"
SITE = DEPLOY / "nginx" / "crm-sales-bot.conf"
RATE_LIMIT = DEPLOY / "nginx" / "crm-sales-bot-ratelimit.conf"
UNIT = DEPLOY / "crm-sales-bot.service"
BACKUP_UNIT = DEPLOY / "crm-sales-bot-backup.service"
BACKUP_TIMER = DEPLOY / "crm-sales-bot-backup.timer"
OLLAMA_DROP_IN = DEPLOY / "ollama-override.conf"
ENV_EXAMPLE = DEPLOY / "crm-sales-bot.env.example"
SALESBOT = Path(sys.executable).with_name("salesbot")
CHECKOUT = "/home/deploy/crm_sales_bot"  # the runbook's layout, as the units name it
API_KEY = "deploy-test-key"
# Variables the service reads that are not fields of core.settings.Environment.
EXTRA_VARIABLES: set[str] = set()

# --- file parsing -------------------------------------------------------------

ENV_LINE = re.compile(r"^(#\s*)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def parse_env_example() -> tuple[dict[str, str], dict[str, str]]:
    """(active, commented) NAME=value lines of the env example."""
    active: dict[str, str] = {}
    commented: dict[str, str] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = ENV_LINE.match(line.strip())
        if match:
            (commented if match.group(1) else active)[match.group(2)] = match.group(3)
    return active, commented


# --- nginx harness ------------------------------------------------------------


def render_site(
    cert: Path,
    key: Path,
    ports: Ports,
    *,
    allow: tuple[str, ...] = (),
    rate_limit: bool = False,
) -> str:
    """The shipped site with the test's certificate, server name and loopback ports.

    `allow` uncomments the allowlist with these addresses; `rate_limit` uncomments
    the limit_req line (the zone then comes from the shipped conf.d snippet)."""
    text = SITE.read_text(encoding="utf-8")
    text = replace(text, "server_name bot.example.com;", "server_name localhost;", count=2)
    text = replace(text, "/etc/letsencrypt/live/bot.example.com/fullchain.pem", str(cert))
    text = replace(text, "/etc/letsencrypt/live/bot.example.com/privkey.pem", str(key))
    text = replace(text, "server 127.0.0.1:8000;", f"server 127.0.0.1:{ports.upstream};")
    text = replace(text, "listen 80;", f"listen 127.0.0.1:{ports.http};")
    text = replace(text, "listen 443 ssl http2;", f"listen 127.0.0.1:{ports.https} ssl http2;")
    # IPv6 may be missing in a CI container; the IPv4 lines carry the test.
    text = replace(text, "listen [::]:80;", "")
    text = replace(text, "listen [::]:443 ssl http2;", "")
    if allow:
        allowed = " ".join(f"allow {address};" for address in allow)
        text = replace(text, "# allow 203.0.113.10;", allowed)
        text = replace(text, "# allow 203.0.113.11;", "")
        text = replace(text, "# deny all;", "deny all;")
    if rate_limit:
        text = replace(text, "# limit_req zone=crm_sales_bot", "limit_req zone=crm_sales_bot")
    return text


def write_nginx_conf(prefix: Path, site: str, *, rate_limit: bool) -> Path:
    """The rendered site under a top-level nginx.conf in `prefix`, its logs there
    too (and the rate-limit snippet in the http context, where the real server
    has conf.d)."""
    site = replace(site, "/var/log/nginx/access.log", f"{prefix}/access.log", count=2)
    site = replace(site, "/var/log/nginx/error.log", f"{prefix}/error.log")
    snippet = f"include {RATE_LIMIT};" if rate_limit else ""
    return nginx_conf(prefix, site, http_snippet=snippet)


def process_body(text: str = "Здравствуйте, сколько стоит Wipon?") -> dict[str, object]:
    return {
        "request_id": f"deploy-{time.monotonic_ns()}",
        "channel": "whatsapp",
        "session_id": "BOT_7000",
        "user_id": "77020000001",
        "message": {"text": text},
    }


# --- fixtures -----------------------------------------------------------------


@pytest.fixture(scope="module")
def nginx() -> str:
    return require_nginx()


@pytest.fixture(scope="module")
def certificate(nginx: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def app_port(nginx: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """`salesbot serve` as systemd starts it: HOST/PORT/API_KEY from the environment."""
    tmp = tmp_path_factory.mktemp("app")
    with OllamaStub(fallback=canned_reply) as stub:
        port = free_port()
        env = {name: value for name, value in os.environ.items() if not name.startswith("FF_")}
        env.pop("KB_PATH", None)
        env.update(
            API_KEY=API_KEY,
            OLLAMA_BASE_URL=stub.url,
            DB_PATH=str(tmp / "data" / "conversations.db"),
            KB_CACHE_DIR=str(tmp / "data" / "kb-cache"),
            HOST="127.0.0.1",
            PORT=str(port),
        )
        with (tmp / "serve.log").open("wb") as log:
            proc = subprocess.Popen(
                [str(SALESBOT), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
            )
            try:
                wait_until_up(f"http://127.0.0.1:{port}", proc, health_path="/health")
                yield port
            finally:
                stop(proc)


@pytest.fixture(scope="module")
def proxy(
    nginx: str,
    certificate: tuple[Path, Path],
    app_port: int,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Proxy]:
    """The shipped site, allowlist and rate limit switched on, in front of the app."""
    cert, key = certificate
    ports = Ports(http=free_port(), https=free_port(), upstream=app_port)
    site = render_site(cert, key, ports, allow=("127.0.0.1",), rate_limit=True)
    conf = write_nginx_conf(tmp_path_factory.mktemp("nginx"), site, rate_limit=True)
    with running_proxy(nginx, conf, ports, cert) as running:
        yield running


# --- nginx: configuration ------------------------------------------------------


def test_shipped_site_passes_nginx_t(
    nginx: str, certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    """As shipped (allowlist and rate limit commented out), only paths and ports changed."""
    cert, key = certificate
    ports = Ports(http=free_port(), https=free_port(), upstream=8000)
    nginx_test(nginx, write_nginx_conf(tmp_path, render_site(cert, key, ports), rate_limit=False))


def test_rate_limit_line_needs_the_snippet_in_http_context(
    nginx: str, certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    """Uncommenting limit_req without the conf.d snippet is an error, with it it is
    valid: the snippet is what provides the zone."""
    cert, key = certificate
    ports = Ports(http=free_port(), https=free_port(), upstream=8000)
    site = render_site(cert, key, ports, rate_limit=True)
    without = write_nginx_conf(tmp_path / "without", site, rate_limit=False)
    checked = subprocess.run(
        nginx_command(nginx, without, "-t"), capture_output=True, text=True, timeout=30
    )
    assert checked.returncode != 0
    assert "crm_sales_bot" in checked.stderr
    nginx_test(nginx, write_nginx_conf(tmp_path / "with", site, rate_limit=True))


# --- nginx: in front of the running service -------------------------------------


@pytest.mark.slow
def test_health_over_tls(proxy: Proxy) -> None:
    with proxy.client() as client:
        response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "model": DEFAULT_MODEL}
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert "nginx/" not in response.headers.get("server", "")  # server_tokens off


@pytest.mark.slow
def test_process_passes_the_bearer_key_through(proxy: Proxy) -> None:
    with proxy.client() as client:
        response = client.post(
            "/api/v1/process",
            json=process_body(),
            headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=60,
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["answer"].strip()
    assert body["meta"]["model"] == DEFAULT_MODEL


@pytest.mark.slow
def test_process_without_or_with_a_wrong_key_is_401_json(proxy: Proxy) -> None:
    with proxy.client() as client:
        missing = client.post("/api/v1/process", json=process_body())
        wrong = client.post(
            "/api/v1/process", json=process_body(), headers={"Authorization": "Bearer nope"}
        )
    for response in (missing, wrong):
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["error"]["code"] == "UNAUTHORIZED"


@pytest.mark.slow
def test_plain_http_redirects_to_https(proxy: Proxy) -> None:
    response = httpx.get(
        f"{proxy.http}/api/v1/process?probe=1", headers={"Host": "localhost"}, timeout=10
    )
    assert response.status_code == 301
    assert response.headers["location"] == "https://localhost/api/v1/process?probe=1"


@pytest.mark.slow
def test_body_limits_answer_json_413_from_app_and_from_nginx(proxy: Proxy) -> None:
    """Between 1 MB and nginx's 2m the app answers; above 2m nginx does, same shape."""
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    with proxy.client() as client:
        by_app = client.post("/api/v1/process", content=b" " * 1_500_000, headers=headers)
        by_nginx = client.post("/api/v1/process", content=b" " * 3_000_000, headers=headers)
    for response in (by_app, by_nginx):
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert by_app.json()["error"]["message"] != by_nginx.json()["error"]["message"]


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/metrics", "/docs", "/redoc", "/openapi.json"])
def test_metrics_and_api_documents_stay_on_the_host(proxy: Proxy, path: str) -> None:
    with proxy.client() as client:
        response = client.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"
    if path == "/metrics":
        upstream = httpx.get(f"http://127.0.0.1:{proxy.ports.upstream}{path}", timeout=10)
        assert upstream.status_code == 200


@pytest.mark.slow
def test_access_log_names_no_customer(proxy: Proxy) -> None:
    """The profile route has the user_id (a phone number) in its path."""
    phone = "77020000042"
    with proxy.client() as client:
        response = client.get(
            f"/api/v1/users/{phone}/profile?user={phone}",
            headers={"Authorization": f"Bearer {API_KEY}"},
        )
    assert response.status_code == 404
    redirect = httpx.get(
        f"{proxy.http}/api/v1/users/{phone}/profile", headers={"Host": "localhost"}, timeout=10
    )
    assert redirect.status_code == 301
    with proxy.client() as client:
        # Odd spellings of the route: upper case, and an id split by an encoded '/'.
        for path in (f"/API/V1/USERS/{phone}/profile", "/api/v1/users/7702%2F0000042/profile"):
            client.get(path, headers={"Authorization": f"Bearer {API_KEY}"})
    logged = proxy.access_log.read_text(encoding="utf-8")
    assert logged.count('"GET /api/v1/users/-/profile HTTP/1.1" ') == 3, logged
    assert logged.count('"GET /api/v1/users/- HTTP/1.1" ') == 1, logged
    assert phone not in logged and "0000042" not in logged


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("curl") is None, reason="deploy/smoke.sh needs curl")
def test_runbook_smoke_checks_pass_through_nginx(proxy: Proxy) -> None:
    """Section 10 of the runbook, as the admin runs it: HTTPS with certificate checks."""
    smoke = subprocess.run(
        ["bash", str(DEPLOY / "smoke.sh"), proxy.https, API_KEY],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "CURL_CA_BUNDLE": str(proxy.cert)},
    )
    assert smoke.returncode == 0, smoke.stdout + smoke.stderr
    assert "all smoke checks passed" in smoke.stdout


@pytest.mark.slow
def test_rate_limit_answers_429_json(proxy: Proxy) -> None:
    """Last of the proxy tests: it uses up the burst of the limit_req zone."""
    with proxy.client() as client:
        statuses = []
        for _ in range(100):
            response = client.get("/health")
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert response.json()["error"]["code"] == "RATE_LIMIT"
                break
    assert statuses[0] == 200
    assert statuses[-1] == 429, statuses


@pytest.mark.slow
def test_service_down_is_502_json_and_allowlist_refuses_others(
    nginx: str, certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    cert, key = certificate
    dead = Ports(http=free_port(), https=free_port(), upstream=free_port())
    site = render_site(cert, key, dead)
    open_conf = write_nginx_conf(tmp_path / "open", site, rate_limit=False)
    phone = "77020000042"
    with running_nginx(nginx, open_conf, dead):
        context = ssl.create_default_context(cafile=str(cert))
        with httpx.Client(base_url=f"https://localhost:{dead.https}", verify=context) as client:
            response = client.get("/health")
            profile = client.get(f"/API/v1/users/{phone}/profile")
    for answer in (response, profile):
        assert answer.status_code == 502
        assert answer.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    # nginx's error log records a failed connection with the whole request line:
    # it does for /health, and must not for the profile route, whose path holds a
    # phone number.
    errors = (open_conf.parent / "error.log").read_text(encoding="utf-8")
    assert "GET /health " in errors, errors
    assert phone not in errors, errors

    closed = Ports(http=free_port(), https=free_port(), upstream=free_port())
    site = render_site(cert, key, closed, allow=("203.0.113.10",))
    conf = write_nginx_conf(tmp_path / "closed", site, rate_limit=False)
    with running_nginx(nginx, conf, closed):
        context = ssl.create_default_context(cafile=str(cert))
        with httpx.Client(base_url=f"https://localhost:{closed.https}", verify=context) as client:
            assert client.get("/health").status_code == 403


# --- systemd units ------------------------------------------------------------


def test_service_unit_has_what_the_runbook_relies_on() -> None:
    unit = parse_unit(UNIT)
    after = " ".join(unit_values(unit, "Unit", "After")).split()
    assert "ollama.service" in after
    assert unit_value(unit, "Unit", "Requires") == "ollama.service"
    service = {
        "User": "deploy",
        "WorkingDirectory": CHECKOUT,
        "EnvironmentFile": "/etc/crm-sales-bot.env",
        "ExecStart": f"{CHECKOUT}/.venv/bin/salesbot serve",
        "Restart": "on-failure",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "PrivateTmp": "yes",
        "ProtectHome": "tmpfs",
        "ExecStartPost": f"-{CHECKOUT}/deploy/warmup.sh",
    }
    for key, expected in service.items():
        assert unit_value(unit, "Service", key) == expected, key
    assert unit_value(unit, "Service", "ExecReload") == "/bin/kill -HUP $MAINPID"
    assert unit_value(unit, "Install", "WantedBy") == "multi-user.target"
    # ProtectHome=tmpfs hides /home: the checkout must be mounted back, read-only.
    assert unit_values(unit, "Service", "BindReadOnlyPaths") == [CHECKOUT]
    env = unit_environment(unit)
    assert env["HOST"] == "127.0.0.1"
    assert env["PORT"] == "8000"


def test_everything_the_service_writes_is_writable_in_its_sandbox() -> None:
    unit = parse_unit(UNIT)
    writable = writable_paths(unit)
    active, _ = parse_env_example()
    env = {**unit_environment(unit), **active}  # the env file wins, as in systemd
    for name in ("DB_PATH", "KB_CACHE_DIR", "HF_HOME"):
        assert any(is_within(env[name], w) for w in writable), f"{name}={env[name]} is read-only"
    # The data directory is created (outside the sandbox) before it is bind-mounted.
    pre = unit_value(unit, "Service", "ExecStartPre")
    assert pre.startswith("+") and pre.endswith(f" {CHECKOUT}/data"), pre


def test_backup_units_point_at_the_scripts_and_can_write_their_directory() -> None:
    service = parse_unit(BACKUP_UNIT)
    assert unit_value(service, "Service", "Type") == "oneshot"
    assert unit_value(service, "Service", "User") == "deploy"
    assert unit_value(service, "Service", "ExecStart") == f"{CHECKOUT}/deploy/backup.sh"
    backup_dir = unit_environment(service)["BACKUP_DIR"]
    assert any(is_within(backup_dir, w) for w in writable_paths(service))
    assert unit_value(service, "Service", "ExecStartPre").endswith(f" {backup_dir}")
    assert_persistent_timer(BACKUP_TIMER)


def test_scripts_named_by_the_units_exist_and_are_executable() -> None:
    for name in ("warmup.sh", "backup.sh", "restore.sh", "smoke.sh"):
        path = DEPLOY / name
        assert path.is_file() and os.access(path, os.X_OK), f"{path} is not executable"


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    """Paths are moved to this checkout so that the executables exist; a stand-in
    ollama.service satisfies Requires=."""
    if not SALESBOT.exists():
        pytest.skip("the salesbot entry point is not installed in this environment")
    venv_bin = SALESBOT.parent
    for source in (UNIT, BACKUP_UNIT, BACKUP_TIMER):
        text = source.read_text(encoding="utf-8")
        text = text.replace(f"{CHECKOUT}/.venv/bin", str(venv_bin)).replace(CHECKOUT, str(ROOT))
        (tmp_path / source.name).write_text(text, encoding="utf-8")
    drop_in = tmp_path / "ollama.service.d"
    drop_in.mkdir()
    shutil.copy(OLLAMA_DROP_IN, drop_in / "override.conf")
    (tmp_path / "ollama.service").write_text(
        "[Unit]\nDescription=stand-in\n[Service]\nExecStart=/bin/true\n", encoding="utf-8"
    )
    verify_units(tmp_path, [*(p.name for p in (UNIT, BACKUP_UNIT, BACKUP_TIMER)), "ollama.service"])


# --- env example --------------------------------------------------------------


def test_env_example_has_the_runbook_keys() -> None:
    active, commented = parse_env_example()
    required = {
        "API_KEY",
        "DB_PATH",
        "SQLITE_TIMEOUT_SECONDS",
        "SQLITE_BUSY_TIMEOUT_MS",
        "OLLAMA_BASE_URL",
        "OLLAMA_MODEL",
        "KB_CACHE_DIR",
        "HOST",
        "PORT",
        "LOG_LEVEL",
        "LOG_CONVERSATION_TEXT",
    }
    assert required <= set(active), required - set(active)
    assert "KB_PATH" in commented
    assert any(name.startswith("FF_") for name in commented)
    # The service must refuse to start until a real key is put in.
    assert active["API_KEY"] == ""
    assert "secrets.token_urlsafe(32)" in ENV_EXAMPLE.read_text(encoding="utf-8")


def test_env_example_names_only_variables_the_service_knows() -> None:
    active, commented = parse_env_example()
    known = {name.upper() for name in Environment.model_fields} | EXTRA_VARIABLES
    flags = set(FeatureFlags.model_fields)
    for name, value in {**active, **commented}.items():
        if name.startswith("FF_"):
            assert name[3:] in flags, f"{name}: no such feature flag"
            assert value in {"true", "false"}, f"{name}={value}"
        else:
            assert name in known, f"{name} is not read by the service"
    assert "DEV_MODE" not in {**active, **commented}, "never in production"


def test_env_example_values_validate() -> None:
    active, _ = parse_env_example()
    values = {name.lower(): value for name, value in active.items() if name not in EXTRA_VARIABLES}
    env = Environment(**values)  # type: ignore[arg-type]
    assert env.host == "127.0.0.1"
    assert env.log_conversation_text is False


def test_host_and_port_agree_across_env_unit_and_nginx() -> None:
    active, _ = parse_env_example()
    unit_env = unit_environment(parse_unit(UNIT))
    upstream = re.search(r"^\s*server\s+([\d.]+):(\d+);", SITE.read_text(), re.MULTILINE)
    assert upstream is not None
    assert (active["HOST"], active["PORT"]) == (unit_env["HOST"], unit_env["PORT"])
    assert (active["HOST"], active["PORT"]) == (upstream.group(1), upstream.group(2))


# --- warmup.sh ----------------------------------------------------------------

needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="warmup.sh needs curl")


def run_warmup(**env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("FF_", "OLLAMA_", "WARMUP_"))}
    return subprocess.run(
        ["bash", str(DEPLOY / "warmup.sh")],
        capture_output=True,
        text=True,
        timeout=60,
        env={**base, "SALESBOT_PYTHON": sys.executable, **env},
    )


@needs_curl
def test_warmup_loads_the_model_as_the_service_will_call_it() -> None:
    with OllamaStub(fallback=canned_reply) as stub:
        done = run_warmup(OLLAMA_BASE_URL=stub.url)
        assert done.returncode == 0, done.stderr
        (request,) = stub.chat_requests()
    assert request["model"] == DEFAULT_MODEL
    assert request["messages"] == []
    assert request["stream"] is False
    # Same context size as the service's calls, or Ollama would reload the model.
    assert request["options"] == {"num_ctx": 8192}
    assert request["keep_alive"] == "30m"


@needs_curl
def test_warmup_without_the_venv_uses_the_environment() -> None:
    with OllamaStub(fallback=canned_reply, models=["tiny:1b"]) as stub:
        done = run_warmup(
            SALESBOT_PYTHON="/nonexistent/python",
            OLLAMA_BASE_URL=stub.url,
            OLLAMA_MODEL="tiny:1b",
            WARMUP_KEEP_ALIVE="-1",
            WARMUP_NUM_CTX="4096",
        )
        assert done.returncode == 0, done.stderr
        (request,) = stub.chat_requests()
    assert request["model"] == "tiny:1b"
    assert request["keep_alive"] == -1
    assert request["options"] == {"num_ctx": 4096}


@needs_curl
def test_warmup_fails_visibly_for_a_missing_model_or_ollama() -> None:
    with OllamaStub(fallback=canned_reply) as stub:
        missing = run_warmup(OLLAMA_BASE_URL=stub.url, OLLAMA_MODEL="not-pulled:7b")
    assert missing.returncode != 0
    assert "ollama pull not-pulled:7b" in missing.stderr
    down = run_warmup(OLLAMA_BASE_URL=f"http://127.0.0.1:{free_port()}", WARMUP_WAIT_SECONDS="1")
    assert down.returncode != 0
    assert "did not answer" in down.stderr


# --- shell scripts ------------------------------------------------------------

SCRIPTS = sorted(DEPLOY.glob("*.sh"))


def test_scripts_parse_and_use_strict_mode() -> None:
    for script in SCRIPTS:
        parsed = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
        assert parsed.returncode == 0, parsed.stderr
        text = script.read_text(encoding="utf-8")
        assert "set -euo pipefail" in text, script.name
        assert re.search(r"^# Usage:", text, re.MULTILINE | re.IGNORECASE), script.name


def test_scripts_pass_shellcheck() -> None:
    assert_shellcheck_clean(*SCRIPTS, ROOT / ".ci" / "run")


def test_nginx_errors_are_valid_json() -> None:
    """The JSON bodies of the site's own error pages parse, with the API's codes."""
    bodies = re.findall(r"return \d{3} '(.*?)\\n';", SITE.read_text(encoding="utf-8"))
    assert len(bodies) == 5
    for body in bodies:
        error = json.loads(body)["error"]
        assert set(error) == {"code", "message"}


UPSTREAM_HOSTS = DEPLOY / "nginx" / "crm-sales-bot-upstream-hosts.conf"


def test_site_with_the_several_hosts_upstream_passes_nginx_t(
    nginx: str, certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    """The shipped site with its upstream replaced by the several-hosts block, as
    the runbook says (the hosts' addresses moved to loopback ports)."""
    cert, key = certificate
    ports = Ports(http=free_port(), https=free_port(), upstream=8000)
    site = render_site(cert, key, ports)
    single = re.search(r"upstream crm_sales_bot \{.*?\n\}\n", site, re.S)
    assert single is not None
    hosts = UPSTREAM_HOSTS.read_text(encoding="utf-8")
    assert hosts.count("max_fails=2 fail_timeout=10s;") == 2
    hosts = replace(hosts, "10.0.0.11:8000", f"127.0.0.1:{free_port()}")
    hosts = replace(hosts, "10.0.0.12:8000", f"127.0.0.1:{free_port()}")
    site = site.replace(single.group(0), hosts)
    assert "proxy_next_upstream error timeout http_502 http_503;" in site
    # A POST already sent to one host is never resent to another.
    assert not any("non_idempotent" in line.split("#")[0] for line in site.splitlines())
    nginx_test(nginx, write_nginx_conf(tmp_path, site, rate_limit=False))
