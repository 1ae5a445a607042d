"""Ledger and evaluator files uploaded in the browser (issue 14 §6): the file goes to a temporary folder and
through the same import as ``callback import-ledger`` / ``callback evaluator import`` (callback.ledger.importer,
callback.evaluator.services — the rules live there, not here); the page then shows the import's summary with
the rejected rows (the row number Excel shows and the reason), and lists the hall's recent imports.

An upload is bounded by ``MAX_CONTENT_LENGTH`` (413 with a Chinese page) and carries the CSRF token like every
form. Each import is an audit event with the counts.
"""

from __future__ import annotations

import tempfile
import unicodedata
from pathlib import Path
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import SelectField, StringField
from wtforms.validators import Length, Optional

from callback.accounts.roles import Action
from callback.config import current_settings
from callback.db import db_session
from callback.evaluator import services as evaluator_import
from callback.evaluator.levels import Levels
from callback.ledger import importer as ledger_import
from callback.ledger.headers import LedgerFileError
from callback.ledger.importer import ImportSummary
from callback.models import AuditEvent, Hall, ImportBatch
from callback.web.console import clock
from callback.web.console.audit import audit
from callback.web.console.auth import in_hall, permission_required
from callback.web.console.blueprint import bp

RECENT = 20
NAME_MAX = 120


class LedgerUploadForm(FlaskForm):
    file = FileField(_l("台账文件"), validators=[FileRequired(message=_l("请选择要上传的文件"))],
                     description=_l("CSV（UTF-8、GBK 均可）或 XLSX；表头可在前 10 行内"),
                     render_kw={"accept": ".csv,.txt,.xlsx"})
    sheet = StringField(_l("工作表（可选）"), validators=[Optional(), Length(max=100)],
                        description=_l("XLSX 文件默认读取第一个工作表"))


class EvaluatorUploadForm(FlaskForm):
    file = FileField(_l("评价器导出文件"), validators=[FileRequired(message=_l("请选择要上传的文件"))],
                     description=_l("评价器或好差评系统导出的 CSV / XLSX，每行一次评价"),
                     render_kw={"accept": ".csv,.txt,.xlsx"})
    sheet = StringField(_l("工作表（可选）"), validators=[Optional(), Length(max=100)],
                        description=_l("XLSX 文件默认读取第一个工作表"))
    levels = SelectField(_l("数字评价的含义"), choices=[
        ("5", _l("五级（好差评星级）：5 非常满意 … 1 非常不满意")),
        ("3", _l("三级：1 满意、2 基本满意、3 不满意")),
        ("digits", _l("自定义（按下面的对应关系）")),
    ], default="5", description=_l("文字评价（满意、基本满意、不满意等）不受此项影响"))
    digits = StringField(_l("自定义对应关系"), validators=[Optional(), Length(max=100)],
                         description=_l("例如 1=S,2=S,3=B,4=U（S 满意、B 基本满意、U 不满意）；仅在选择“自定义”时使用"),
                         render_kw={"autocomplete": "off", "spellcheck": "false"})


@bp.url_value_preprocessor
def _bound_the_body(_endpoint: str | None, _values: dict[str, Any] | None) -> None:
    """Every console request body — an upload here or on the calendar page, any form — is bounded by
    MAX_CONTENT_LENGTH, set before the CSRF check reads the form (URL value preprocessors run before every
    before-request function, the CSRF check's included); a larger one is 413 (``_too_large``)."""
    request.max_content_length = current_settings().max_content_length


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_error: RequestEntityTooLarge) -> Any:
    limit = (request.max_content_length or current_settings().max_content_length) // (1024 * 1024)
    return render_template("console/error.html", code=413, title=_("文件过大"),
                           message=_("上传的文件超过 %(mb)d MB 的上限。请拆分成几个文件（例如按周导出）后分别上传。",
                                     mb=limit)), 413


@bp.route("/imports")
@permission_required(Action.IMPORTS)
def imports() -> Any:
    return _page(LedgerUploadForm(), EvaluatorUploadForm())


def _page(ledger: LedgerUploadForm, evaluator: EvaluatorUploadForm, status: int = 200) -> Any:
    session = db_session()
    batches = list(session.scalars(select(ImportBatch).where(ImportBatch.hall_id == current_user.hall_id)
                                   .order_by(ImportBatch.id.desc()).limit(RECENT)))
    return render_template("console/imports.html", ledger_form=ledger, evaluator_form=evaluator,
                           batches=[_batch_view(b) for b in batches], who=_importers(session, batches)), status


@bp.route("/imports/ledger", methods=["POST"])
@permission_required(Action.IMPORTS)
def import_ledger() -> Any:
    form = LedgerUploadForm()
    if not form.validate_on_submit():
        return _page(form, EvaluatorUploadForm(), 400)
    run = _Upload(form.file.data, form.sheet.data or None)
    return run.finish(form, lambda s, h, p: ledger_import.import_file(s, h, p, sheet=run.sheet, now=clock.now()),
                      "ledger_imported", lambda f: _page(f, EvaluatorUploadForm(), 400))


@bp.route("/imports/evaluator", methods=["POST"])
@permission_required(Action.IMPORTS)
def import_evaluator() -> Any:
    form = EvaluatorUploadForm()
    if not form.validate_on_submit():
        return _page(LedgerUploadForm(), form, 400)
    try:
        levels = Levels.from_options(form.levels.data, form.digits.data if form.levels.data == "digits" else None)
    except ValueError as exc:
        form.digits.errors.append(str(exc))
        return _page(LedgerUploadForm(), form, 400)
    run = _Upload(form.file.data, form.sheet.data or None)
    return run.finish(form, lambda s, h, p: evaluator_import.import_file(s, h, p, levels=levels, sheet=run.sheet,
                                                                          now=clock.now()),
                      "evaluator_imported", lambda f: _page(LedgerUploadForm(), f, 400))


class _Upload:
    """One uploaded file: saved under its own name in a temporary folder (the import records the name), imported
    in the request's transaction, audited; a file that cannot be imported at all is one line on the form."""

    def __init__(self, upload: FileStorage, sheet: str | None) -> None:
        self.upload, self.sheet = upload, sheet
        self.name = safe_filename(upload.filename)

    def finish(self, form: FlaskForm, run: Any, action: str, refuse: Any) -> Any:
        session = db_session()
        hall = session.get(Hall, current_user.hall_id)
        try:
            summary, batch = self._imported(session, hall, run)
        except LedgerFileError as exc:
            session.rollback()
            form.file.errors.append(_("无法导入 %(name)s：%(reason)s", name=self.name, reason=str(exc)))
            return refuse(form)
        audit(action, "import_batch", batch.id, file=self.name, rows=summary.rows, imported=summary.imported,
              updated=summary.updated, unchanged=summary.unchanged, rejected=summary.rejected_total)
        session.commit()
        flash(_("已导入 %(name)s：共 %(rows)d 行，新增 %(new)d，更新 %(updated)d，未变 %(same)d，拒绝 %(bad)d",
                name=self.name, rows=summary.rows, new=summary.imported, updated=summary.updated,
                same=summary.unchanged, bad=summary.rejected_total), "success" if not summary.rejected_total else "info")
        return redirect(url_for("console.import_batch", batch_id=batch.id))

    def _imported(self, session: Session, hall: Hall, run: Any) -> tuple[ImportSummary, ImportBatch]:
        with tempfile.TemporaryDirectory(prefix="console-upload-") as folder:
            path = Path(folder) / self.name
            self.upload.save(path)
            known = _batches_in(session)
            try:
                summary = run(session, hall, path)
            except OSError as exc:  # a damaged file the reader could not open
                raise LedgerFileError("无法读取文件", str(exc.strerror or exc)) from exc
        [batch] = [b for b in _batches_in(session).values() if b.id not in known]
        return summary, batch


def _batches_in(session: Session) -> dict[int, ImportBatch]:
    """The import batches this session holds (the import adds exactly one)."""
    return {row.id: row for row in session.identity_map.values() if isinstance(row, ImportBatch)}


def safe_filename(name: str | None) -> str:
    """The uploaded file's own name, kept readable (Chinese included) but never a path: no folders, no control
    characters, no leading dot, at most NAME_MAX characters."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip().lstrip(".")
    return base[-NAME_MAX:] or "upload.csv"


# --- one import -----------------------------------------------------------------------------------------------------


@bp.route("/imports/<int:batch_id>")
@permission_required(Action.IMPORTS)
def import_batch(batch_id: int) -> Any:
    batch: ImportBatch = in_hall(ImportBatch, batch_id)
    view = _batch_view(batch)
    return render_template("console/import_batch.html", batch=view,
                           who=_importers(db_session(), [batch]).get(batch.id))


def _batch_view(batch: ImportBatch) -> dict[str, Any]:
    """A batch as the pages show it: which kind, its file, its counts (the rejected rows kept: the first 1,000)."""
    evaluator = batch.source.startswith(evaluator_import.SOURCE_PREFIX)
    kept = list(batch.rejected or [])
    total = max(batch.rows - batch.imported - batch.updated - batch.unchanged, len(kept))
    return {"id": batch.id, "kind": _("评价器") if evaluator else _("受理台账"),
            "file": batch.source[len(evaluator_import.SOURCE_PREFIX):] if evaluator else batch.source,
            "at": batch.finished_at or batch.started_at, "rows": batch.rows, "imported": batch.imported,
            "updated": batch.updated, "unchanged": batch.unchanged, "rejected_total": total, "rejected": kept,
            "finished": batch.finished_at is not None}


def _importers(session: Session, batches: list[ImportBatch]) -> dict[int, str]:
    """Who uploaded each batch on the console (the audit event's actor); the command line's imports have none."""
    ids = [b.id for b in batches]
    if not ids:
        return {}
    rows = session.execute(select(AuditEvent.entity_id, AuditEvent.actor).where(
        AuditEvent.entity == "import_batch", AuditEvent.entity_id.in_(ids)))
    return {entity_id: actor for entity_id, actor in rows}
