"""The telephony commands' tests use the same fixtures as the telephony adapters' tests."""

from tests.ivr.conftest import app, db, settings  # noqa: F401
