"""Fetch the dashboard's one front-end library, htmx, from the npm registry into
`static/vendor/` (`python -m salescontrol.dashboard.vendor`), checking the
registry's published integrity hash.

The result is committed, so neither the service nor its tests reach the network;
this script is how the file was made and how it is updated: change VERSION and
INTEGRITY (from https://registry.npmjs.org/htmx.org/<version>) and run it again.
"""

from __future__ import annotations

import base64
import hashlib
import io
import sys
import tarfile
import urllib.request
from pathlib import Path

PACKAGE = "htmx.org"
VERSION = "2.0.11"
INTEGRITY = (
    "sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA"
    "=="
)
FILES = {"package/dist/htmx.min.js": "htmx.min.js", "package/LICENSE": "htmx.LICENSE"}
TARGET = Path(__file__).parent / "static" / "vendor"


def fetch() -> bytes:
    url = f"https://registry.npmjs.org/{PACKAGE}/-/{PACKAGE}-{VERSION}.tgz"
    with urllib.request.urlopen(url, timeout=60) as response:
        data: bytes = response.read()
    algorithm, expected = INTEGRITY.split("-", 1)
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if actual != expected:
        raise SystemExit(f"{url}: integrity mismatch ({algorithm} {actual})")
    return data


def main() -> int:
    TARGET.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(fetch()), mode="r:gz") as archive:
        for member, name in FILES.items():
            source = archive.extractfile(member)
            if source is None:
                raise SystemExit(f"{member} is missing from the package")
            (TARGET / name).write_bytes(source.read())
    sys.stdout.write(f"{PACKAGE} {VERSION} -> {TARGET}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
