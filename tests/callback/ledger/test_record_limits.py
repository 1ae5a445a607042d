"""The field rules every ledger record meets, from a file or the API
(docs/architecture.md §Privacy and security): lengths and value types."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from callback.ledger.records import FIELD_LIMITS, Rejected, build_case_row

RECORD = {"case_no": "R-1", "phone": "13800138000", "window": "税务窗口", "accepted_at": "2026-11-03 09:12",
          "item_name": "发票领用", "item_kind": "即办件", "applicant": "张三", "staff": "王芳"}


@pytest.mark.parametrize("field", sorted(FIELD_LIMITS))
def test_each_field_may_hold_its_limit_and_not_one_more(field: str) -> None:
    limit = FIELD_LIMITS[field]
    if field.endswith("_at"):  # a date padded with spaces to the limit still reads as a date
        at_limit = "2026-11-03 09:12".ljust(limit)
    elif field == "phone":
        at_limit = "13800138000".ljust(limit, "-")
    else:
        at_limit = "办" * limit
    build_case_row({**RECORD, field: at_limit})
    with pytest.raises(Rejected, match=f"{limit}"):
        build_case_row({**RECORD, field: at_limit + "件"})


@pytest.mark.parametrize("value", [True, False, {"a": 1}, [1, 2], ("x",), {1, 2}, b"bytes", timedelta(days=1),
                                   10**20, -(10**20)])
@pytest.mark.parametrize("field", ["case_no", "window", "phone", "item_name", "item_kind", "applicant", "staff",
                                   "accepted_at", "completed_at"])
def test_values_that_are_not_text_numbers_or_dates_are_rejected(field: str, value: object) -> None:
    with pytest.raises(Rejected):
        build_case_row({**RECORD, field: value})


def test_numbers_and_spreadsheet_dates_are_cells_like_any_other() -> None:
    record = {**RECORD, "case_no": 20261103001, "phone": 13800138000.0, "item_kind": 3,
              "accepted_at": datetime(2026, 11, 3, 9, 12), "completed_at": 46329.5}
    row = build_case_row(record)
    assert (row.case_no, row.phone.e164, row.item_kind) == ("20261103001", "+8613800138000", "3")
    assert build_case_row({**RECORD, "case_no": 10**20 - 1}).case_no == "9" * 20


def test_a_lone_surrogate_rejects_the_record() -> None:
    with pytest.raises(Rejected, match="surrogate"):
        build_case_row({**RECORD, "applicant": "张\ud800"})


def test_a_rejection_names_the_field_not_its_value() -> None:
    with pytest.raises(Rejected) as caught:
        build_case_row({**RECORD, "applicant": "张三丰" * 100})
    assert "申请人" in str(caught.value) and "张三丰" not in str(caught.value)
