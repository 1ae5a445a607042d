"""Phone, date/time and text cells as ledgers really carry them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone

import phonenumbers
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from callback.ledger import values
from callback.ledger.values import Phone, cell_text, normalise_phone, parse_datetime

# ---------------------------------------------------------------------------------------------------- phones


@pytest.mark.parametrize(
    ("raw", "e164", "kind"),
    [
        ("13800138000", "+8613800138000", "mobile"),
        ("138 0013 8000", "+8613800138000", "mobile"),
        ("138-0013-8000", "+8613800138000", "mobile"),
        ("138.0013.8000", "+8613800138000", "mobile"),
        ("(138)00138000", "+8613800138000", "mobile"),
        ("+86 138 0013 8000", "+8613800138000", "mobile"),
        ("+86-13800138000", "+8613800138000", "mobile"),
        ("0086 13800138000", "+8613800138000", "mobile"),
        ("8613800138000", "+8613800138000", "mobile"),
        ("１３８００１３８０００", "+8613800138000", "mobile"),
        ("＋８６ １３８－００１３－８０００", "+8613800138000", "mobile"),
        ("\t13800138000 ", "+8613800138000", "mobile"),
        (13800138000, "+8613800138000", "mobile"),
        (13800138000.0, "+8613800138000", "mobile"),
        ("17951 13800138000", "+8613800138000", "mobile"),  # IP-dialling prefix
        ("010-12345678", "+861012345678", "landline"),
        ("(010)12345678", "+861012345678", "landline"),
        ("0771-2345678", "+867712345678", "landline"),
        ("0771 234 5678", "+867712345678", "landline"),
        ("0755-12345678", "+8675512345678", "landline"),
        ("+86 10 1234 5678", "+861012345678", "landline"),
        ("400-123-4567", "+864001234567", "landline"),
        ("0755-1234567", None, "invalid"),  # Shenzhen numbers have 8 digits
        ("12345678", None, "invalid"),  # no area code
        ("14012345678", None, "invalid"),  # 1[3-9]-shaped but not an allocated mobile range
        ("1380013800", None, "invalid"),
        ("+852 9123 4567", None, "invalid"),  # not a CN number
        ("1.38001E+10", None, "invalid"),  # Excel scientific notation lost the digits
        ("", None, "missing"),
        ("   ", None, "missing"),
        ("无", None, "missing"),
        (None, None, "missing"),
    ],
)
def test_normalise_phone_examples(raw: object, e164: str | None, kind: str) -> None:
    phone = normalise_phone(raw)
    assert (phone.e164, phone.kind) == (e164, kind)
    assert phone.dialable == (e164 is not None)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("010-12345678/13800138000", "+8613800138000"),  # a later mobile beats an earlier landline
        ("13800138000、13900139000", "+8613800138000"),
        ("13800138000，13900139000", "+8613800138000"),
        ("13800138000;13900139000", "+8613800138000"),
        ("13800138000 13900139000", "+8613800138000"),
        ("138 0013 8000 139 0013 9000", "+8613800138000"),
        ("13800138000-13900139000", "+8613800138000"),
        ("0771-2345678 13900139000", "+8613900139000"),
        ("手机：13900139000（本人），座机：010-12345678", "+8613900139000"),
        ("12345 / 13900139000", "+8613900139000"),  # garbage before a good number
        ("010-12345678转123", "+861012345678"),
        ("010-12345678 / 0771-2345678", "+861012345678"),  # no mobile: the first landline
        ("无效 / 0771-2345678", "+867712345678"),
    ],
)
def test_several_numbers_in_one_cell(raw: str, e164: str) -> None:
    assert normalise_phone(raw).e164 == e164


def test_area_code_completes_local_landlines() -> None:
    assert normalise_phone("2345678", area_code="0771").e164 == "+867712345678"
    assert normalise_phone("2345678", area_code="771").kind == "landline"
    assert normalise_phone("2345678").kind == "invalid"
    assert normalise_phone("13800138000", area_code="771").kind == "mobile"


def test_phone_keeps_raw_but_never_shows_it() -> None:
    phone = normalise_phone(" 138-0013-8000 ")
    assert phone.raw == " 138-0013-8000 "
    assert "13800138000" not in repr(phone) and "0013" not in repr(phone)
    assert phone.masked == "138****8000"


MOBILE = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
DECORATION = st.sampled_from(["{}", "{} ", " {}", "+86{}", "+86 {}", "0086{}", "86{}", "{}\u3000"])


def _phonenumbers_reference(national: str) -> str | None:
    number = phonenumbers.parse(national, "CN")
    is_mobile = phonenumbers.is_valid_number(number) and (
        phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE
    )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if is_mobile else None


def _spaced(national: str, style: int) -> str:
    if style == 1:
        return f"{national[:3]} {national[3:7]} {national[7:]}"
    if style == 2:
        return f"{national[:3]}-{national[3:7]}-{national[7:]}"
    if style == 3:
        return national.translate({ord(str(d)): chr(0xFF10 + d) for d in range(10)})
    return national


@given(MOBILE, st.integers(0, 3), DECORATION)
@example("13800138000", 0, "{}")
@example("14012345678", 0, "{}")
@example("17400012345", 0, "{}")
@example("19212345678", 2, "+86 {}")
def test_fast_path_agrees_with_phonenumbers(national: str, style: int, decoration: str) -> None:
    """Every 1[3-9]xxxxxxxxx number, however decorated: the fast path answers exactly when phonenumbers says
    "valid CN mobile", with the same E.164; everything else goes on to phonenumbers itself."""
    raw = decoration.format(_spaced(national, style))
    expected = _phonenumbers_reference(national)
    assert (values._fast_mobile(raw) is not None) == (expected is not None)
    phone = normalise_phone(raw)
    assert phone.e164 == expected
    assert phone.kind == ("mobile" if expected else "invalid")


PHONEISH = st.text(alphabet="0123456789０１２３+-. ()/、，;转手机电话", max_size=40)


@given(st.one_of(st.text(max_size=80), PHONEISH, st.integers(), st.floats(), st.none()))
@example("+86" + "1" * 200)
@example("1 " * 300)
def test_normalise_phone_never_raises_and_only_returns_valid_numbers(raw: object) -> None:
    phone = normalise_phone(raw)
    assert phone.kind in ("mobile", "landline", "invalid", "missing")
    if phone.kind in ("mobile", "landline"):
        assert phone.e164 is not None
        number = phonenumbers.parse(phone.e164, None)
        assert phonenumbers.is_valid_number(number)
        assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == phone.e164
        is_mobile = phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.MOBILE
        assert is_mobile == (phone.kind == "mobile")
    else:
        assert phone.e164 is None


def test_phone_masks_itself_with_survey_privacy() -> None:
    """The rules are tested in tests/survey/test_privacy.py; a Phone uses them on its E.164 form, else its raw cell."""
    assert Phone("+8613812345678", "mobile", "138 1234 5678").masked == "138****5678"
    assert Phone("+867712345678", "landline", "2345678").masked == "0771****5678"
    assert Phone(None, "invalid", "138123456789").masked == "****6789"


@given(st.text(max_size=40))
def test_mask_phone_never_shows_a_whole_valid_number(raw: str) -> None:
    from survey.privacy import mask_phone

    phone = normalise_phone(raw)
    if phone.e164 is not None:
        assert phone.e164[3:] not in mask_phone(raw)
        assert "****" in mask_phone(raw)


# ---------------------------------------------------------------------------------------------------- dates

D = datetime


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-03 09:12", D(2026, 11, 3, 9, 12)),
        ("2026-11-03 09:12:30", D(2026, 11, 3, 9, 12, 30)),
        ("2026-11-03T09:12:30", D(2026, 11, 3, 9, 12, 30)),
        ("2026-11-3 9:12", D(2026, 11, 3, 9, 12)),
        ("2026-11-03", D(2026, 11, 3)),
        ("2026/11/3", D(2026, 11, 3)),
        ("2026/11/3 9:12", D(2026, 11, 3, 9, 12)),
        ("2026/11/03 09:12:30", D(2026, 11, 3, 9, 12, 30)),
        ("2026.11.03", D(2026, 11, 3)),
        ("2026.11.03 09:12", D(2026, 11, 3, 9, 12)),
        ("2026年11月3日", D(2026, 11, 3)),
        ("2026年11月3日 9:12", D(2026, 11, 3, 9, 12)),
        ("2026年11月3日9时12分", D(2026, 11, 3, 9, 12)),
        ("2026年11月3日 9时12分30秒", D(2026, 11, 3, 9, 12, 30)),
        ("2026年11月3號 9時12分", D(2026, 11, 3, 9, 12)),
        ("2026年11月3日 下午3点", D(2026, 11, 3, 15, 0)),
        ("2026年11月3日 上午9:12", D(2026, 11, 3, 9, 12)),
        ("2026/11/3 3:12 PM", D(2026, 11, 3, 15, 12)),
        ("2026/11/3 12:05 am", D(2026, 11, 3, 0, 5)),
        ("20261103", D(2026, 11, 3)),
        ("202611030912", D(2026, 11, 3, 9, 12)),
        ("20261103091230", D(2026, 11, 3, 9, 12, 30)),
        ("46329.375", D(2026, 11, 3, 9, 0)),
        ("46329", D(2026, 11, 3)),
        (46329.375, D(2026, 11, 3, 9, 0)),
        (46329, D(2026, 11, 3)),
        ("２０２６－１１－０３　０９：１２", D(2026, 11, 3, 9, 12)),
        ("２０２６年１１月３日", D(2026, 11, 3)),
        (" 2026-11-03 09:12 ", D(2026, 11, 3, 9, 12)),
        ("2026-11-03 09:12:30.250", D(2026, 11, 3, 9, 12, 30, 250000)),
        ("2026-11-03T01:12:30+00:00", D(2026, 11, 3, 9, 12, 30)),
        ("2026-11-03T09:12:30+08:00", D(2026, 11, 3, 9, 12, 30)),
        (D(2026, 11, 3, 9, 12), D(2026, 11, 3, 9, 12)),
        (D(2026, 11, 3, 1, 12, tzinfo=UTC), D(2026, 11, 3, 9, 12)),
        (date(2026, 11, 3), D(2026, 11, 3)),
    ],
)
def test_parse_datetime_examples(value: object, expected: datetime) -> None:
    assert parse_datetime(value) == expected


@pytest.mark.parametrize("value", [None, "", "  ", "-", "—", "/", "无", "暂无", "NULL", "nan"])
def test_blank_dates_are_none(value: object) -> None:
    assert parse_datetime(value) is None


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        "2026-13-01",
        "2026-02-30",
        "2026-11-03 25:00",
        "2026-11-03 9:60",
        "2026/11-03",
        "2026年11月",
        "11/3/2026",
        "5",  # 承诺时限 given as a number of days is not a date
        "5个工作日",
        "1900-01-01",  # outside the plausible range
        "2206-11-03",
        60,  # Excel's phantom 1900-02-29
        float("nan"),
        float("inf"),
        1e300,
        True,
        time(9, 12),
        "下午13点",
    ],
)
def test_garbage_dates_raise_value_error_in_chinese_and_english(value: object) -> None:
    with pytest.raises(ValueError) as caught:
        parse_datetime(value)
    message = str(caught.value)
    assert ("无法识别" in message or "超出" in message) and (" / " in message)
    assert any(word in message for word in ("unrecognised", "out of range", "outside"))


SECONDS = st.datetimes(min_value=D(1970, 1, 1), max_value=D(2099, 12, 31, 23, 59, 59)).map(
    lambda d: d.replace(microsecond=0)
)
MINUTES = SECONDS.map(lambda d: d.replace(second=0))
DAYS = SECONDS.map(lambda d: d.replace(hour=0, minute=0, second=0))
FULLWIDTH = {ord(str(d)): chr(0xFF10 + d) for d in range(10)} | {ord("-"): "－", ord(":"): "：", ord(" "): "\u3000"}


def _serial(d: datetime) -> float:
    return (d - D(1899, 12, 30)) / timedelta(days=1)


MINUTE_FORMATS = [
    lambda d: d.strftime("%Y-%m-%d %H:%M"),
    lambda d: f"{d.year}/{d.month}/{d.day} {d.hour}:{d.minute:02d}",
    lambda d: f"{d.year}-{d.month}-{d.day} {d.hour}:{d.minute}",
    lambda d: f"{d.year}.{d.month:02d}.{d.day:02d} {d.hour:02d}:{d.minute:02d}",
    lambda d: f"{d.year}年{d.month}月{d.day}日 {d.hour}:{d.minute:02d}",
    lambda d: f"{d.year}年{d.month}月{d.day}日{d.hour}时{d.minute}分",
    lambda d: d.strftime("%Y%m%d%H%M"),
    lambda d: d.strftime("%Y-%m-%d %H:%M").translate(FULLWIDTH),
]
SECOND_FORMATS = [
    lambda d: d.strftime("%Y-%m-%d %H:%M:%S"),
    lambda d: d.strftime("%Y/%m/%d %H:%M:%S"),
    lambda d: d.isoformat(),
    lambda d: d.strftime("%Y%m%d%H%M%S"),
    lambda d: f"{d.year}年{d.month}月{d.day}日 {d.hour}时{d.minute}分{d.second}秒",
    lambda d: _serial(d),
    lambda d: repr(_serial(d)),
    lambda d: d,
]
DAY_FORMATS = [
    lambda d: f"{d.year}/{d.month}/{d.day}",
    lambda d: d.strftime("%Y.%m.%d"),
    lambda d: d.strftime("%Y-%m-%d"),
    lambda d: f"{d.year}年{d.month}月{d.day}日",
    lambda d: d.strftime("%Y%m%d"),
    lambda d: str(round(_serial(d))),
    lambda d: d.date(),
]


@given(MINUTES, st.sampled_from(MINUTE_FORMATS))
def test_round_trip_minute_formats(d: datetime, fmt: Callable[[datetime], object]) -> None:
    assert parse_datetime(fmt(d)) == d


@given(SECONDS, st.sampled_from(SECOND_FORMATS))
def test_round_trip_second_formats(d: datetime, fmt: Callable[[datetime], object]) -> None:
    assert parse_datetime(fmt(d)) == d


@given(DAYS, st.sampled_from(DAY_FORMATS))
def test_round_trip_date_formats(d: datetime, fmt: Callable[[datetime], object]) -> None:
    assert parse_datetime(fmt(d)) == d


DATEISH_FAST = st.from_regex(r"[0-9]{4}-[0-9W]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}(:[0-9+Z]{2})?", fullmatch=True)


@given(st.one_of(SECONDS.map(str), MINUTES.map(lambda d: d.strftime("%Y-%m-%d %H:%M")), DATEISH_FAST))
def test_fast_date_path_agrees_with_the_general_parser(text: str) -> None:
    fast = values._fast_text(text)
    if fast is not None:
        assert fast == values._parse_text(text)


@given(SECONDS, st.integers(-14, 14))
def test_aware_datetimes_become_shanghai_wall_time(d: datetime, offset_hours: int) -> None:
    aware = d.replace(tzinfo=timezone(timedelta(hours=offset_hours)))
    shanghai = aware.astimezone(timezone(timedelta(hours=8))).replace(tzinfo=None)
    if D(1970, 1, 1) <= shanghai <= D(2099, 12, 31, 23, 59, 59):
        assert parse_datetime(aware) == shanghai
        assert parse_datetime(aware.isoformat()) == shanghai


DATEISH = st.text(alphabet="0123456789-/.: 年月日号时分秒点T+Z上午下午PMam\u3000２０", max_size=30)
AWARE = st.datetimes(
    timezones=st.builds(timezone, st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23)))
)


@given(st.one_of(st.text(), DATEISH, st.integers(), st.floats(), st.datetimes(), AWARE, st.dates(), st.times(),
                 st.booleans(), st.none(), st.binary()))
def test_parse_datetime_raises_only_value_error(value: object) -> None:
    try:
        result = parse_datetime(value)
    except ValueError:
        return
    assert result is None or (result.tzinfo is None and values.EARLIEST <= result <= values.LATEST)


# ---------------------------------------------------------------------------------------------------- text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        ("  HB001 ", "HB001"),
        ('="000123"', "000123"),
        (2026110300001.0, "2026110300001"),
        (12.5, "12.5"),
        (42, "42"),
        (D(2026, 11, 3, 9, 12), "2026-11-03 09:12:00"),
        (date(2026, 11, 3), "2026-11-03"),
        ("社保窗口", "社保窗口"),
    ],
)
def test_cell_text(value: object, text: str) -> None:
    assert cell_text(value) == text
