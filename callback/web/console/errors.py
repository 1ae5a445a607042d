"""Console errors as Chinese pages (issue 14 §1): 403 for the wrong role, 404 for a missing object (or another
hall's), 400 for a form without its CSRF token, 405 and 429. Only requests under /console/ get them; the API,
webhooks and the board keep their own answers."""

from __future__ import annotations

from typing import Any

from flask import Flask, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

PREFIX = "/console/"


def init_app(app: Flask) -> None:
    for code in (400, 403, 404, 405, 429):
        app.register_error_handler(code, console_error)
    app.register_error_handler(CSRFError, console_error)


def _messages() -> dict[int, tuple[str, str]]:
    return {
        400: (_("请求无效"), _("提交的内容无法处理，请返回上一页重试。")),
        403: (_("无权访问"), _("您的账号没有打开此页面或执行此操作的权限。如需权限，请联系管理员。")),
        404: (_("页面或记录不存在"), _("您要找的页面或记录不存在，或不属于本中心。")),
        405: (_("请求方式不正确"), _("此页面不接受这种请求方式，请从页面上的按钮操作。")),
        429: (_("操作过于频繁"), _("请稍后再试。")),
    }


def console_error(error: HTTPException) -> Any:
    """A Chinese error page for console paths; anything else passes through unchanged."""
    if not (request.path + "/").startswith(PREFIX):
        return error
    code = error.code or 500
    title, message = _messages().get(code, (_("出错了"), _("请返回上一页重试。")))
    if isinstance(error, CSRFError):
        title, message = _("页面已过期"), _("表单缺少安全令牌或已过期，请返回上一页，刷新后重新提交。")
    return render_template("console/error.html", code=code, title=title, message=message), code
