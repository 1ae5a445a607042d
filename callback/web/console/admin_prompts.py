"""The IVR and SMS prompt texts (issue 14 §8; README "The prompt catalog"): every prompt of each catalog language
(zh-CN, zh-TW, en) as the next call will speak it, and editing one. An edit is checked like the catalog is
(``ivr.prompts.check_text``: no empty text, only the ``{centre}`` / ``{item}`` placeholders, braces that pair)
and kept in the prompt override folder (``ivr.prompts.save_override``; ``PROMPTS_OVERRIDE_DIR``, by default
``<instance>/prompt-overrides``), which ``load_catalog`` reads on every call — so the next call and the next text
use it, in every process, without a restart; 恢复默认 drops the edit. Each edit is an audit event with the old and
new text. Prompts hold no personal data; the texts are the deployment's, shared by every hall.
"""

from __future__ import annotations

import os
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import Length

from callback.accounts.roles import N_, Action
from callback.db import db_session
from callback.web.console.audit import audit
from callback.web.console.auth import permission_required
from callback.web.console.blueprint import bp
from ivr import prompts as catalog

TEXT_MAX = 1000
LANGUAGE_NAMES = {"zh-CN": N_("简体中文（普通话）"), "zh-TW": N_("繁体中文"), "en": N_("英语")}
# What each prompt is for, in words an administrator knows (the keys are the code's).
PURPOSES = {
    "intro": N_("开场白（有事项名称）"), "intro_no_item": N_("开场白（无事项名称）"),
    "invalid": N_("按键无效"), "silence": N_("没有按键"), "skipped": N_("跳过本题"),
    "item.attitude": N_("第一题：服务态度"), "item.efficiency": N_("第二题：办事效率"),
    "item.by_the_rules": N_("第三题：按章办事"), "item.in_hall": N_("第四题：体外循环"),
    "item.integrity": N_("第五题：廉洁自律"), "item.overall": N_("第六题：总体评价"),
    "suggestion": N_("请说出意见建议"), "record": N_("录音留言"), "thanks": N_("结束致谢"),
    "opted_out": N_("退订确认"), "no_consent": N_("未同意参加"), "goodbye": N_("再见"),
    "sms.survey": N_("短信问卷（有事项名称）"), "sms.survey_no_item": N_("短信问卷（无事项名称）"),
    "sms.reminder": N_("短信提醒（有事项名称）"), "sms.reminder_no_item": N_("短信提醒（无事项名称）"),
    "sms.more": N_("短信：请继续回复其余各项"), "sms.more_after_word": N_("短信：收到文字评价后请继续回复"),
    "sms.more_scale": N_("短信：评分说明"), "sms.item.attitude": N_("短信题目名：服务态度"),
    "sms.item.efficiency": N_("短信题目名：办事效率"), "sms.item.by_the_rules": N_("短信题目名：按章办事"),
    "sms.item.in_hall": N_("短信题目名：体外循环"), "sms.item.integrity": N_("短信题目名：廉洁自律"),
    "sms.item.overall": N_("短信题目名：总体评价"), "sms.separator": N_("短信题目名之间的分隔符"),
    "sms.thanks": N_("短信致谢"), "sms.thanks_comment": N_("短信致谢（含意见）"),
    "sms.suggestion_thanks": N_("短信：收到意见建议后的致谢"), "sms.clarify": N_("短信回复无法识别时的追问"),
    "sms.already_done": N_("短信：已完成后再回复"), "sms.opted_out": N_("短信退订确认"),
    "sms.closed": N_("短信：回访已结束后再回复"), "sms.unknown": N_("短信：不在回访中的号码来信"),
}


class PromptForm(FlaskForm):
    text = TextAreaField(_l("提示文字"), validators=[Length(max=TEXT_MAX, message=_l("最多 %(max)d 个字", max=TEXT_MAX))],
                         description=_l("可用的占位符：{centre} 中心名称，{item} 事项名称。不要写入任何个人信息。"),
                         render_kw={"rows": 5})


@bp.route("/admin/prompts")
@permission_required(Action.ADMIN_PROMPTS)
def admin_prompts() -> Any:
    languages = catalog.catalog_languages()
    language = request.args.get("lang") or catalog.DEFAULT_LANGUAGE
    if language not in languages:
        abort(404)
    live, edited = catalog.load_catalog(language), catalog.overrides(language)
    rows = [{"key": key, "purpose": PURPOSES.get(key), "text": entry.get("text", ""),
             "audio": bool(entry.get("audio")), "edited": key in edited} for key, entry in live.entries.items()]
    return render_template(
        "console/admin_prompts.html", languages=languages, language=language, rows=rows,
        spoken=os.environ.get("PROMPTS_LANGUAGE") or catalog.DEFAULT_LANGUAGE, language_names=LANGUAGE_NAMES)


def _known(language: str, key: str) -> catalog.Catalog:
    """404 unless ``language`` has a catalog and ``key`` is one of its prompts; the catalog without edits."""
    if language not in catalog.catalog_languages():
        abort(404)
    base = catalog.base_catalog(language)
    if key not in base.entries:
        abort(404)
    return base


@bp.route("/admin/prompts/<language>/<key>", methods=["GET", "POST"])
@permission_required(Action.ADMIN_PROMPTS)
def admin_prompt_edit(language: str, key: str) -> Any:
    base = _known(language, key)
    current = catalog.load_catalog(language).entries[key]
    form = PromptForm(data={"text": current.get("text", "")} if request.method == "GET" else None)
    if form.validate_on_submit():
        text = (form.text.data or "").replace("\r\n", "\n")  # as typed: an English prompt may end in a space
        problems = catalog.check_text(key, text)
        if not problems:
            _save(language, key, current.get("text", ""), text)
            return redirect(url_for("console.admin_prompts", lang=language, _anchor=_anchor(key)))
        form.text.errors.extend(problems)
    return render_template(
        "console/admin_prompt_edit.html", form=form, language=language, key=key, purpose=PURPOSES.get(key),
        default=base.entries[key].get("text", ""), audio=current.get("audio"),
        edited=key in catalog.overrides(language), language_names=LANGUAGE_NAMES), 400 if form.is_submitted() else 200


def _save(language: str, key: str, old: str, new: str) -> None:
    if new == old:
        flash(_("提示 %(key)s 没有改动", key=key), "info")
        return
    audit("prompt_edited", "prompt", None, language=language, key=key, old=old, new=new)
    db_session().commit()  # the audit row first: an edit nobody can account for is never spoken
    catalog.save_override(language, key, new)
    flash(_("已保存提示 %(key)s：下一通电话或下一条短信起使用新文字", key=key), "success")


@bp.route("/admin/prompts/<language>/<key>/reset", methods=["POST"])
@permission_required(Action.ADMIN_PROMPTS)
def admin_prompt_reset(language: str, key: str) -> Any:
    base = _known(language, key)
    old = catalog.load_catalog(language).entries[key].get("text", "")
    if key in catalog.overrides(language):
        audit("prompt_reset", "prompt", None, language=language, key=key, old=old,
              new=base.entries[key].get("text", ""))
        db_session().commit()
        catalog.clear_override(language, key)
        flash(_("提示 %(key)s 已恢复默认文字", key=key), "success")
    return redirect(url_for("console.admin_prompts", lang=language, _anchor=_anchor(key)))


def _anchor(key: str) -> str:
    return "p-" + key.replace(".", "-")
