"""All models. Import from here so every table is registered on Base.metadata (Alembic reads it)."""

from callback.models.accounts import User
from callback.models.assessment import AssessmentEntry, BulletinApproval  # noqa: F401
from callback.models.base import Base, utcnow
from callback.models.calendar import CalendarDay  # noqa: F401
from callback.models.evaluator import EvaluatorPress  # noqa: F401
from callback.models.ledger import ApiToken, Case, Contact, Hall, ImportBatch, Staff, Window
from callback.models.publication import PublishedReport, ResultsApproval  # noqa: F401
from callback.models.rectification import Rectification, RectificationEvent  # noqa: F401
from callback.models.staff_calls import StaffCall  # noqa: F401
from callback.models.survey import (
    Answer,
    Attempt,
    AuditEvent,
    Callback,
    Draw,
    Message,
    TranscriptEvent,
    WebhookReceipt,
)

__all__ = [
    "Answer", "ApiToken", "Attempt", "AuditEvent", "Base", "Callback", "Case", "Contact", "Draw", "Hall",
    "ImportBatch", "Message", "PublishedReport", "Staff", "TranscriptEvent", "User", "WebhookReceipt", "Window",
    "utcnow",
]
