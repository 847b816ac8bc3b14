"""`salesbot openapi`: print the service's OpenAPI document (JSON), which the running
service shows only in development mode."""

from __future__ import annotations

import argparse
import json
import secrets
import sys

from api.app import create_app
from core.settings import load_settings


def openapi_main(args: argparse.Namespace) -> int:
    app = create_app(load_settings(), api_key=secrets.token_urlsafe(16))
    json.dump(app.openapi(), sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("openapi", help="print the HTTP API's OpenAPI document (JSON)")
    p.set_defaults(func=openapi_main)
