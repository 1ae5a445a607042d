"""篇3 《前台工作人员考核办法》 as data: every numbered clause of 二(一)–(七), its seed text and its points.

The arithmetic lives in ``survey.assessment``; this module only says what the seed says.

* Clause ids are the section numeral and the seed's own clause number: ``一1`` … ``七9``.  The seed's section
  (四) has no clause 5 (it runs 1, 2, 3, 4, 6, … 10); the ids keep the seed's numbering, so there is no ``四5``.
* A clause has one or more *grades* (graded variants): 一1 self-recorded −1 / not recorded −2, 一3 off post
  −2 / absent −4 picked by minutes, 七3 by level 1/2/3/5, …  A grade's ``points`` are signed (negative: a
  deduction) and apply once per ``per`` occurrences; a *range* grade (三7 1–3 "视情节轻重") takes the points
  per occurrence from the entry, within the range.
* Caps: a grade cap (七9 网办件 ≤ 2), a clause cap a month (七4 ≤ 2, 七9 ≤ 5) or over the year (七5 ≤ 5), and
  the bonus cap 20 (篇3 二 "最高加分20分").
* Award bars: clauses (or grades) that cancel the year's 评先树优 (二6, 五3, 六4 重大损失); 一7's leave-day
  thresholds are ``LEAVE_RULES``.  Consequences that are not points (通报批评, 辞退, 追究责任) are
  ``Consequence`` notes; the ones with a count (``after``) are reported when the year's count reaches it.
* ``NOT_SCORED``: sentences of 篇3 that are deliberately not scored, each with its reason.

Texts are Simplified Chinese, full-width punctuation; the seed itself is printed in Traditional characters.
"""

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Literal

BASE_POINTS = Decimal(100)
"""篇3 二: 设基本分100分 — the sum of the six sections' points."""
BONUS_CAP = Decimal(20)
"""篇3 二 "最高加分20分" and 二(七) "本项总加分不超过20分"."""
AWARD_SHARE = Decimal("0.25")
"""篇3 三(二)2: 按前台工作人员25%的比例评选年度"优秀服务标兵"."""
HALF = Decimal("0.5")
"""The finest step of any discretionary (range) points an entry may carry."""

Source = Literal["entry", "evaluator", "revisit", "district", "ledger"]
"""Where a clause's occurrences come from: a supervisor's entry, or the system's own data."""


class Kind(StrEnum):
    DEDUCTION = "deduction"
    BONUS = "bonus"


@dataclass(frozen=True)
class Section:
    """One of the seven parts of 篇3 二; ``points`` is None for (七), which starts from 0."""

    id: str
    title: str
    points: Decimal | None
    preamble: str = ""


@dataclass(frozen=True)
class Consequence:
    """A consequence that is not points.  ``after``: reported once the year's count of the clause (or grade)
    reaches it; None: a judgement left to the centre (e.g. 经教育仍不整改), shown with the clause only."""

    text: str
    after: int | None = None


@dataclass(frozen=True)
class Grade:
    """One graded variant of a clause.

    ``points``: signed points per ``per`` occurrences (for a range grade: the lowest allowed magnitude).
    ``range``: (low, high) magnitudes an entry may give per occurrence (三7 1–3), in steps of 0.5.
    ``over_minutes``: the grade applies to an absence longer than this many minutes (一3: 15 → 空岗, 120 → 旷工).
    ``per_year``: ``per`` counts over the year, the remainder carried month to month (五2 "累计三次").
    ``cap``: the most this grade may earn in a month (七9 网办件 ≤ 2).  ``sub``: the seed's sub-item (七9 "1)").
    """

    key: str
    label: str
    points: Decimal
    per: int = 1
    per_year: bool = False
    range: tuple[Decimal, Decimal] | None = None
    over_minutes: int | None = None
    cap: Decimal | None = None
    sub: int | None = None
    bars_award: bool = False
    consequences: tuple[Consequence, ...] = ()


@dataclass(frozen=True)
class Clause:
    """A numbered clause of 篇3 二(一)–(七).  ``cap_month`` / ``cap_year``: the most the clause may add in a
    month / in the year (bonus clauses only).  ``bars_award``: any occurrence cancels the year's 评先树优."""

    id: str
    section: str
    number: int
    text: str
    grades: tuple[Grade, ...]
    source: Source = "entry"
    cap_month: Decimal | None = None
    cap_year: Decimal | None = None
    bars_award: bool = False
    consequences: tuple[Consequence, ...] = ()
    note: str = ""

    @property
    def kind(self) -> Kind:
        return Kind.BONUS if self.section == "七" else Kind.DEDUCTION

    @property
    def by_minutes(self) -> bool:
        """True when an entry's minutes pick the grade (一3, 一6)."""
        return any(g.over_minutes is not None for g in self.grades)

    def grade(self, key: str) -> Grade:
        for grade in self.grades:
            if grade.key == key:
                return grade
        keys = "、".join(g.key for g in self.grades)
        raise ValueError(f"条款{self.id}没有等次 {key!r}（可选：{keys}）")


@dataclass(frozen=True)
class NotScored:
    """A sentence of 篇3 deliberately not scored: where it is (a section, a clause or 三(二)), the seed text
    (Simplified) and why."""

    ref: str
    text: str
    reason: str


@dataclass(frozen=True)
class LeaveRule:
    """篇3 一7: a yearly leave-day threshold.  ``measure``: personal_total (因私请假全年累计),
    personal_single (一次性因私请假), sick_total (病假全年累计); applies when the days exceed ``over_days``.
    ``consequence``: "award" (取消当年评先树优资格) or "vacation" (取消当年休假待遇)."""

    measure: Literal["personal_total", "personal_single", "sick_total"]
    over_days: Decimal
    consequence: Literal["award", "vacation"]
    text: str


def _d(value: str | int) -> Decimal:
    return Decimal(value)


def _each(
    points: str | int, label: str = "每次", *, range: tuple[Decimal, Decimal] | None = None
) -> tuple[Grade, ...]:
    """A clause with a single grade: ``points`` per occurrence (or a range the entry picks from)."""
    return (Grade("each", label, _d(points), range=range),)


NOTICE_AFTER_3 = Consequence("累计3次通报批评", after=3)
ONE_TO_THREE = (_d(1), _d(3))
LEVELS = (("district", "区级", 1), ("city", "市级", 2), ("province", "省级", 3), ("national", "国家级", 5))
"""篇3 七3 and 七6: 按区、市、省、国家级别加1、2、3、5分."""

SECTIONS: tuple[Section, ...] = (
    Section("一", "考勤纪律", _d(15), "严格遵守中心考勤制度和请销假制度，无迟到、早退和无故旷工，得15分。"),
    Section("二", "工作纪律", _d(20), "严格执行中心管理制度，工作积极，敬业勤奋，遵守纪律，得20分。"),
    Section("三", "服务规范", _d(20), "着装规范统一、语言文明、态度热情、廉洁奉公，得20分。"),
    Section("四", "事项办理", _d(20),
            "严格按照有关法律法规、办事程序和承诺时限要求办理各项行政审批服务事项，得20分。"),
    Section("五", "服务对象评议", _d(15)),
    Section("六", "安全制度", _d(10)),
    Section("七", "附加分项", None),
)
SECTIONS_BY_ID: MappingProxyType[str, Section] = MappingProxyType({s.id: s for s in SECTIONS})
SECTION_POINTS: MappingProxyType[str, Decimal] = MappingProxyType(
    {s.id: s.points for s in SECTIONS if s.points is not None}
)
"""Each deduction section's points (篇3 二(一)–(六)): 15/20/20/20/15/10, summing to ``BASE_POINTS``."""

_OFF_POST = (
    Grade("off_post", "不在岗超过15分钟，按空岗记", _d(-2), over_minutes=15),
    Grade("absent", "不在岗超过2小时，按旷工记", _d(-4), over_minutes=120),
    Grade("special", "因特殊原因造成的，酌情扣分", _d("-0.5"), range=(HALF, _d(4))),
)

_ATTENDANCE = (
    Clause("一1", "一", 1, "上班迟到、早退但自觉录入考勤机的，每次扣1分，因迟到、早退不进行指纹录入的每次扣2分。", (
        Grade("self_recorded", "迟到、早退但自觉录入考勤机", _d(-1)),
        Grade("not_recorded", "迟到、早退不进行指纹录入", _d(-2)),
    )),
    Clause("一2", "一", 2, "对正常上下班但不在指纹机上按指纹接受考勤的，每次扣0.5分。", _each("-0.5")),
    Clause("一3", "一", 3,
           "未及时请假，不在岗超过15分钟的，按空岗记，每次扣2分，超过2小时的按旷工记，每次扣4分，"
           "因特殊原因造成的酌情扣分。", _OFF_POST,
           note="按分钟录入时由分钟数确定等次：超过15分钟为空岗，超过120分钟为旷工；15分钟以内不扣分（不得录入）。"),
    Clause("一4", "一", 4,
           "中心组织的学习、活动和召开的各类会议无故迟到、早退的，每次扣1分，无故缺席的，每次扣4分。", (
               Grade("late", "会议无故迟到、早退", _d(-1)),
               Grade("absent", "会议无故缺席", _d(-4)),
           )),
    Clause("一5", "一", 5, "请销假弄虚作假的，经查实每次扣4分。", _each(-4)),
    Clause("一6", "一", 6,
           "中心实行AB岗工作制度，即A岗因事请假期间必须安排B岗人员顶岗，若B岗人员未到位A岗离岗造成工作缺位的，"
           "对A岗按第三条处理；若B岗人员已到位擅自离岗造成工作缺位的，对B岗按第三条处理。", _OFF_POST,
           note="按第三条（一3）的等次和分值扣在离岗造成缺位的一方（A岗或B岗）名下。"),
    Clause("一7", "一", 7,
           "全年累计因私请假超过20天，病假超过30天的，取消当年评先树优资格。"
           "因私请假超过20天或一次性因私请假超过15天、病假超过2个月的取消当年休假待遇。", (),
           note="不扣分：全年请假天数的门槛，见 LEAVE_RULES（取消评先树优资格、取消休假待遇）。"),
)

_WORK_DISCIPLINE = (
    Clause("二1", "二", 1,
           "工作期间通过电脑或手机浏览网页、玩游戏、看股市、看视频、看网络小说、网上聊天、网上购物、听音乐等"
           "从事与工作无关行为的，每次扣5分，累计3次通报批评，经教育仍不整改的责令辞退。", _each(-5),
           consequences=(NOTICE_AFTER_3, Consequence("经教育仍不整改的责令辞退"))),
    Clause("二2", "二", 2, "在办公区域吸烟、吃零食、嚼口香糖、随地吐痰及乱丢乱扔的，每次扣相关人员2分，累计3次通报批评。",
           _each(-2), consequences=(NOTICE_AFTER_3,)),
    Clause("二3", "二", 3,
           "办公时间串岗聊天、喧哗嬉戏打闹的，每次扣相关人员2分，情节特别严重的，扣相关人员5分，累计3次通报批评。", (
               Grade("each", "串岗聊天、喧哗嬉戏打闹", _d(-2)),
               Grade("serious", "情节特别严重", _d(-5)),
           ), consequences=(NOTICE_AFTER_3,)),
    Clause("二4", "二", 4, "工作期间看与工作无关的书籍、杂志等，每次扣3分，累计3次通报批评。", _each(-3),
           consequences=(NOTICE_AFTER_3,)),
    Clause("二5", "二", 5, "擅自允许非工作人员进入工作区域的每次扣2分。", _each(-2)),
    Clause("二6", "二", 6, "工作日中午有饮酒行为的，每次扣10分并取消当年评先树优资格。", _each(-10), bars_award=True),
    Clause("二7", "二", 7, "窗口工作人员上班前未及时开启评价器，下班后未及时关机，每次扣1分，出现故障的及时联系网管科处理。",
           _each(-1)),
    Clause("二8", "二", 8, "不按规定停放车辆的，每次扣2分。", _each(-2)),
)

_SERVICE = (
    Clause("三1", "三", 1, "受理业务时因工作失误引起群众不满，被群众投诉或引起纠纷的，每次扣5分，累计两次追究相关人员责任。",
           _each(-5), consequences=(Consequence("累计两次追究相关人员责任", after=2),),
           note="当月的投诉只在此扣一次；五1“当月未被投诉”不再另扣（DESIGN §3）。"),
    Clause("三2", "三", 2,
           "未按规定着装的，每次扣1分。穿背心、短裤、拖鞋或奇装异服的，在办公场所脱鞋出脚的，每次扣2分。", (
               Grade("dress", "未按规定着装", _d(-1)),
               Grade("improper", "穿背心、短裤、拖鞋或奇装异服，在办公场所脱鞋出脚", _d(-2)),
           )),
    Clause("三3", "三", 3, "上班后，仍在清理卫生、换服装、办理与业务无关事项的或下班提前换服装的，每次扣1分。", _each(-1)),
    Clause("三4", "三", 4,
           "桌面和工作区域物品、资料堆放杂乱的，地面不洁的，电脑显示器、打印机、电话等办公设备不按要求摆放的"
           "或摆放与工作无关杂物的，每次扣1分。", _each(-1)),
    Clause("三5", "三", 5, "利用工作之便为申请人指定中介代理服务的，每次扣3分。", _each(-3)),
    Clause("三6", "三", 6, "要求申办人书面表扬或索要锦旗的，每次扣2分。", _each(-2)),
    Clause("三7", "三", 7, "其他不文明服务的行为，视情节轻重每次扣1-3分。",
           _each(-1, "视情节轻重（1-3分）", range=ONE_TO_THREE)),
)

_HANDLING = (
    Clause("四1", "四", 1, "在大厅前台以外受理业务等违规行为的，每次扣3分，并追究相关人员责任。", _each(-3),
           consequences=(Consequence("追究相关人员责任", after=1),)),
    Clause("四2", "四", 2,
           "不按规定程序在政务服务平台受理、办理、反馈，或者不及时将相关信息输入平台的，每次扣1分；"
           "对办件基础资料未按要求即时录入、接收的，每次扣1分，信息录入不实或不完整的，每次扣1分。", (
               Grade("platform", "不按规定程序在平台受理、办理、反馈，或不及时将信息输入平台", _d(-1)),
               Grade("basic_data", "办件基础资料未按要求即时录入、接收", _d(-1)),
               Grade("inaccurate", "信息录入不实或不完整", _d(-1)),
           )),
    Clause("四3", "四", 3, "电脑操作不熟练，或不掌握政务服务平台使用办法影响审批事项办理的，每次扣1分。", _each(-1)),
    Clause("四4", "四", 4,
           "未向服务对象提供一次性告知单，告知服务对象办事程序和需要提交材料的，每次扣1分；"
           "需要补办而未向服务对象提供补齐、补正材料通知单的，每次扣1分。", (
               Grade("notice", "未提供一次性告知单", _d(-1)),
               Grade("supplement", "需要补办而未提供补齐、补正材料通知单", _d(-1)),
           )),
    Clause("四6", "四", 6,
           "业务不予受理，未向服务对象充分说明理由、未提供不予受理通知书的，每次扣1分；"
           "无正当理由应受理而未受理或将业务作废、退回、中止的，每次扣2分。", (
               Grade("no_reason", "不予受理未充分说明理由、未提供不予受理通知书", _d(-1)),
               Grade("refused", "无正当理由应受理而未受理或将业务作废、退回、中止", _d(-2)),
           )),
    Clause("四7", "四", 7, "办理事项出现超时的，每次扣5分（含网办件和网上咨询件）。", _each(-5), source="ledger"),
    Clause("四8", "四", 8,
           "出件窗口工作人员随意摆放证件材料、未做规整致使工作效率低下的，每次扣2分，造成材料丢失的追究相关工作人员责任。",
           _each(-2), consequences=(Consequence("造成材料丢失的追究相关工作人员责任"),)),
    Clause("四9", "四", 9,
           "综合受理窗口工作人员和在线预审人员未按材料清单准确核验材料内容，经查实非因专业性强及群众个人原因造成退件的，"
           "每次扣1分，致使群众投诉的每次扣2分。", (
               Grade("returned", "未准确核验材料造成退件", _d(-1)),
               Grade("complaint", "未准确核验材料致使群众投诉", _d(-2)),
           )),
    Clause("四10", "四", 10, "综合受理窗口经业务培训后无法受理业务，直接找原单位工作人员办理业务的，每次扣2分。", _each(-2)),
)

_EVALUATION = (
    Clause("五1", "五", 1,
           "服务对象通过服务监督卡、评价器等方式，对前台工作人员服务质量进行评议，评议结果分为“满意、基本满意、不满意”"
           "三个等次。评议为满意且当月未被投诉的，得15分，出现基本满意的，每次扣0.5分，出现不满意的，每次扣1分。", (
               Grade("basic", "服务监督卡、评价器等评议为基本满意", _d("-0.5")),
               Grade("unsatisfied", "服务监督卡、评价器等评议为不满意", _d(-1)),
           ), source="evaluator"),
    Clause("五2", "五", 2,
           "中心对办件情况进行回访，对首次回访未达到满意，二次回访仍未达到满意的，每次扣2分；"
           "对首次回访未达到满意，二次回访改为满意的，累计三次扣1分。", (
               Grade("still_unsatisfied", "首次回访未达到满意，二次回访仍未达到满意", _d(-2)),
               Grade("then_satisfied", "首次回访未达到满意，二次回访改为满意（全年累计三次扣1分）", _d(-1),
                     per=3, per_year=True),
           ), source="revisit",
           note="“累计三次”按自然年累计：每满三次扣1分，余数结转到下月，跨年清零。"),
    Clause("五3", "五", 3,
           "工作中出现违规违纪行为，被上级领导机构通报或被新闻媒体负面曝光的，每次扣10分，并取消当年评先树优资格。",
           _each(-10), bars_award=True),
    Clause("五4", "五", 4,
           "区级电话回访对服务态度和办事结果基本满意的，每次扣0.5分，不满意的，每次扣1分；"
           "区级以上电话回访对服务态度和办事结果基本满意的，每次扣2分，不满意的，每次扣4分。", (
               Grade("district_basic", "区级电话回访基本满意", _d("-0.5")),
               Grade("district_unsatisfied", "区级电话回访不满意", _d(-1)),
               Grade("above_basic", "区级以上电话回访基本满意", _d(-2)),
               Grade("above_unsatisfied", "区级以上电话回访不满意", _d(-4)),
           ), source="district"),
)

_SAFETY = (
    Clause("六1", "六", 1, "下班时未对文件、档案及各种证本及时收入档案橱并妥善保管的，每次扣1分。", _each(-1)),
    Clause("六2", "六", 2, "下班后未关机、关闭电源的，每次扣1分。", _each(-1)),
    Clause("六3", "六", 3, "发现存在不安全因素不及时采取防护措施和上报的，视其情节，每次扣1-3分。",
           _each(-1, "视其情节（1-3分）", range=ONE_TO_THREE)),
    Clause("六4", "六", 4,
           "未履行安全管理规定，发生失火、失窃及触电等安全责任事故的，每起扣相关人员10分，造成重大损失的，"
           "取消当年评先树优资格，并移交相关部门追究相应责任。", (
               Grade("incident", "发生安全责任事故（每起）", _d(-10)),
               Grade("major_loss", "发生安全责任事故并造成重大损失（每起）", _d(-10), bars_award=True,
                     consequences=(Consequence("移交相关部门追究相应责任", after=1),)),
           )),
)

_BONUS = (
    Clause("七1", "七", 1, "按时录入指纹，不迟到、不早退，且当日内未出现因私、病请假的，每满1周加2分。",
           _each(2, "每满1周"), note="次数为当月满勤的整周数。"),
    Clause("七2", "七", 2, "讲文明、树新风具有典型事例的，经中心认定加1分。", _each(1, "经中心认定的典型事例")),
    Clause("七3", "七", 3, "受上级领导机构或新闻媒体表彰、表扬，并及时报送信息的，按区、市、省、国家级别加1、2、3、5分。",
           tuple(Grade(key, f"{label}表彰、表扬", _d(points)) for key, label, points in LEVELS)),
    Clause("七4", "七", 4, "办事企业或群众赠送锦旗、牌匾的或书面提出表扬的，每次加0.5分，每月此项不超过2分。",
           _each("0.5"), cap_month=_d(2)),
    Clause("七5", "七", 5, "在中心组织的各类活动中获奖或表现突出的，根据名次酌情加分，累计加分不超过5分。",
           _each("0.5", "根据名次酌情加分", range=(HALF, _d(5))), cap_year=_d(5),
           note="“累计不超过5分”按自然年累计。"),
    Clause("七6", "七", 6, "代表中心积极参加区、市、省、国家等级别活动，表现突出的按级别加1、2、3、5分。",
           tuple(Grade(key, f"代表中心参加{label}活动表现突出", _d(points)) for key, label, points in LEVELS)),
    Clause("七7", "七", 7, "积极服从中心安排，主动学习业务，表现优秀的，加2分。", _each(2, "经中心认定表现优秀")),
    Clause("七8", "七", 8, "积极参加中心改革，为改革出谋划策，被采用的，每条加2分。", _each(2, "每条被采用的建议")),
    Clause("七9", "七", 9, "岗位业务加分标准（该项最高加5分）：", (
        Grade("accepted", "综合受理窗口月办件量（承诺件以外）每10件加0.2分", _d("0.2"), per=10, sub=1),
        Grade("promised", "综合受理窗口承诺件每10件加1分", _d(1), per=10, sub=1),
        Grade("online", "通过山东政务服务网申请的网办件每件加0.2分（最高2分）", _d("0.2"), cap=_d(2), sub=1),
        Grade("issued", "出件窗口月办件量每10件加0.1分", _d("0.1"), per=10, sub=2),
    ), source="ledger", cap_month=_d(5),
           note="次数为当月的办件数；只按整10件计。网办件不再计入其他件数。"),
)

VOLUME_ITEMS: tuple[tuple[int, str], ...] = (
    (1, "综合受理窗口月办件量每10件加0.2分（承诺件每10件加1分）。通过山东政务服务网申请的网办件，每件加0.2分，"
        "最高加分不超过2分。"),
    (2, "出件窗口月办件量每10件加0.1分。"),
)
"""篇3 七9's sub-items 1) and 2), as printed; their grades carry ``sub``."""

CLAUSES: tuple[Clause, ...] = _ATTENDANCE + _WORK_DISCIPLINE + _SERVICE + _HANDLING + _EVALUATION + _SAFETY + _BONUS
CLAUSES_BY_ID: MappingProxyType[str, Clause] = MappingProxyType({c.id: c for c in CLAUSES})

LEAVE_RULES: tuple[LeaveRule, ...] = (
    LeaveRule("personal_total", _d(20), "award", "全年累计因私请假超过20天，取消当年评先树优资格"),
    LeaveRule("sick_total", _d(30), "award", "全年累计病假超过30天，取消当年评先树优资格"),
    LeaveRule("personal_total", _d(20), "vacation", "因私请假超过20天，取消当年休假待遇"),
    LeaveRule("personal_single", _d(15), "vacation", "一次性因私请假超过15天，取消当年休假待遇"),
    LeaveRule("sick_total", _d(60), "vacation", "病假超过2个月（按60天计），取消当年休假待遇"),
)
"""篇3 一7 as data.  "超过" is strictly more than; "2个月" is taken as 60 days (configurable here)."""

NOT_SCORED: tuple[NotScored, ...] = (
    NotScored("一", "哺乳期人员中心按每天1.5小时执行哺乳假，至孩子满一周岁停止。",
              "一项待遇而非扣分：哺乳期人员按缩短后的工作时间考勤，这1.5小时不算迟到、早退或空岗。"),
    NotScored("一7", "因私请假超过20天或一次性因私请假超过15天、病假超过2个月的取消当年休假待遇。",
              "不计分：取消的是休假待遇，由 LEAVE_RULES 判定后交人事处理，不影响考核分。"),
    NotScored("二7", "出现故障的及时联系网管科处理。",
              "是一项工作要求，不是扣分情形：评价器故障时联系网管科，本身不加分也不扣分。"),
    NotScored("五1", "评议为满意且当月未被投诉的，得15分",
              "当月的投诉已按三1每次扣5分；为避免同一投诉扣两次，五1只按基本满意、不满意计扣（DESIGN §3）。"),
    NotScored("三(二)", "年度无违纪现象的人员评选为”文明服务标兵”。",
              "“无违纪现象”需由中心认定（是否包含考勤、着装等轻微扣分未作规定），本模块只给出全年的扣分明细。"),
    NotScored("三(二)", "按照人事部门下达的优秀等次指标，从年度优秀服务标兵中择优评选产生。",
              "优秀等次指标由人事部门下达，择优评选是领导的判断，不是计分规则。"),
)
