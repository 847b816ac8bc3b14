"""A real nginx for the deployment tests: a shipped site rendered onto loopback
ports with a self-signed certificate, checked with `nginx -t`, run in the
foreground and always stopped afterwards."""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.net import stop


def find_nginx() -> str | None:
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None


def require_nginx() -> str:
    """nginx's path; the test skips without it."""
    found = find_nginx()
    if found is None:
        pytest.skip("nginx is not installed (.ci/run installs it from Debian's packages)")
    return found


def replace(text: str, old: str, new: str, count: int = 1) -> str:
    """Replace `old`, which the shipped file must contain exactly `count` times:
    a changed site breaks the test instead of being tested half-rendered."""
    found = text.count(old)
    assert found == count, f"{old!r} occurs {found} times in the site, expected {count}"
    return text.replace(old, new)


@dataclass(frozen=True)
class Ports:
    http: int
    https: int
    upstream: int


@dataclass(frozen=True)
class Proxy:
    """A running site: its URLs, the certificate it presents, its access log."""

    https: str
    http: str
    cert: Path
    ports: Ports
    access_log: Path

    def client(self, local_address: str | None = None) -> httpx.Client:
        """HTTPS with the test's own certificate as the trust anchor (stricter than
        verify=False), optionally from another loopback address."""
        context = ssl.create_default_context(cafile=str(self.cert))
        transport = httpx.HTTPTransport(verify=context, local_address=local_address)
        return httpx.Client(base_url=self.https, transport=transport, timeout=30)


def nginx_conf(prefix: Path, site: str, *, http_snippet: str = "") -> Path:
    """A top-level nginx.conf in `prefix` that includes the rendered `site` (with
    `http_snippet` in the http context, where a real server has conf.d)."""
    prefix.mkdir(parents=True, exist_ok=True)
    (prefix / "site.conf").write_text(site, encoding="utf-8")
    # As root, the master drops its workers to `user` (default nobody, who could
    # not read the temp dirs); as anyone else the directive is ignored, so leave it out.
    user = f"user {getpass.getuser()};" if os.geteuid() == 0 else ""
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"""{user}
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 128; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    {http_snippet}
    include {prefix}/site.conf;
}}
""",
        encoding="utf-8",
    )
    return conf


def nginx_command(nginx: str, conf: Path, *extra: str) -> list[str]:
    prefix = conf.parent
    return [nginx, "-p", f"{prefix}/", "-e", str(prefix / "error.log"), "-c", str(conf), *extra]


def nginx_test(nginx: str, conf: Path) -> None:
    checked = subprocess.run(
        nginx_command(nginx, conf, "-t"), capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, f"nginx -t failed:\n{checked.stderr}"


def wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"nginx exited with {proc.returncode}:\n{log.read_text()}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nginx did not listen on {port}:\n{log.read_text()}")


@contextmanager
def running_nginx(nginx: str, conf: Path, ports: Ports) -> Iterator[None]:
    """nginx in the foreground on the test's ports; always stopped afterwards."""
    nginx_test(nginx, conf)
    proc = subprocess.Popen(
        nginx_command(nginx, conf), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(ports.https, proc, conf.parent / "error.log")
        wait_for_port(ports.http, proc, conf.parent / "error.log")
        yield
    finally:
        stop(proc, timeout_s=10)  # SIGTERM: nginx's fast shutdown, workers included


@contextmanager
def running_proxy(nginx: str, conf: Path, ports: Ports, cert: Path) -> Iterator[Proxy]:
    """`running_nginx` as the Proxy a test talks to (the access log of the site
    rendered into conf's directory)."""
    with running_nginx(nginx, conf, ports):
        yield Proxy(
            https=f"https://localhost:{ports.https}",
            http=f"http://127.0.0.1:{ports.http}",
            cert=cert,
            ports=ports,
            access_log=conf.parent / "access.log",
        )


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for localhost: openssl's CLI, else the cryptography package."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "cert.pem", directory / "key.pem"
    openssl = shutil.which("openssl")
    if openssl:
        subprocess.run(
            [
                *(openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
                *("-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"),
                *("-keyout", str(key), "-out", str(cert)),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        return cert, key
    try:
        import datetime

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        pytest.skip("neither the openssl CLI nor the cryptography package is available")
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, key
