"""Every numbered clause of 篇3 二(一)–(七) in the seed file has a rule in ``survey.assessment_rules`` (or is listed
as deliberately not scored, with its reason), with the seed's text, points, caps, award bars and consequences.

The seed is printed in Traditional characters; ``to_simplified`` maps the ones 篇3 uses (the map is exactly
the characters that differ, so a clause typed wrongly in the data shows up as a mismatch, not as a new pair).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

from survey.assessment_rules import (
    BASE_POINTS,
    BONUS_CAP,
    CLAUSES,
    CLAUSES_BY_ID,
    LEAVE_RULES,
    NOT_SCORED,
    SECTION_POINTS,
    SECTIONS,
    VOLUME_ITEMS,
    Clause,
)

SEED = Path(__file__).resolve().parents[2] / "docs" / "seeds" / "000_8ace62ac612319da.txt"

_PAIRS = (
    "丟丢亂乱個个備备價价優优內内兩两別别劃划動动務务區区參参員员啟启單单嘩哗嚴严國国執执報报場场奮奋學学實实審审將将"
    "專专對对導导崗岗廢废廳厅強强從从態态應应戲戏揚扬換换損损據据擺摆時时曠旷書书會会條条業业極极構构樂乐標标樹树機机"
    "檔档櫥橱歲岁況况準准滿满潔洁瀏浏為为無无煙烟熱热獎奖獲获現现異异當当發发監监眾众確确礎础種种積积竊窃節节糾纠紀纪"
    "紋纹級级紛纷組组結结絡络統统經经綜综網网線线練练織织習习聞闻聯联聽听脫脱腦脑腳脚臺台與与著着處处虛虚衛卫補补裝装"
    "褲裤規规視视覺觉覽览觸触計计訓训記记訪访設设許许訴诉評评詢询話话該该認认語语誤误說说請请諾诺謀谋講讲證证議议護护"
    "負负責责資资質质購购贈赠車车輕轻輛辆輸输辦办辭辞進进過过達达違违遲迟銷销錄录錦锦鐘钟門门閉闭開开間间關关隨随雜杂"
    "離离電电響响頁页頂顶項项須须預预領领頻频類类顯显風风飲饮饋馈驗验體体鬧闹齊齐運运選选擇择產产總总東东數数終终"
)
_T2S = str.maketrans(_PAIRS[0::2], _PAIRS[1::2])
SECTION_IDS = "一二三四五六七"


def to_simplified(text: str) -> str:
    """NFKC (full-width punctuation → ASCII, as the seed prints it) and 篇3's Traditional characters →
    Simplified."""
    return unicodedata.normalize("NFKC", text).translate(_T2S)


@dataclass
class SeedSection:
    id: str
    points: int
    preamble: list[str] = field(default_factory=list)
    clauses: dict[int, str] = field(default_factory=dict)
    sub_items: dict[int, str] = field(default_factory=dict)


@dataclass
class Seed:
    intro: str
    sections: dict[str, SeedSection]
    results: str  # 三、计分办法和结果运用

    def clause_text(self, clause_id: str) -> str:
        return self.sections[clause_id[0]].clauses[int(clause_id[1:])]


HEADING = re.compile(r"^\(([一二三四五六])\)\S+?\((\d+)分\)$")
BONUS_HEADING = re.compile(r"^\(七\)附加分项\(本项总加分不超过(\d+)分\)$")
NUMBERED = re.compile(r"^(\d+)\.\s*(.+)$")
SUB_ITEM = re.compile(r"^(\d+)\)\s*(.+)$")


def _sections(lines: list[str]) -> dict[str, SeedSection]:
    sections: dict[str, SeedSection] = {}
    current: SeedSection | None = None
    for line in lines:
        heading = HEADING.match(line) or BONUS_HEADING.match(line)
        numbered, sub = NUMBERED.match(line), SUB_ITEM.match(line)
        if heading:
            sid, points = heading.groups() if len(heading.groups()) == 2 else ("七", heading.group(1))
            current = sections.setdefault(sid, SeedSection(sid, int(points)))
        elif current is None:
            continue
        elif numbered:
            current.clauses[int(numbered.group(1))] = numbered.group(2)
        elif sub and current.id == "七":
            current.sub_items[int(sub.group(1))] = sub.group(2)
        elif line and not current.clauses:
            current.preamble.append(line)
    return sections


@pytest.fixture(scope="module")
def seed() -> Seed:
    text = to_simplified(SEED.read_text(encoding="utf-8"))
    part = text[text.index("篇3:"):]
    contents, results = part.index("二、考核内容和方式"), part.index("三、计分办法和结果运用")
    lines = [line.strip() for line in part[contents:results].splitlines()]
    return Seed(lines[1], _sections(lines[2:]), part[results:])


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def test_the_seed_has_seven_sections_and_their_clauses(seed: Seed) -> None:
    assert list(seed.sections) == list(SECTION_IDS)
    assert [len(seed.sections[s].clauses) for s in SECTION_IDS] == [7, 8, 7, 9, 4, 4, 9]
    assert list(seed.sections["四"].clauses) == [1, 2, 3, 4, 6, 7, 8, 9, 10]  # the seed skips 四5
    assert list(seed.sections["七"].sub_items) == [1, 2]


def test_every_numbered_clause_has_a_rule_and_no_rule_is_invented(seed: Seed) -> None:
    in_seed = [f"{s}{n}" for s in SECTION_IDS for n in seed.sections[s].clauses]
    assert [c.id for c in CLAUSES] == in_seed
    assert "四5" not in CLAUSES_BY_ID
    for rule in CLAUSES:
        assert rule.section == rule.id[0] and rule.number == int(rule.id[1:])


def test_every_clause_is_scored_or_listed_with_a_reason(seed: Seed) -> None:
    unscored = {item.ref for item in NOT_SCORED}
    for rule in CLAUSES:
        if not rule.grades:  # 一7 is leave-day thresholds, not points
            assert rule.note and rule.id in unscored and LEAVE_RULES
    assert all(item.reason for item in NOT_SCORED)


@pytest.mark.parametrize("clause_id", [c.id for c in CLAUSES])
def test_clause_text_is_the_seeds(seed: Seed, clause_id: str) -> None:
    assert _fold(CLAUSES_BY_ID[clause_id].text) == seed.clause_text(clause_id)


def test_volume_sub_items_are_the_seeds_and_each_has_grades(seed: Seed) -> None:
    assert {n: _fold(text) for n, text in VOLUME_ITEMS} == seed.sections["七"].sub_items
    assert {g.sub for g in CLAUSES_BY_ID["七9"].grades} == set(seed.sections["七"].sub_items)


def test_preambles_are_the_seeds(seed: Seed) -> None:
    nursing = next(item for item in NOT_SCORED if item.ref == "一")
    for section in SECTIONS:
        expected = "".join(seed.sections[section.id].preamble)
        extra = nursing.text if section.id == "一" else ""
        assert _fold(section.preamble + extra) == expected


def test_not_scored_sentences_are_in_the_seed_where_they_say(seed: Seed) -> None:
    for item in NOT_SCORED:
        if item.ref in CLAUSES_BY_ID:
            where = seed.clause_text(item.ref)
        elif item.ref in SECTION_IDS:
            where = "".join(seed.sections[item.ref].preamble)
        else:
            assert item.ref == "三(二)"
            where = seed.results
        assert _fold(item.text) in where, item.ref


def test_section_points_are_the_headings(seed: Seed) -> None:
    assert {s: float(p) for s, p in SECTION_POINTS.items()} == {s: seed.sections[s].points for s in "一二三四五六"}
    assert sum(SECTION_POINTS.values()) == BASE_POINTS == int(re.search(r"设基本分(\d+)分", seed.intro).group(1))
    assert BONUS_CAP == seed.sections["七"].points == int(re.search(r"最高加分(\d+)分", seed.intro).group(1))


POINTS = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?(?:[、-]\d+(?:\.\d+)?)*)分(?!钟)")


def _numbers_in(text: str) -> set[Decimal]:
    return {Decimal(n) for found in POINTS.findall(text) for n in re.split(r"[、-]", found)}


def _numbers_of(rule: Clause) -> set[Decimal]:
    found = {abs(g.points) for g in rule.grades} | {g.cap for g in rule.grades if g.cap is not None}
    found |= {end for g in rule.grades if g.range for end in g.range}
    return found | {cap for cap in (rule.cap_month, rule.cap_year) if cap is not None}


@pytest.mark.parametrize("clause_id", [c.id for c in CLAUSES])
def test_every_figure_in_the_clause_is_in_its_rule(seed: Seed, clause_id: str) -> None:
    """Each "扣N分" / "加N分" / "不超过N分" of the seed is a grade's points, a range end or a cap, and the rule has
    no figure the clause does not print (but 0.5, the smallest discretionary step)."""
    rule = CLAUSES_BY_ID[clause_id]
    text = seed.clause_text(clause_id)
    if clause_id == "七9":
        text += "".join(seed.sections["七"].sub_items.values())
    if clause_id == "一6":
        assert "按第三条处理" in text
        text += seed.clause_text("一3")
    section_points = {SECTION_POINTS[rule.section]} if rule.section in SECTION_POINTS else set()
    assert _numbers_in(text) <= _numbers_of(rule) | section_points  # 五1 prints "得15分"
    assert _numbers_of(rule) <= _numbers_in(text) | {Decimal("0.5")}


def test_award_bars_are_the_clauses_that_cancel_the_years_award(seed: Seed) -> None:
    printed = {c.id for c in CLAUSES if "取消当年评先树优资格" in seed.clause_text(c.id)}
    modelled = {c.id for c in CLAUSES if c.bars_award or any(g.bars_award for g in c.grades)}
    assert printed == modelled | {"一7"} == {"一7", "二6", "五3", "六4"}
    assert {(r.measure, r.over_days) for r in LEAVE_RULES if r.consequence == "award"} == {
        ("personal_total", 20), ("sick_total", 30),
    }
    assert next(g for g in CLAUSES_BY_ID["六4"].grades if g.bars_award).key == "major_loss"  # 造成重大损失的


@pytest.mark.parametrize("word", ["通报批评", "辞退", "追究"])
def test_consequences_that_are_not_points_are_notes(seed: Seed, word: str) -> None:
    printed = {c.id for c in CLAUSES if word in seed.clause_text(c.id)}
    noted = {
        c.id for c in CLAUSES
        if any(word in n.text for n in c.consequences + tuple(n for g in c.grades for n in g.consequences))
    }
    assert printed == noted and printed


def test_per_n_and_caps_are_the_seeds(seed: Seed) -> None:
    then = CLAUSES_BY_ID["五2"].grade("then_satisfied")
    assert "累计三次扣1分" in seed.clause_text("五2") and (then.per, then.points, then.per_year) == (3, -1, True)
    assert "每月此项不超过2分" in seed.clause_text("七4") and CLAUSES_BY_ID["七4"].cap_month == 2
    assert "累计加分不超过5分" in seed.clause_text("七5") and CLAUSES_BY_ID["七5"].cap_year == 5
    assert "该项最高加5分" in seed.clause_text("七9") and CLAUSES_BY_ID["七9"].cap_month == 5
    assert CLAUSES_BY_ID["七9"].grade("online").cap == 2
    assert "产假人员以基本分作为个人每月考核分数" in seed.intro


def test_off_post_grades_follow_the_minutes_in_the_text(seed: Seed) -> None:
    assert "不在岗超过15分钟" in seed.clause_text("一3") and "超过2小时" in seed.clause_text("一3")
    for clause_id in ("一3", "一6"):  # 一6: 按第三条处理
        grades = {g.key: (g.over_minutes, g.points) for g in CLAUSES_BY_ID[clause_id].grades}
        assert grades["off_post"] == (15, -2) and grades["absent"] == (120, -4)
