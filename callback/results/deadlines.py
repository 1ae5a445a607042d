"""Publishing on time (篇2 六: "回访结束后，督查科要及时（最长不超过一周）……通报"): which weeks of calls are
waiting for their publication, and which are late.

A week with calls (any first callback of the hall's ISO week: phone, SMS, manual or on-site) is *due* for
publication once it has ended (Monday 00:00 in the hall's time zone after it) and *late* once 7 days have passed
since its end with no `PublishedReport` of the week (`callback.results.publication.published_weeks`). A
published week drops out. `callback deadlines` prints them; the console's dashboard will call
`publication_deadlines` too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from callback.models import Callback, Hall
from callback.results.publication import published_weeks
from survey.weeks import week_bounds

PUBLISH_WITHIN = timedelta(days=7)  # 篇2 六: 最长不超过一周
DUE = "due"
LATE = "late"
STATUS_LABELS = {DUE: "待通报", LATE: "已逾期未通报"}


@dataclass(frozen=True)
class PublicationDeadline:
    """A week of calls not published yet: ``ended_at`` (the week's end), ``publish_by`` (7 days later), both in
    the hall's time zone; ``status`` due | late; ``days_late`` whole days past ``publish_by`` (0 while due)."""

    week: str
    ended_at: datetime
    publish_by: datetime
    status: str
    days_late: int

    def as_json(self) -> dict[str, Any]:
        return {"week": self.week, "ended_at": self.ended_at.isoformat(), "publish_by": self.publish_by.isoformat(),
                "status": self.status, "status_label": STATUS_LABELS[self.status], "days_late": self.days_late}


def weeks_with_calls(session: Session, hall: Hall) -> list[str]:
    """The ISO weeks in which the hall made first callbacks (二次回访 belong to their first callback's week)."""
    query = (select(Callback.week).where(Callback.hall_id == hall.id, Callback.revisit_of_id.is_(None))
             .group_by(Callback.week).order_by(Callback.week))
    return list(session.scalars(query))


def publication_deadlines(session: Session, hall: Hall, now: datetime) -> list[PublicationDeadline]:
    """Every ended week of calls of ``hall`` with no publication yet, oldest first: due, or late 7 days after the
    week's end (篇2 六)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    tz = ZoneInfo(hall.timezone or "Asia/Shanghai")
    found = []
    published = set(published_weeks(session, hall))
    for week in weeks_with_calls(session, hall):
        ended = week_bounds(week, tz)[1]
        if ended > now or week in published:
            continue
        publish_by = ended + PUBLISH_WITHIN
        late = now >= publish_by
        days = (now - publish_by).days if late else 0
        found.append(PublicationDeadline(week, ended.astimezone(tz), publish_by.astimezone(tz),
                                         LATE if late else DUE, days))
    return found
