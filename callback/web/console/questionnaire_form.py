"""The six items of 篇2 二 as radio buttons with their meanings (满意 / 基本满意 / 不满意; 是 / 否; 没有 / 有), and the
suggestion: the form a supervisor fills in while on a staff call (篇2 四) and from a paper on-site form (篇2 三(二)).
What was ticked is read by callback.responses.entry.read_item_cells, the same rules as a file of forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field, RadioField, TextAreaField
from wtforms.validators import Length, Optional

from callback.responses.entry import MAX_SUGGESTION, HandEntry, read_item_cells
from survey.questionnaire import ITEMS

UNANSWERED = ""


class AnswersForm(FlaskForm):
    """One radio group per item (``attitude`` … ``overall``), "未回答" by default, and the suggestion. A value that is
no choice (a forged post) is refused by `read_item_cells` in Chinese, not by WTForms in English."""

    suggestion = TextAreaField(_l("意见建议"), validators=[Optional(), Length(max=MAX_SUGGESTION)],
                               description=_l("申请人的原话；号码等个人信息保存时会打码"))

    def item_fields(self) -> list[Field]:
        return [self[item.code] for item in ITEMS]

    def entry(self) -> HandEntry:
        """What was ticked, as a hand entry; `EntryError` when nothing was."""
        cells = {item.code: self[item.code].data or UNANSWERED for item in ITEMS}
        return read_item_cells(cells, self.suggestion.data or "")


for _item in ITEMS:
    setattr(AnswersForm, _item.code, RadioField(
        _l(_item.label), description=_l(_item.question), default=UNANSWERED, validate_choice=False,
        choices=[(c.key, _l(c.label)) for c in _item.choices] + [(UNANSWERED, _l("未回答"))]))
