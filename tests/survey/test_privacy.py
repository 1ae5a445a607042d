"""survey.privacy: one masking rule per kind of personal data, and free text with all of them found and masked."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from survey.privacy import mask_bank_card, mask_id_card, mask_name, mask_phone, mask_text

# ------------------------------------------------------------------------------------------- single values


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("+8613812345678", "138****5678"),
        ("13812345678", "138****5678"),
        ("138 1234 5678", "138****5678"),
        ("0086 138 1234 5678", "138****5678"),
        ("8613812345678", "138****5678"),
        ("１３８１２３４５６７８", "138****5678"),
        ("+861012345678", "010****5678"),
        ("010-12345678", "010****5678"),
        ("+862083123456", "020****3456"),
        ("+867712345678", "0771****5678"),
        ("0755-12345678", "0755****5678"),
        ("0755-1234567", "0755****4567"),
        ("+864001234567", "400****4567"),
        ("800-123-4567", "800****4567"),
        ("12345678", "****5678"),  # a local number without its area code
        ("+12125551234", "****1234"),  # not a Chinese number: the last four only
        ("138123456789", "****6789"),  # a mistyped mobile
        ("123456", "****"),
        ("1234", "****"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_phone(value: str | None, masked: str) -> None:
    assert mask_phone(value) == masked


@pytest.mark.parametrize(("name", "masked"), [("张三", "张*"), ("王小明", "王**"), ("欧阳娜娜", "欧***"), ("李", "*"),
                                               (" 张三 ", "张*"), ("", ""), (None, "")])
def test_mask_name(name: str | None, masked: str) -> None:
    assert mask_name(name) == masked


def test_mask_id_card_and_bank_card() -> None:
    assert mask_id_card("110101199003071234") == "110101********1234"
    assert mask_id_card("11010119900307123x") == "110101********123X"
    assert mask_id_card("110101900307123") == "110101*****7123"
    assert mask_bank_card("6222021234561234") == "6222********1234"
    assert mask_bank_card("6222 0212 3456 1234 567") == "6222***********4567"


# ------------------------------------------------------------------------------------------- free text: examples


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("我的电话是13912345678，身份证110101199003071234", "我的电话是139****5678，身份证110101********1234"),
        ("请打 +86 138-1234-5678 找我", "请打 138****5678 找我"),
        ("电话１３９１２３４５６７８", "电话139****5678"),
        ("电话幺三九一二三四五六七八谢谢", "电话139****5678谢谢"),  # as a speech recogniser may write it
        ("身份证号11010119900307123X号", "身份证号110101********123X号"),
        ("老身份证110101900307123", "老身份证110101*****7123"),
        ("卡号6222 0212 3456 7890，退钱", "卡号6222********7890，退钱"),
        ("座机0536-1234567或13912345678", "座机0536****4567或139****5678"),
        ("13912345678 13812345678", "139****5678 138****5678"),
        ("Invalid 'To' Phone Number: +8613812345678", "Invalid 'To' Phone Number: 138****5678"),
        ("landline +861088886666", "landline 010****6666"),
        ("办件编号1234567", "办件编号****4567"),  # any 7 digits are hidden, whatever they are
    ],
)
def test_mask_text_examples(text: str, masked: str) -> None:
    assert mask_text(text) == masked


@pytest.mark.parametrize(
    "text",
    ["等了 45 分钟，3 个窗口", "1 1 2 1 1 1", "112111 很好", "error 21211", "2026-11-24 09:30 去办的", "第一个窗口",
     "一二三四五六"],
)
def test_mask_text_leaves_short_numbers_and_dates_alone(text: str) -> None:
    assert mask_text(text) == text


def test_mask_text_masks_the_given_names() -> None:
    assert mask_text("张三说：请打 138 1234 5678 找我", names=["张三"]) == "张*说：请打 138****5678 找我"
    assert mask_text("欧阳娜娜和欧阳", names=["欧阳", "欧阳娜娜"]) == "欧***和欧*"
    assert mask_text("李说", names=["李"]) == "李说"  # a one-character name would hide every such character


def test_mask_text_stars_of_its_own_do_not_shield_a_number() -> None:
    assert mask_text("*13912345678*") == "*139****5678*"
    assert mask_text("139**1234567") == "139******4567"


# ------------------------------------------------------------------------------------------- free text: properties

# Chinese text with no character that could be read as a digit (一, 二, 零 … are digits to a speech recogniser).
CHINESE = st.text(alphabet=st.sampled_from("我的电话是号码请打找谢身份证卡银行办事窗口很好不满意，。：、！？ 张王李赵"),
                  max_size=12)
REGIONS = ["11", "12", "13", "21", "22", "31", "32", "33", "37", "41", "44", "45", "50", "51", "53", "61", "65"]


@st.composite
def dates(draw: st.DrawFn) -> str:
    year = draw(st.integers(1930, 2020))
    month, day = draw(st.integers(1, 12)), draw(st.integers(1, 28))
    return f"{year:04d}{month:02d}{day:02d}"


MOBILES = st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True)
LANDLINES = st.from_regex(r"0(10|2[0-9])[2-8][0-9]{7}|0[3-9][0-9]{2}[2-8][0-9]{6,7}", fullmatch=True)
ID18 = st.builds(lambda r, d, s, c: f"{r}{d}{s}{c}", st.sampled_from(REGIONS).map(lambda r: r + "0101"), dates(),
                 st.from_regex(r"[0-9]{3}", fullmatch=True), st.sampled_from("0123456789Xx"))
ID15 = st.builds(lambda r, d, s: f"{r}{d[2:]}{s}", st.sampled_from(REGIONS).map(lambda r: r + "0101"), dates(),
                 st.from_regex(r"[0-9]{3}", fullmatch=True))
BANKS = st.from_regex(r"62[0-9]{14,17}", fullmatch=True).filter(lambda n: len(n) != 18 or n[6:8] not in ("19", "20"))
KINDS = {"mobile": (MOBILES, mask_phone), "landline": (LANDLINES, mask_phone), "id18": (ID18, mask_id_card),
         "id15": (ID15, mask_id_card), "bank": (BANKS, mask_bank_card)}


@st.composite
def written(draw: st.DrawFn, number: str) -> str:
    """A number as people write or say it: split anywhere by spaces or dashes, perhaps in full-width digits."""
    pieces, rest = [], number
    while rest:
        size = draw(st.integers(1, len(rest)))
        pieces.append(rest[:size])
        rest = rest[size:]
    text = pieces[0] + "".join(draw(st.sampled_from([" ", "-", " - ", "\u3000"])) + p for p in pieces[1:])
    if draw(st.booleans()):
        text = "".join(chr(ord(ch) + 0xFEE0) if ch.isdigit() else ch for ch in text)  # full-width
    return text


@pytest.mark.parametrize("kind", sorted(KINDS))
@given(data=st.data(), before=CHINESE, after=CHINESE)
def test_each_kind_is_recognised_in_chinese_text(kind: str, data: st.DataObject, before: str, after: str) -> None:
    numbers, single_mask = KINDS[kind]
    number = data.draw(numbers)
    raw = data.draw(written(number))
    assume(not re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}(?: \d{1,2})?", raw))  # a date is never one of these numbers
    masked = mask_text(f"{before}{raw}{after}")
    assert masked == f"{before}{single_mask(number)}{after}"  # recognised as its kind; the text around unchanged
    shown = re.findall(r"\d+", unicodedata.normalize("NFKC", masked))
    digits = number.rstrip("Xx")
    assert not any(digits[i:i + 7] in run for run in shown for i in range(len(digits) - 6))


@given(number=MOBILES, before=CHINESE, after=CHINESE)
def test_country_code_is_dropped(number: str, before: str, after: str) -> None:
    for prefix in ("+86", "+86 ", "0086", "86"):
        assert mask_text(f"{before}{prefix}{number}{after}") == f"{before}{number[:3]}****{number[-4:]}{after}"


NOISY = st.text(alphabet=st.sampled_from("0123456789０１２３一三九幺 -*+Xx张三，电话："), max_size=60)


@given(NOISY)
@example("1234567+8613912345678")
@example("一三九一二三四五六七八123")
def test_idempotent(text: str) -> None:
    once = mask_text(text, names=["张三"])
    assert mask_text(once, names=["张三"]) == once


_RUN = re.compile(r"[0-9０-９〇零一二三四五六七八九幺]+(?:[ \-]{1,3}[0-9０-９〇零一二三四五六七八九幺]+)*")


@given(NOISY.filter(lambda t: "*" not in t))
def test_no_seven_digit_run_survives(text: str) -> None:
    """Whatever the text, no run of 7+ digits (spaced or dashed) is left in it, except the masks' own pieces,
    which touch a "*" and hold at most six digits each."""
    masked = mask_text(text)
    for run in _RUN.finditer(masked):
        touches_mask = masked[run.start() - 1:run.start()] == "*" or masked[run.end():run.end() + 1] == "*"
        pieces = re.split(r"[ \-]+", run.group())
        assert len("".join(pieces)) < 7 or (touches_mask and max(map(len, pieces)) <= 6), masked
