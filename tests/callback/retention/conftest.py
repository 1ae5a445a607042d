"""The retention tests use the telephony tests' session fixture and the finished week's environment."""

from tests.callback.retention.week_support import week_env  # noqa: F401
from tests.ivr.conftest import db  # noqa: F401
