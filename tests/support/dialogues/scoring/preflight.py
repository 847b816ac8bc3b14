"""Before a scorecard run: does the URL answer as Ollama, and does it have the
model? Asked once through `/api/tags`, so that an operator's typo costs one
clear line instead of a run of failed turns."""

from __future__ import annotations

import httpx

TIMEOUT_S = 10.0


class PreflightError(RuntimeError):
    """The run cannot start; the message is one line for the operator."""


def has_model(names: set[str], model: str) -> bool:
    # Ollama lists "name:latest" for a model pulled without a tag.
    return model in names or f"{model}:latest" in names


def check_ollama(url: str, model: str, *, timeout_s: float = TIMEOUT_S) -> None:
    """Raise PreflightError unless `url` answers as Ollama and lists `model`."""
    tags = f"{url.rstrip('/')}/api/tags"
    try:
        response = httpx.get(tags, timeout=timeout_s)
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise PreflightError(f"{url!r} is not an http(s) URL ({exc})") from None
    except httpx.TimeoutException:
        raise PreflightError(
            f"Ollama at {url} did not answer within {timeout_s:g} s (GET /api/tags)"
        ) from None
    except httpx.HTTPError as exc:
        raise PreflightError(
            f"cannot reach Ollama at {url} ({type(exc).__name__}: {exc or 'no answer'})"
        ) from None
    if response.status_code != 200:
        raise PreflightError(
            f"{url} answered HTTP {response.status_code} to GET /api/tags: is it Ollama?"
        )
    try:
        listed = response.json().get("models") or []
        names = {str(m.get(key)) for m in listed for key in ("name", "model") if m.get(key)}
    except (ValueError, AttributeError):
        raise PreflightError(
            f"{url} answered GET /api/tags with no model list: is it Ollama?"
        ) from None
    if not has_model(names, model):
        have = ", ".join(sorted(names)) or "no models"
        raise PreflightError(
            f"model {model!r} is not on {url} (it has: {have}); pull it there: ollama pull {model}"
        )
