"""The hall's API tokens for the ledger API (issue 14 §8; callback.halls.tokens): the list (never a token or its
hash), a new token shown once — on the page that answers the form, never stored, never in a redirect or a flash —
and revoking one (its requests get 401 at once). Both changes are audit events of the service, attributed to
the administrator (``attribution.acting``)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField
from wtforms.validators import DataRequired, Length, NumberRange

from callback.accounts.roles import N_, Action
from callback.db import db_session
from callback.halls.tokens import (
    DEFAULT_EXPIRY_DAYS,
    MAX_EXPIRY_DAYS,
    create_token,
    list_tokens,
    revoke_token,
)
from callback.models import ApiToken, Hall
from callback.web.console import clock
from callback.web.console.attribution import acting
from callback.web.console.auth import in_hall, permission_required
from callback.web.console.blueprint import bp

LABEL_MAX = 200  # as `callback tokens create --label`
STATE_LABELS = {"active": N_("有效"), "expired": N_("已过期"), "revoked": N_("已吊销")}


class TokenCreateForm(FlaskForm):
    label = StringField(_l("用途"), validators=[DataRequired(message=_l("请写明令牌的用途")), Length(max=LABEL_MAX)],
                        description=_l("对接的系统，例如 政务服务平台台账推送"), render_kw={"autocomplete": "off"})
    expires_days = IntegerField(_l("有效天数"), default=DEFAULT_EXPIRY_DAYS, validators=[
        DataRequired(message=_l("请输入 1–%(max)d 之间的整数", max=MAX_EXPIRY_DAYS)),
        NumberRange(min=1, max=MAX_EXPIRY_DAYS, message=_l("请输入 1–%(max)d 之间的整数", max=MAX_EXPIRY_DAYS))],
        render_kw={"inputmode": "numeric"})


@bp.route("/admin/tokens", methods=["GET", "POST"])
@permission_required(Action.ADMIN_TOKENS)
def admin_tokens() -> Any:
    session = db_session()
    hall = session.get(Hall, current_user.hall_id)
    form, created = TokenCreateForm(), None
    if form.validate_on_submit():
        with acting(session) as actor:
            row, token = create_token(session, hall, form.label.data.strip(), expires_days=form.expires_days.data,
                                      now=clock.now(), actor=actor)
        session.commit()
        created = {"id": row.id, "token": token, "expires_at": row.expires_at}
        form = TokenCreateForm(formdata=None)
    response = render_template("console/admin_tokens.html", tokens=list_tokens(session, hall), now=clock.now(),
                               form=form, created=created, state_labels=STATE_LABELS)
    status = 400 if form.errors else 200
    # The page holding a new token must not be kept by the browser's or a proxy's cache.
    return response, status, {"Cache-Control": "no-store"}


@bp.route("/admin/tokens/<int:token_id>/revoke", methods=["POST"])
@permission_required(Action.ADMIN_TOKENS)
def admin_token_revoke(token_id: int) -> Any:
    session = db_session()
    row: ApiToken = in_hall(ApiToken, token_id)
    with acting(session) as actor:
        _row, revoked = revoke_token(session, row.id, clock.now(), actor=actor)
    session.commit()
    if revoked:
        flash(_("令牌 #%(id)d 已吊销，使用它的请求将被拒绝", id=token_id), "success")
    else:
        flash(_("令牌 #%(id)d 早已吊销", id=token_id), "info")
    return redirect(url_for("console.admin_tokens"))
