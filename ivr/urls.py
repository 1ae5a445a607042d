"""Absolute webhook URLs under PUBLIC_BASE_URL. They carry the callback's opaque token and step counters only —
never a phone number, a name or a case number (docs/architecture.md §Privacy and security)."""

from __future__ import annotations

from urllib.parse import urlencode

from callback.config import Settings

PREFIX = "/ivr"


def webhook_url(settings: Settings, token: str, path: str, **params: object) -> str:
    """E.g. ``https://hall.example/ivr/<token>/item/attitude?a=3&n=1``; parameters sorted for stable signatures."""
    base = settings.public_base_url.rstrip("/")
    query = urlencode(sorted((k, str(v)) for k, v in params.items() if v is not None))
    return f"{base}{PREFIX}/{token}/{path}" + (f"?{query}" if query else "")
