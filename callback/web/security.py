"""Security headers on every response and a 500 page that tells nobody anything
(docs/architecture.md §Privacy and security).

* Every response carries a Content-Security-Policy that allows only this origin's own files (no inline script or
  style: the board's stylesheet is ``static/board.css``), forbids framing (``frame-ancestors 'none'`` and
  ``X-Frame-Options: DENY``), and sends ``nosniff`` and ``Referrer-Policy: same-origin``.
* ``Strict-Transport-Security`` and ``Secure`` session cookies only when PUBLIC_BASE_URL is https: on the local
  simulator's plain http they would break the page.
* An unexpected exception in a request becomes a plain Chinese 500 page and one log line naming the method, the
  path (never the query string), the exception's type and where it was raised — not its message, which for a
  database error may quote the citizen's phone number, and no form, query or SQL parameters.
"""

from __future__ import annotations

import traceback
from pathlib import Path

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
)
HSTS = ("Strict-Transport-Security", "max-age=31536000")
ERROR_PAGE = (
    '<!doctype html>\n<html lang="zh-CN"><head><meta charset="utf-8"><title>服务器内部错误</title></head>\n'
    "<body><h1>服务器内部错误</h1><p>服务暂时出现问题，请稍后再试。</p></body></html>\n"
)


def init_app(app: Flask, https: bool) -> None:
    """Cookie flags, the header hook and the error handler; ``https``: PUBLIC_BASE_URL is https."""
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_SECURE=https)
    app.after_request(_add_headers)
    app.register_error_handler(Exception, unexpected_error)


def _add_headers(response: Response) -> Response:
    for name, value in HEADERS:
        response.headers.setdefault(name, value)
    if current_app.config["SETTINGS"].public_base_url.lower().startswith("https://"):
        response.headers.setdefault(*HSTS)
    return response


def unexpected_error(error: Exception) -> Response | HTTPException:
    """Errorhandler for Exception: HTTP errors (403, 404, …) pass through; anything else is a bare 500."""
    if isinstance(error, HTTPException):
        return error
    current_app.logger.error("请求处理出错 (unhandled error) %s %s -> 500: %s at %s", request.method, request.path,
                             type(error).__name__, where(error))
    return Response(ERROR_PAGE, status=500, mimetype="text/html")


def where(error: BaseException, frames: int = 4) -> str:
    """The innermost frames of ``error``'s traceback as ``file:line(function)``, innermost first: enough to find
    the fault, with none of the values it was handling."""
    stack = traceback.extract_tb(error.__traceback__)[-frames:]
    return " < ".join(f"{Path(f.filename).name}:{f.lineno}({f.name})" for f in reversed(stack)) or "?"
