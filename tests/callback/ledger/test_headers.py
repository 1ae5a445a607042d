"""Header recognition for ledger exports: Simplified/Traditional/English headers, title rows."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from callback.ledger.headers import (
    FIELD_NAMES,
    FIELDS,
    REQUIRED_FIELDS,
    MissingColumns,
    field_for_header,
    find_header_row,
    map_headers,
    normalise_header,
)

SYNONYMS = [(f.name, s) for f in FIELDS for s in f.synonyms]


@pytest.mark.parametrize(("name", "synonym"), SYNONYMS)
def test_every_synonym_maps_to_its_field(name: str, synonym: str) -> None:
    assert field_for_header(synonym) == name


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("辦件編號", "case_no"),
        ("受理編號", "case_no"),
        ("申請編號", "case_no"),
        ("業務編號", "case_no"),
        ("流水號", "case_no"),
        ("聯繫電話", "phone"),
        ("聯系電話", "phone"),
        ("手機號碼", "phone"),
        ("手機", "phone"),
        ("電話", "phone"),
        ("聯絡電話", "phone"),
        ("窗口名稱", "window"),
        ("受理時間", "accepted_at"),
        ("申請時間", "accepted_at"),
        ("收件時間", "accepted_at"),
        ("辦結時間", "completed_at"),
        ("承諾辦結時間", "promised_at"),
        ("承諾時限", "promised_at"),
        ("承諾期限", "promised_at"),
        ("事項名稱", "item_name"),
        ("辦件類型", "item_kind"),
        ("事項類型", "item_kind"),
        ("申請人", "applicant"),
        ("申請人姓名", "applicant"),
        ("申請單位", "applicant"),
        ("經辦人", "staff"),
        ("受理人員", "staff"),
    ],
)
def test_traditional_headers(header: str, name: str) -> None:
    assert field_for_header(header) == name


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("*联系电话：", "phone"),
        ("  受理时间(必填) ", "accepted_at"),
        ("受理时间（yyyy-mm-dd）", "accepted_at"),
        ("\ufeff办件编号", "case_no"),
        ("【窗口】窗口名称", "window"),
        ("联系电话:", "phone"),
        ("＊手机号码＊", "phone"),
        ("办 件 编 号", "case_no"),
        ("ｐｈｏｎｅ", "phone"),
        ("Case Number", "case_no"),
        ("CASE_NO", "case_no"),
        ("case-no", "case_no"),
        ("Case No.", "case_no"),
        ("Accepted At", "accepted_at"),
        ("Mobile", "phone"),
        ("Window", "window"),
        ("completed_at", "completed_at"),
        ("Due Date", "promised_at"),
        ("Applicant Name", "applicant"),
        ("Staff", "staff"),
    ],
)
def test_decorated_and_english_headers(header: str, name: str) -> None:
    assert field_for_header(header) == name


@pytest.mark.parametrize(
    "header", ["XX政务服务中心受理台账 2026年11月", "备注", "序号", "", "   ", "受理", "联系", "(必填)"]
)
def test_unrelated_headers_map_to_nothing(header: str) -> None:
    assert field_for_header(header) is None


def test_normalise_header_keeps_only_the_matching_key() -> None:
    assert normalise_header("*聯繫電話：") == "联系电话"
    assert normalise_header(" Case Number ") == "casenumber"
    assert normalise_header(None) == ""


def test_map_headers_positions_unknown_and_duplicates() -> None:
    header = map_headers(["序号", "办件编号", "联系电话", "手机", "", "窗口", "受理时间", "备注", None])
    assert dict(header.columns) == {"case_no": 1, "phone": 2, "window": 5, "accepted_at": 6}
    assert dict(header.duplicates) == {"phone": (3,)}
    assert header.indexes("phone") == (2, 3)
    assert header.indexes("staff") == ()
    assert dict(header.unknown) == {0: "序号", 7: "备注"}
    assert header.missing_required() == ()
    assert "phone" in header and "staff" not in header


def test_map_headers_reports_missing_required() -> None:
    header = map_headers(["办件编号", "窗口", "申请人"])
    assert header.missing_required() == ("phone", "accepted_at")


def test_map_headers_accepts_non_text_cells() -> None:
    from datetime import datetime

    header = map_headers([datetime(2026, 11, 1), 42, "办件编号"])
    assert dict(header.columns) == {"case_no": 2}
    assert set(header.unknown) == {0, 1}


HEADER = ["办件编号", "联系电话", "窗口", "受理时间"]


def test_find_header_row_below_title_and_blank_rows() -> None:
    rows = iter([["XX政务服务中心受理台账 2026年11月", "", ""], [], ["", ""], HEADER, ["A1", "138", "w", "t"]])
    index, header = find_header_row(rows)
    assert index == 3
    assert header.columns["accepted_at"] == 3
    assert next(rows) == ["A1", "138", "w", "t"]  # the data rows are left for the caller


def test_find_header_row_on_first_line() -> None:
    assert find_header_row([HEADER, ["x"]])[0] == 0


def test_find_header_row_respects_max_scan() -> None:
    rows = [["标题"]] * 10 + [HEADER]
    with pytest.raises(MissingColumns):
        find_header_row(rows)
    assert find_header_row(rows, max_scan=11)[0] == 10


def test_missing_columns_names_fields_in_chinese_and_english() -> None:
    rows = [["某中心台账"], ["办件编号", "窗口", "受理时间", "申请人"], ["A1", "w", "t", "n"]]
    with pytest.raises(MissingColumns) as caught:
        find_header_row(rows)
    err = caught.value
    assert err.missing == ("phone",)
    assert err.header_row == 1
    assert err.header is not None and err.header.columns["window"] == 1
    assert "联系电话" in str(err) and "phone" in str(err)
    assert "联系电话" in err.zh and "phone" in err.en


def test_missing_columns_when_no_header_at_all() -> None:
    with pytest.raises(MissingColumns) as caught:
        find_header_row([["a", "b"], ["1", "2"]])
    assert caught.value.missing == REQUIRED_FIELDS
    assert caught.value.header is None
    assert "未找到表头" in str(caught.value) and "no header row" in str(caught.value)


def test_find_header_row_prefers_the_closest_candidate_in_the_error() -> None:
    rows = [["办件编号"], ["办件编号", "窗口", "受理时间"], ["办件编号", "窗口"]]
    with pytest.raises(MissingColumns) as caught:
        find_header_row(rows)
    assert caught.value.header_row == 1
    assert caught.value.missing == ("phone",)


@given(
    st.permutations(FIELD_NAMES).flatmap(
        lambda names: st.tuples(
            st.just(names), st.tuples(*(st.sampled_from(_synonyms(n)) for n in names))
        )
    )
)
def test_any_arrangement_of_any_synonyms_maps_back(case: tuple[tuple[str, ...], tuple[str, ...]]) -> None:
    names, headers = case
    header = map_headers(list(headers))
    assert dict(header.columns) == {name: i for i, name in enumerate(names)}
    assert not header.unknown and not header.duplicates


@given(st.lists(st.one_of(st.text(), st.none(), st.integers()), max_size=20))
def test_map_headers_never_raises_and_stays_in_range(row: list[object]) -> None:
    header = map_headers(row)
    indexes = [*header.columns.values(), *(i for d in header.duplicates.values() for i in d), *header.unknown]
    assert sorted(indexes) == sorted(set(indexes))
    assert all(0 <= i < len(row) for i in indexes)


def _synonyms(name: str) -> list[str]:
    field = next(f for f in FIELDS if f.name == name)
    return [field.name, *field.synonyms]
