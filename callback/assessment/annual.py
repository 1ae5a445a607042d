"""The year (篇3 三): each staff member's annual score, the 优秀服务标兵, the windows' yearly 综合考评 and every
month's 红旗窗口.

* Annual score: the mean of the months assessed, two decimals half up (``survey.assessment.score_year``).
* 优秀服务标兵 (篇3 三(二)2): ``survey.assessment.select_service_models`` — the quota is 25% of the staff with an
  annual score, rounded down; barred staff (二6, 五3, 六4 重大损失, 一7's leave thresholds) take no place; a tie
  that does not fit in the places left is not broken: those staff are listed as tied at the cut and the places
  left open for the centre (三(二)3 "择优").
* Windows (篇2 六 "作为年终中心对窗口综合考评的重要依据"): the mean of the window's graded monthly scores
  (`callback.results.report.monthly_report`; months 样本不足 left out), one decimal, graded like a month over the
  year's n; and how many months it was a 红旗窗口 (篇1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from callback.assessment.services import HallYear, hall_tz
from callback.results.report import monthly_report
from survey.assessment import select_service_models
from survey.scoring import TOO_FEW, grade_for, round1

AWARD_RULE = ("优秀服务标兵（篇3 三(二)2）：按前台工作人员（有年度成绩者）25%的比例，向下取整；取消评先树优资格者不参评；"
              "名额边界上同分者不拆分——全部放得下才入选，否则名额留待中心择优确定")
WINDOW_RULE = ("窗口年度综合考评（篇2 六）：各月得分（样本不足的月份除外）的平均分，保留一位小数，按全年样本数评定等级；"
               "红旗窗口为每月得分前三名（篇1）")


def _staff_row(hy: HallYear, staff_id: int, name: str) -> dict[str, Any]:
    result = hy.years[staff_id]
    months = {m: float(r.total) for m, r in zip(hy.assessed[staff_id], result.months, strict=True)}
    data = [hy.months[m][staff_id] for m in hy.assessed[staff_id]]
    return {
        "staff_id": staff_id, "name": name, "months": months,
        "maternity_months": [m for m, d in zip(hy.assessed[staff_id], data, strict=True) if d.maternity],
        "score": None if result.score is None else float(result.score),
        "award_eligible": result.award_eligible,
        "award_bars": [{"clause": bar.clause, "reason": bar.reason} for bar in result.award_bars],
        "consequences": [{"clause": t.clause, "text": t.text, "count": t.count} for t in result.consequences],
        "vacation_cancelled": list(result.vacation_cancelled),
    }


def awards(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """篇3 三(二)2 over the staff rows (by name, as printed)."""
    scores = {row["name"]: row["score"] for row in rows}
    barred = [row["name"] for row in rows if not row["award_eligible"]]
    chosen = select_service_models(scores, barred)
    return {"rule": AWARD_RULE, "quota": chosen.quota, "staff_scored": sum(s is not None for s in scores.values()),
            "awarded": list(chosen.awarded), "tied_at_cut": list(chosen.tied_at_cut), "barred": list(chosen.barred),
            "open_places": chosen.quota - len(chosen.awarded)}


def _window_rows(reports: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    names = sorted({w["window"] for report in reports.values() for w in report["windows"]})
    return [_window_row(name, reports) for name in names]


def _window_row(name: str, reports: dict[str, dict[str, Any]]) -> dict[str, Any]:
    months: dict[str, Any] = {}
    for label, report in reports.items():
        row = next((w for w in report["windows"] if w["window"] == name), None)
        if row is not None:
            months[label] = {"score": row["score"], "grade": row["grade"], "n": row["n"]}
    graded = [m["score"] for m in months.values() if m["grade"] != TOO_FEW and m["score"] is not None]
    n = sum(m["n"] for m in months.values())
    mean = round1(sum(graded) / len(graded)) if graded else None
    flagged = [label for label, report in reports.items()
               if any(w["window"] == name for w in report["red_flags"]["windows"])]
    return {"window": name, "months": months, "months_graded": len(graded), "score": mean, "n": n,
            "grade": grade_for(mean, n), "red_flag_months": flagged}


def year_payload(session: Session, hy: HallYear) -> dict[str, Any]:
    """The year's assessment (`callback assess --year Y --json`)."""
    rows = [_staff_row(hy, member.id, member.name) for member in hy.staff if hy.assessed[member.id]]
    reports = {label: monthly_report(session, hy.hall, label, hy.now) for label in hy.labels}
    return {
        "year": hy.year, "hall": hy.hall.code, "hall_name": hy.hall.name, "months": hy.labels,
        "complete": hy.through == 12,
        "generated_at": hy.now.astimezone(hall_tz(hy.hall)).isoformat(timespec="seconds"),
        "staff": rows, "awards": awards(rows),
        "windows": {"rule": WINDOW_RULE, "rows": _window_rows(reports)},
        "red_flags": {label: report["red_flags"]["windows"] for label, report in reports.items()},
    }
