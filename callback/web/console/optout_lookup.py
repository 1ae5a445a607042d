"""Opt-out lookup (issue 14 §8): has this number opted out (key 9, TD/退订, a staff member's entry)? The page answers
yes or no for the one number typed — an opt-out holds in every hall, for good (callback.responses.optout) — and
never lists numbers. A number a retention purge has since replaced by its keyed hash is found by that hash. Each
lookup is an audit event with the number masked (138****5678); the page shows it masked too.
"""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from callback.accounts.roles import Action
from callback.config import current_settings
from callback.db import db_session
from callback.ledger.values import normalise_phone
from callback.responses.optout import is_opted_out, normalise_sender
from callback.retention.services import RetentionPolicy, phone_hash
from callback.web.console.audit import audit
from callback.web.console.auth import permission_required
from callback.web.console.blueprint import bp
from survey.privacy import mask_phone


class OptOutLookupForm(FlaskForm):
    number = StringField(_l("电话号码"), validators=[DataRequired(message=_l("请输入电话号码")), Length(max=40)],
                         description=_l("手机号或带区号的座机号，例如 138 0013 8000、0536-8881234"),
                         render_kw={"inputmode": "tel", "autocomplete": "off"})


@bp.route("/optout", methods=["GET", "POST"])
@permission_required(Action.OPTOUT_LOOKUP)
def optout_lookup() -> Any:
    form, answer = OptOutLookupForm(), None
    if form.validate_on_submit():
        number = normalise_sender(form.number.data or "")
        if normalise_phone(number).e164 is None:
            form.number.errors.append(_("号码无效：请输入手机号或带区号的座机号"))
        else:
            answer = {"masked": mask_phone(number), "opted_out": _opted_out(number)}
            audit("optout_lookup", "contact", None, number=answer["masked"], opted_out=answer["opted_out"])
            db_session().commit()
        form.number.data = ""  # the number is not written back into the page
    status = 400 if form.errors else 200
    return render_template("console/optout_lookup.html", form=form, answer=answer), status


def _opted_out(number: str) -> bool:
    """Opted out in any hall, under the number or under the hash a purge put in its place."""
    session = db_session()
    key = RetentionPolicy.from_settings(current_settings()).key
    return is_opted_out(session, number) or is_opted_out(session, phone_hash(key, number))
