"""The header map: for each import kind, its canonical columns, their types and every header
that real exports (千川, 电商罗盘, 蝉妈妈, 星图) use for them.

One table in code so that `qcrules import --help-columns KIND`, the importer and the docs can
never disagree. Enum vocabularies map the platforms' Chinese labels and API spellings onto the
closed vocabularies of `qcrules.model.tables`.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from qcrules.model.tables import (
    AUTH_TYPES,
    CHANNELS,
    GENDERS,
    GRANT_STATUSES,
    METRIC_KEY,
    POOL_STATUSES,
    SCOPES,
)

# --- value types -------------------------------------------------------------------------------

# type name -> (en description, zh description) shown by --help-columns
TYPES: dict[str, tuple[str, str]] = {
    "id": (
        "text id; spreadsheet numbers stay whole (71233112, never 71233112.0)",
        "文本 ID；表格里的数字保持整数（71233112，不会变成 71233112.0）",
    ),
    "text": ("text", "文本"),
    "int": ("whole number: 1234, 1,234, 1.2万, 3.5w", "整数：1234、1,234、1.2万、3.5w"),
    "float": ("number: 1.8, 1,234.5", "数字：1.8、1,234.5"),
    "money": (
        "amount in yuan: 1234.5, ¥1,234.50, 1,234.50元, 1.2万",
        "金额（元）：1234.5、¥1,234.50、1,234.50元、1.2万",
    ),
    "ratio": (
        "share: 0.65, 65%, or a whole column on the 0–100 scale (do not mix)",
        "比例：0.65、65%，或整列 0–100（同一列不可混用）",
    ),
    "bool": (
        "true/false, yes/no, y/n, 1/0, 是/否, 有/无",
        "true/false、yes/no、y/n、1/0、是/否、有/无",
    ),
    "list": (
        "items separated by | 、 , ; (or ， ；)",
        "用 | 、 , ; （或 ， ；）分隔的多项",
    ),
    "date": (
        "2026-11-01, 2026/11/01, 2026.11.01, optional time (2026-11-01 10:00:00)",
        "2026-11-01、2026/11/01、2026.11.01，可带时间（2026-11-01 10:00:00）",
    ),
    "end_date": (
        "a date; 永久, 不限 or 2099-12-31 means permanent (stored as 2099-12-31); "
        "empty, or no such column, means the end is unknown",
        "日期；「永久」「不限」或 2099-12-31 表示永久（存为 2099-12-31）；留空或没有该列表示结束日期未知",
    ),
    "enum": ("one of the values listed", "所列取值之一"),
    "age_dist": (
        "age band shares: 18-23:0.1,24-30:0.3 (or 18-23:10%); or one share column per band, "
        "as 星图 exports them: 18-23岁粉丝比例, 24-30岁, …, 50岁以上粉丝比例",
        "年龄段占比：18-23:0.1,24-30:0.3（或 18-23:10%）；或每个年龄段一列（星图导出）："
        "18-23岁粉丝比例、24-30岁、…、50岁以上粉丝比例",
    ),
    "age_bands": ("age bands: 31-40,41-50", "年龄段：31-40,41-50"),
}

# --- enum vocabularies -------------------------------------------------------------------------


def _vocab(canonical: Iterable[str], aliases: Mapping[str, Iterable[str]]) -> dict[str, str]:
    out = {norm_value(c): c for c in canonical}
    for target, names in aliases.items():
        for name in names:
            out[norm_value(name)] = target
    return out


def norm_value(value: str) -> str:
    """How enum and boolean cells are compared: width-folded, lower case, no spaces."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", value)).lower()


ENUM_ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "auth_type": {
        "cooperative": (
            "合作达人",
            "合作达人授权",
            "合作",
            "AWEME_COOPERATOR",
            "cooperator",
        ),
        "self_operated": ("自营", "自运营", "自营授权", "自运营授权", "SELF", "self"),
        "official": ("官方", "官方授权", "官方账号", "OFFICIAL"),
    },
    "scope": {
        "single_video": ("单视频", "单视频授权", "单个视频", "BY_VIDEO", "VIDEO", "VIDEO_ITEM"),
        "live_room": ("直播间", "直播间授权", "直播", "ROOM", "LIVE_ACCOUNT"),
        "all_works": ("所有作品", "全部作品", "所有作品授权", "全部作品授权"),
        # 抖音号授权: the account level (its videos and live room), 千川's usual mode
        "account": ("抖音号授权", "抖音号", "账号授权", "账号级授权", "BY_AWEME", "AWEME_ACCOUNT"),
    },
    "channel": {
        "pc": ("PC", "千川PC", "PC端", "电脑端", "QIANCHUAN"),
        # 随心推 (AWEME) does not say which mobile scenario; 下单前 is the common one.
        "mobile_pre_order": ("下单前", "移动端下单前", "随心推下单前", "随心推", "AWEME"),
        "mobile_at_order": ("下单时", "移动端下单时", "随心推下单时"),
    },
    "grant_status": {
        "draft": ("草稿", "未发起"),
        "requested": (
            "待达人确认",
            "待达人确认授权",
            "等待达人通过",
            "申请中",
            "待确认",
            "待处理",
            "审核中",
            "WAIT_BIND",
            "AUTHRIZING",
            "AUTHORIZING",
        ),
        "active": ("授权生效", "生效中", "已生效", "生效", "EFFECTIVE", "AUTHRIZED", "AUTHORIZED"),
        "expired": ("已过期", "过期", "授权失效", "已失效", "失效", "EXPIRED", "INVALID"),
        "revoked": ("已解除", "已撤销", "解除授权", "已取消", "revoke"),
        "rejected": ("已拒绝", "拒绝", "达人拒绝", "被拒绝"),
    },
    "pool_status": {
        "candidate": ("候选", "待筛选", "备选"),
        "in_pool": ("入池", "在池", "已入池", "池中", "inpool"),
        "excluded": ("排除", "已排除", "剔除", "已剔除"),
    },
    "gender": {
        "male": ("男", "男性", "m", "MALE"),
        "female": ("女", "女性", "f", "FEMALE"),
    },
}

ENUM_CANONICAL: dict[str, tuple[str, ...]] = {
    "auth_type": AUTH_TYPES,
    "scope": SCOPES,
    "channel": CHANNELS,
    "grant_status": GRANT_STATUSES,
    "pool_status": POOL_STATUSES,
    "gender": GENDERS,
}

ENUMS: dict[str, dict[str, str]] = {
    name: _vocab(ENUM_CANONICAL[name], ENUM_ALIASES[name]) for name in ENUM_CANONICAL
}

# Enums a cell may hold several values of (`自运营,合作达人`: one account authorized both
# ways): the first of these that the cell names is kept, the riskiest first, so a grant that
# carries 自运营 rights is judged as one.
ENUM_MULTI: dict[str, tuple[str, ...]] = {
    "auth_type": ("self_operated", "official", "cooperative"),
}

# Values of an enum column that mean "no value" (target_gender 不限 = no target).
ENUM_EMPTY: dict[str, frozenset[str]] = {
    "gender": frozenset({"不限", "全部", "all", "any", "unlimited"}),
}

# --- the column table --------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One canonical column of an import kind."""

    name: str
    type: str
    required: bool = False
    aliases: tuple[str, ...] = ()
    enum: str | None = None
    secret: bool = False  # a credential: masked in every message and rejects file
    doc: str = ""

    def formats(self) -> str:
        if self.type == "enum" and self.enum:
            return ", ".join(
                f"{c} ({'/'.join(ENUM_ALIASES[self.enum].get(c, ())[:3])})"
                for c in ENUM_CANONICAL[self.enum]
            )
        return TYPES[self.type][0]


@dataclass(frozen=True)
class Kind:
    """An import kind: a table, its natural key and its columns."""

    name: str
    table: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    keeps_extra: bool = False  # unknown columns go to the `extra` JSON column
    # an empty cell keeps what is stored: a creator's attributes come from several exports
    # (星图, 蝉妈妈, the merchant's own sheet), each knowing some of them; one that lacks a
    # 合作码 or a quote must not erase it. Elsewhere an empty cell means something (no end
    # date: permanent; no target gender) or a day measured anew (metrics), so it is written
    blank_keeps_stored: bool = False
    references: tuple[str, ...] = ()  # columns naming a merchant / creator / grant
    title: tuple[str, str] = ("", "")
    by_name: dict[str, Column] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.by_name.update({c.name: c for c in self.columns})


MERCHANT_ID = ("商家ID", "商家id", "商家编号", "商户ID", "商家", "merchant")
AWEME_ID = ("达人UID", "抖音UID", "达人id", "达人ID", "UID", "抖音号ID", "aweme id", "author_id")
# the handle 千川 search shows (抖音号): files that name creators by it are matched through
# the creators already imported; never written to the referencing table itself
AWEME_SHOW_ID = ("抖音号", "达人抖音号", "aweme_show_id")

MERCHANTS = Kind(
    "merchants",
    "merchants",
    ("merchant_id",),
    (
        Column("merchant_id", "id", True, MERCHANT_ID),
        Column("name", "text", True, ("商家名称", "商家名", "商户名称", "名称")),
        Column(
            "advertiser_id",
            "id",
            False,
            ("千川账户ID", "广告主ID", "账户ID", "千川账户", "广告账户ID", "广告账户"),
        ),
        Column("shop_id", "id", False, ("店铺ID", "抖店ID", "小店ID")),
        Column("break_even_roi", "float", True, ("保本ROI", "盈亏平衡ROI", "保本投产比")),
        Column("target_gender", "enum", False, ("目标性别", "目标人群性别"), enum="gender"),
        Column("target_age_bands", "age_bands", False, ("目标年龄段", "目标年龄", "目标人群年龄")),
        Column("categories", "list", False, ("经营类目", "主营类目", "类目")),
        Column("industry_cvr", "ratio", False, ("行业转化率", "行业CVR", "行业平均转化率")),
        Column("goal", "text", False, ("投放目标", "营销目标", "推广目标", "目标")),
        Column(
            "last_permission_audit",
            "date",
            False,
            ("上次权限审计", "上次权限盘点", "权限审计日期", "最近权限审计"),
        ),
    ),
    title=("商家", "merchants"),
)

CREATORS = Kind(
    "creators",
    "creators",
    ("aweme_id",),
    (
        Column("aweme_id", "id", True, AWEME_ID),
        Column("aweme_show_id", "id", False, ("抖音号",)),
        Column(
            "nickname", "text", True, ("达人昵称", "昵称", "达人名称", "抖音昵称", "aweme_name")
        ),
        Column(
            "fans_count", "int", False, ("粉丝数", "粉丝量", "粉丝总数", "总粉丝数", "follower")
        ),
        Column("active_fan_ratio", "ratio", False, ("活跃粉丝占比", "活跃粉丝比例", "活跃粉丝率")),
        Column(
            "completion_rate",
            "ratio",
            False,
            ("完播率", "视频完播率", "近30天完播率", "play_over_rate"),
        ),
        Column("interaction_rate", "ratio", False, ("互动率", "近30天互动率")),
        Column("fan_male_ratio", "ratio", False, ("男性粉丝占比", "男粉占比", "男性粉丝比例")),
        Column("fan_age_dist", "age_dist", False, ("粉丝年龄分布", "达人粉丝年龄段", "粉丝年龄段")),
        Column("categories", "list", False, ("主营类目", "类目", "带货类目")),
        Column("reputation_score", "float", False, ("带货口碑", "带货口碑分", "口碑分")),
        Column("quote_price", "money", False, ("报价", "合作报价", "达人报价")),
        Column(
            "avg_gmv_30d",
            "money",
            False,
            ("近30天平均成交额", "近30天场均成交额", "30天平均GMV", "近30天场均GMV"),
        ),
        Column("rebate_rate", "ratio", False, ("返点", "返点比例", "返点率")),
        Column("commission_rate", "ratio", False, ("佣金率", "佣金比例")),
        Column("accepts_ads", "bool", False, ("接受投流", "是否接受投流", "接受投放")),
        Column(
            "accepts_script_changes",
            "bool",
            False,
            ("接受改脚本", "接受脚本修改", "是否接受脚本修改"),
        ),
        Column(
            "hosted_auth_enabled", "bool", False, ("托管授权", "已开通托管授权", "开启托管授权")
        ),
        Column("data_verified", "bool", False, ("数据已核实", "数据核实")),
        Column("real_name_verified", "bool", False, ("实名认证", "已实名", "是否实名")),
        Column("serious_violation", "bool", False, ("严重违规", "有严重违规", "是否严重违规")),
        Column(
            "cooperation_code",
            "text",
            False,
            ("合作码", "达人合作码", "授权码"),
            secret=True,
        ),
        Column("is_own_account", "bool", False, ("自有账号", "是否自有账号", "自营账号")),
        Column("data_source", "text", False, ("数据来源", "来源")),
    ),
    keeps_extra=True,
    blank_keeps_stored=True,
    title=("达人", "creators"),
)

POOL = Kind(
    "pool",
    "pool",
    ("merchant_id", "aweme_id"),
    (
        Column("merchant_id", "id", True, MERCHANT_ID),
        Column("aweme_id", "id", True, AWEME_ID),
        Column("aweme_show_id", "id", False, AWEME_SHOW_ID),
        Column("status", "enum", True, ("状态", "池状态", "入池状态"), enum="pool_status"),
        Column("added_at", "date", False, ("加入时间", "入池时间", "添加时间", "加入日期")),
        Column("note", "text", False, ("备注",)),
    ),
    references=("merchant_id", "aweme_id"),
    title=("达人池", "pool"),
)

GRANTS = Kind(
    "grants",
    "grants",
    ("grant_id",),
    (
        Column("grant_id", "id", True, ("授权ID", "授权编号", "授权id")),
        Column("merchant_id", "id", True, MERCHANT_ID),
        Column("aweme_id", "id", True, AWEME_ID),
        Column("aweme_show_id", "id", False, AWEME_SHOW_ID),
        Column("auth_type", "enum", True, ("授权类型",), enum="auth_type"),
        Column("scope", "enum", True, ("授权范围", "授权方式", "auth_range"), enum="scope"),
        Column("video_id", "id", False, ("视频ID", "作品ID", "aweme_item_id", "item_id")),
        Column(
            "channel",
            "enum",
            False,
            ("投放渠道", "渠道", "授权渠道", "auth_source"),
            enum="channel",
        ),
        Column("status", "enum", True, ("授权状态", "状态", "auth_status"), enum="grant_status"),
        Column("requested_at", "date", False, ("申请时间", "发起时间", "创建时间", "create_time")),
        Column("starts_at", "date", False, ("开始时间", "授权开始时间", "生效时间", "start_time")),
        Column(
            "ends_at",
            "end_date",
            False,
            ("结束时间", "授权结束时间", "到期时间", "失效时间", "end_time"),
        ),
        Column(
            "revoke_requested",
            "bool",
            False,
            ("解除授权申请", "申请解除", "待处理解除授权申请", "is_cancellation_progress"),
        ),
        Column("has_agreement", "bool", False, ("已签协议", "授权协议", "是否签署协议", "有协议")),
        Column("note", "text", False, ("备注",)),
    ),
    references=("merchant_id", "aweme_id"),
    title=("授权", "grants"),
)

METRICS = Kind(
    "metrics",
    "metrics",
    METRIC_KEY,  # rows of one key in a file (plan or material rows) are summed
    (
        Column("merchant_id", "id", True, MERCHANT_ID),
        Column("aweme_id", "id", True, AWEME_ID),
        Column("aweme_show_id", "id", False, AWEME_SHOW_ID),
        Column("date", "date", True, ("日期", "时间", "统计日期", "stat_time", "stat_datetime")),
        Column("grant_id", "id", False, ("授权ID", "授权编号")),
        Column(
            "account_id",
            "id",
            False,
            (
                "千川账户ID",
                "账户ID",
                "advertiser_id",
                "千川账户",
                "广告主ID",
                "账户id",
                "广告账户ID",
                "广告账户",
                "千川广告账户ID",
                "广告主账户ID",
            ),
        ),
        Column(
            "spend",
            "money",
            True,
            ("消耗", "花费", "整体消耗", "千川消耗", "广告消耗", "总消耗", "stat_cost"),
        ),
        Column(
            "impressions",
            "int",
            True,
            (
                "展示次数",
                "展现次数",
                "展示",
                "展现",
                "整体展示次数",
                "整体展现次数",
                "曝光",
                "曝光量",
                "展现量",
                "展示数",
                "show_cnt",
            ),
        ),
        Column(
            "clicks",
            "int",
            True,
            ("点击次数", "点击", "整体点击次数", "点击量", "点击数", "click_cnt"),
        ),
        Column(
            "orders",
            "int",
            False,
            ("成交订单数", "支付订单数", "整体成交订单数", "成交单数", "pay_order_count"),
        ),
        Column(
            "gmv",
            "money",
            False,
            (
                "成交金额",
                "支付金额",
                "整体成交金额",
                "GMV",
                "成交GMV",
                "销售额",
                "pay_order_amount",
            ),
        ),
        Column("conversions", "int", False, ("转化数", "convert_cnt")),
        Column("add_to_cart", "int", False, ("加购次数", "加购", "加购数")),
        Column(
            "old_fan_order_ratio",
            "ratio",
            False,
            ("成交老粉占比", "老粉成交占比", "old_fans_pay_ucnt_ratio"),
        ),
    ),
    keeps_extra=True,
    references=("merchant_id", "aweme_id", "grant_id"),
    title=("日指标", "metrics"),
)

KINDS: dict[str, Kind] = {k.name: k for k in (MERCHANTS, CREATORS, POOL, GRANTS, METRICS)}

# Derived ratios in a metrics file are never trusted: qcrules computes them from the counts.
DERIVED_MARKERS = ("ctr", "roi", "cvr", "点击率", "转化率")

# --- header normalisation ----------------------------------------------------------------------

_UNITS = "元|%|‰|次|个|人|单|件|天|日|万|万元|百分比|比例|¥|rmb|cny|yuan|pct|percent|count|times"
_UNIT_SUFFIX = re.compile(rf"[(\[【]\s*(?:{_UNITS})\s*[)\]】]$")
_SPACES = re.compile(r"\s+")


def normalize_header(header: object) -> str:
    """The header as kept (e.g. as an `extra` key): width-folded, lower case, no spaces,
    no unit suffix such as (元) or （%）."""
    text = unicodedata.normalize("NFKC", str(header if header is not None else ""))
    text = _SPACES.sub("", text).lower()
    previous = None
    while previous != text:
        previous = text
        text = _UNIT_SUFFIX.sub("", text)
    return text


def match_key(header: object) -> str:
    """The header as matched: also blind to `_`, `-` and `.` so `fans count` = `fans_count`."""
    return re.sub(r"[_\-.·]", "", normalize_header(header))


def header_map(kind: Kind, extra_aliases: Mapping[str, Iterable[str]] | None = None) -> dict:
    """match_key -> canonical column for a kind (canonical names, aliases, plugin aliases)."""
    out: dict[str, str] = {}
    for col in kind.columns:
        for name in (col.name, *col.aliases):
            out.setdefault(match_key(name), col.name)
    for canonical, names in (extra_aliases or {}).items():
        if canonical in kind.by_name:
            for name in [names] if isinstance(names, str) else names:
                out.setdefault(match_key(name), canonical)
    return out


# 星图 exports give fan ages as one share column per band (18-23岁粉丝比例, 18-23岁,
# 50岁以上粉丝比例): read together into the kind's age_dist column, as the bands the single
# column's `18-23:0.1,…,50岁以上:0.05` gives ("18-23", "50+")
_AGE_BAND_HEADER = re.compile(
    r"^(?:粉丝年龄|粉丝)?(\d{1,3})(?:[-~至—–](\d{1,3}))?岁(以上|\+)?"
    r"(?:的)?(?:粉丝)?(?:年龄)?(?:比例|占比|比重|分布)?$"
)


def age_band_header(header: object) -> str | None:
    """The age band a header names as a share column ("18-23岁粉丝比例" → "18-23",
    "50岁以上" → "50+"), or None."""
    found = _AGE_BAND_HEADER.match(normalize_header(header))
    if found is None:
        return None
    low, high, above = found.groups()
    if high is not None and above is None and int(low) <= int(high):
        return f"{int(low)}-{int(high)}"
    if high is None and above is not None:
        return f"{int(low)}+"
    return None


def is_derived(header: str) -> bool:
    key = normalize_header(header)
    return any(marker in key for marker in DERIVED_MARKERS)


def suggest(word: str, candidates: Iterable[str], n: int = 1, cutoff: float = 0.6) -> list[str]:
    """Did-you-mean, compared on the matching form of each candidate."""
    pool: dict[str, str] = {}
    for cand in candidates:
        pool.setdefault(match_key(cand), cand)
    hits = difflib.get_close_matches(match_key(word), list(pool), n=n, cutoff=cutoff)
    return [pool[h] for h in hits]


def all_names(kind: Kind, column: Column, extra_aliases=None) -> list[str]:
    names = [column.name, *column.aliases]
    extra = (extra_aliases or {}).get(column.name, ())
    names.extend([extra] if isinstance(extra, str) else extra)
    return names
