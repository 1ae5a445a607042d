"""The console's forms (Flask-WTF): every one carries a CSRF token. Labels and messages are message ids
(``lazy_gettext``), so each user sees them in their own language; no WTForms default message is left to show
in English."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from callback.accounts.services import NAME_MAX, PASSWORD_MAX, PASSWORD_MIN


class LoginForm(FlaskForm):
    username = StringField(_l("用户名"), validators=[DataRequired(message=_l("请输入用户名"))],
                           render_kw={"autocomplete": "username", "autocapitalize": "none", "spellcheck": "false"})
    password = PasswordField(_l("密码"), validators=[DataRequired(message=_l("请输入密码"))],
                             render_kw={"autocomplete": "current-password"})
    submit = SubmitField(_l("登录"))


class ButtonForm(FlaskForm):
    """A form that is only a button (log out, disable, …): its CSRF token is all it carries."""


class UserCreateForm(FlaskForm):
    """A new account on the administrator's users page; role, window and language choices are set by the view."""

    username = StringField(_l("用户名"), validators=[DataRequired(message=_l("请输入用户名")), Length(max=40)],
                           description=_l("2–40 个字母、数字或 . _ -，登录时使用"),
                           render_kw={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"})
    display_name = StringField(_l("姓名"), validators=[DataRequired(message=_l("请输入姓名")), Length(max=NAME_MAX)])
    role = SelectField(_l("角色"), validate_choice=False)
    window = SelectField(_l("窗口"), validate_choice=False,
                         description=_l("窗口负责人和窗口人员必选；其他角色不选"))
    desk_phone = StringField(_l("座机或手机"), validators=[Optional()],
                             description=_l("专人回访时先呼叫此号码；含区号，例如 0536-1234567"),
                             render_kw={"autocomplete": "off", "inputmode": "tel"})
    language = SelectField(_l("界面语言"), validate_choice=False)
    password = PasswordField(_l("初始密码"), validators=[
        DataRequired(message=_l("请输入密码")),
        Length(min=PASSWORD_MIN, max=PASSWORD_MAX, message=_l("密码须为 %(min)d–%(max)d 个字符")),
    ], render_kw={"autocomplete": "new-password"})
    password2 = PasswordField(_l("再次输入密码"), validators=[
        DataRequired(message=_l("请再次输入密码")), EqualTo("password", message=_l("两次输入的密码不一致")),
    ], render_kw={"autocomplete": "new-password"})
    submit = SubmitField(_l("新建账号"))


class LanguageForm(FlaskForm):
    language = SelectField(_l("界面语言"), validate_choice=False)
    submit = SubmitField(_l("保存语言"))


class PasswordForm(FlaskForm):
    current = PasswordField(_l("当前密码"), validators=[DataRequired(message=_l("请输入当前密码"))],
                            render_kw={"autocomplete": "current-password"})
    password = PasswordField(_l("新密码"), validators=[
        DataRequired(message=_l("请输入密码")),
        Length(min=PASSWORD_MIN, max=PASSWORD_MAX, message=_l("密码须为 %(min)d–%(max)d 个字符")),
    ], render_kw={"autocomplete": "new-password"})
    password2 = PasswordField(_l("再次输入密码"), validators=[
        DataRequired(message=_l("请再次输入密码")), EqualTo("password", message=_l("两次输入的密码不一致")),
    ], render_kw={"autocomplete": "new-password"})
    submit = SubmitField(_l("修改密码"))
