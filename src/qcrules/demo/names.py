"""Word lists for realistic demo records: merchant profiles, creator nicknames, 抖音号, codes.

Nicknames are built from name parts, category themes and templates ("穿搭阿杰", "小鹿美妆日记")
so a 100,000-creator workspace still reads like a real 达人 list, with no real person's name.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass


@dataclass(frozen=True)
class MerchantProfile:
    """One kind of shop: what it sells, whom it sells to, and what it must earn per yuan spent."""

    key: str
    names: tuple[str, ...]
    categories: tuple[str, ...]
    break_even_roi: float
    target_gender: str | None
    target_age_bands: tuple[str, ...]
    industry_cvr: float
    goal: str
    theme: str  # key into THEMES for nicknames of creators that fit this shop
    short: str  # brand short name, for the shop's own account


AGE_BANDS = ("18-23", "24-30", "31-40", "41-50", "50-")

# Break-even ROIs and industry CVRs are plausible orders of magnitude, not platform figures.
PROFILES: tuple[MerchantProfile, ...] = (
    MerchantProfile(
        "menswear",
        ("型格先生男装旗舰店", "北辰男装官方店", "简木男士服饰"),
        ("男装", "服饰穿搭"),
        1.8,
        "male",
        ("31-40", "41-50"),
        0.025,
        "成交转化",
        "menswear",
        "型格先生",
    ),
    MerchantProfile(
        "beauty",
        ("花漾美妆官方旗舰店", "初颜护肤旗舰店", "柚见彩妆"),
        ("美妆", "护肤"),
        2.5,
        "female",
        ("18-23", "24-30", "31-40"),
        0.03,
        "人群优化",
        "beauty",
        "花漾",
    ),
    MerchantProfile(
        "snacks",
        ("山野食光零食铺", "好味仓食品旗舰店", "蜀香坊特产店"),
        ("食品饮料", "零食"),
        1.2,
        None,
        ("24-30", "31-40", "41-50"),
        0.04,
        "商品曝光",
        "food",
        "山野食光",
    ),
    MerchantProfile(
        "home",
        ("暖居家纺旗舰店", "素生活家居馆", "栖木家居日用"),
        ("家居家纺", "家居日用"),
        2.0,
        "female",
        ("31-40", "41-50"),
        0.02,
        "成交转化",
        "home",
        "暖居",
    ),
    MerchantProfile(
        "baby",
        ("小象萌宝母婴店", "贝芽母婴旗舰店", "童趣岛童装"),
        ("母婴", "童装"),
        1.6,
        "female",
        ("24-30", "31-40"),
        0.035,
        "成交转化",
        "baby",
        "小象萌宝",
    ),
    MerchantProfile(
        "digital",
        ("极客派数码专营店", "声浪耳机旗舰店", "快充侠数码配件"),
        ("数码", "3C配件"),
        1.5,
        "male",
        ("18-23", "24-30", "31-40"),
        0.015,
        "商品曝光",
        "digital",
        "极客派",
    ),
    MerchantProfile(
        "sports",
        ("跃动户外运动旗舰店", "疾风跑步装备店", "山系户外"),
        ("运动户外",),
        1.9,
        None,
        ("18-23", "24-30", "31-40"),
        0.02,
        "人群优化",
        "sports",
        "跃动",
    ),
    MerchantProfile(
        "womenswear",
        ("南风女装", "若溪女装旗舰店", "七月衣橱"),
        ("女装", "服饰穿搭"),
        2.2,
        "female",
        ("18-23", "24-30"),
        0.028,
        "成交转化",
        "womenswear",
        "南风",
    ),
)

# Nickname themes per kind of creator, with the categories such creators sell.
THEMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "menswear": (("穿搭", "型男", "男装", "衣橱", "潮男"), ("男装", "服饰穿搭", "潮流")),
    "womenswear": (("穿搭", "小个子穿搭", "通勤穿搭", "衣橱"), ("女装", "服饰穿搭")),
    "beauty": (("美妆", "护肤", "彩妆", "变美"), ("美妆", "护肤", "个护")),
    "food": (("吃货", "美食", "零食", "吃播", "深夜食堂"), ("食品饮料", "零食", "生鲜")),
    "home": (("家居", "收纳", "好物", "小家", "居家"), ("家居家纺", "家居日用")),
    "baby": (("宝妈", "育儿", "萌娃", "母婴好物"), ("母婴", "童装")),
    "digital": (("数码", "科技", "测评", "极客"), ("数码", "3C配件")),
    "sports": (("健身", "跑步", "户外", "运动"), ("运动户外",)),
}

NAME_PARTS: tuple[tuple[str, str], ...] = (
    ("阿杰", "ajie"), ("小鹿", "xiaolu"), ("大圣", "dasheng"), ("木木", "mumu"),
    ("七七", "qiqi"), ("阿May", "amay"), ("小满", "xiaoman"), ("豆豆", "doudou"),
    ("阿龙", "along"), ("小北", "xiaobei"), ("老王", "laowang"), ("阿飞", "afei"),
    ("果果", "guoguo"), ("糖糖", "tangtang"), ("小鱼", "xiaoyu"), ("阿宁", "aning"),
    ("大鹏", "dapeng"), ("一一", "yiyi"), ("芒果", "mangguo"), ("橙子", "chengzi"),
    ("老周", "laozhou"), ("小林", "xiaolin"), ("阿乐", "ale"), ("十三", "shisan"),
    ("团子", "tuanzi"), ("小新", "xiaoxin"), ("安安", "anan"), ("阿泽", "aze"),
    ("晴天", "qingtian"), ("小野", "xiaoye"), ("阿凯", "akai"), ("喵喵", "miaomiao"),
    ("老陈", "laochen"), ("小唐", "xiaotang"), ("丸子", "wanzi"), ("阿瑶", "ayao"),
    ("小白", "xiaobai"), ("阿珂", "ake"), ("大熊", "daxiong"), ("小葵", "xiaokui"),
    ("阿亮", "aliang"), ("南南", "nannan"), ("老李", "laoli"), ("小米", "xiaomi"),
    ("阿远", "ayuan"), ("苏苏", "susu"), ("小雨", "xiaoyu"), ("阿峰", "afeng"),
    ("贝贝", "beibei"), ("可乐", "kele"), ("阿朵", "aduo"), ("小川", "xiaochuan"),
    ("老何", "laohe"), ("乐乐", "lele"), ("阿青", "aqing"), ("小舟", "xiaozhou"),
    ("阿诚", "acheng"), ("甜甜", "tiantian"), ("老杨", "laoyang"), ("小柒", "xiaoqi"),
)  # fmt: skip

CITIES = (
    "杭州",
    "广州",
    "成都",
    "上海",
    "北京",
    "深圳",
    "长沙",
    "武汉",
    "重庆",
    "厦门",
    "南京",
    "西安",
)
ADJECTIVES = ("爱分享的", "会生活的", "认真的", "热爱生活的", "不将就的", "慢慢来的")
TEMPLATES = (
    "{theme}{name}",
    "{name}{theme}",
    "{name}{theme}日记",
    "{name}的{theme}",
    "{name}说{theme}",
    "{city}{theme}{name}",
    "{name}{theme}分享",
    "{theme}达人{name}",
    "{name}{theme}研究所",
    "{name}在{city}",
    "{adj}{name}",
)
DATA_SOURCES = ("星图", "蝉妈妈", "电商罗盘", "手动录入")
_CODE_ALPHABET = "".join(c for c in string.ascii_uppercase + string.digits if c not in "0O1IL")


class NameBook:
    """Hands out unique nicknames and 抖音号 (aweme_show_id) from one random stream."""

    def __init__(self) -> None:
        self.nicknames: set[str] = set()
        self.show_ids: set[str] = set()

    def nickname(self, rng: random.Random, theme: str) -> tuple[str, str]:
        """A unique nickname for a creator of `theme`, and the pinyin of its name part."""
        words = THEMES[theme][0]
        for _ in range(12):
            name, pinyin = rng.choice(NAME_PARTS)
            nick = rng.choice(TEMPLATES).format(
                theme=rng.choice(words),
                name=name,
                city=rng.choice(CITIES),
                adj=rng.choice(ADJECTIVES),
            )
            if nick not in self.nicknames:
                self.nicknames.add(nick)
                return nick, pinyin
        n = 2
        while f"{nick}{n}" in self.nicknames:
            n += 1
        self.nicknames.add(f"{nick}{n}")
        return f"{nick}{n}", pinyin

    def reserve(self, nickname: str) -> str:
        """Claim a fixed nickname (a shop's own account); a clash gets a number appended."""
        nick, n = nickname, 2
        while nick in self.nicknames:
            nick, n = f"{nickname}{n}", n + 1
        self.nicknames.add(nick)
        return nick

    def show_id(self, rng: random.Random, pinyin: str) -> str:
        """A 抖音号: pinyin plus digits, or the platform's numeric default."""
        while True:
            if rng.random() < 0.25:
                sid = f"dy{rng.randrange(10**8, 10**11)}"
            else:
                sep = rng.choice(("", "_", ".", ""))
                sid = f"{pinyin}{sep}{rng.randrange(10, 100_000)}"
            if sid not in self.show_ids:
                self.show_ids.add(sid)
                return sid


def cooperation_code(rng: random.Random) -> str:
    """A 达人合作码-shaped credential (the real format is not public)."""
    return "".join(rng.choice(_CODE_ALPHABET) for _ in range(10))
