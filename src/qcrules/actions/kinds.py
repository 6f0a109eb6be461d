"""Action kinds a rule may suggest (rule-catalog.md § Actions).

State-changing kinds compete: an entity gets at most one per run, the highest `priority` wins
and the others are reported as superseded. Person tasks are only recorded when done.
Plugins add kinds through the `qcrules_register_actions` hook.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ActionKind:
    name: str
    zh: str
    en: str
    state_changing: bool = False
    priority: int = 0
    origin: str = "builtin"
    handler: Any = field(default=None, compare=False, repr=False)


_BUILTIN = [
    # state-changing, highest priority first (revoke > stop > shorten/narrow > renew)
    ActionKind("revoke_grant", "解除授权", "revoke the grant", True, 100),
    ActionKind("stop_promotion", "停止投放", "stop the promotion", True, 90),
    ActionKind("exclude_creator", "排除达人", "exclude the creator", True, 85),
    ActionKind("remove_from_pool", "移出达人池", "remove from the pool", True, 80),
    ActionKind("shorten_grant", "缩短授权时效", "shorten the grant", True, 70),
    ActionKind("narrow_scope", "收窄授权范围", "narrow the grant's scope", True, 70),
    ActionKind("renew_grant", "续期授权", "renew the grant", True, 60),
    ActionKind("add_to_pool", "加入达人池", "add to the pool", True, 50),
    ActionKind("request_grant", "发起授权", "request a grant", True, 40),
    ActionKind("prepare_agreement", "准备授权协议", "prepare the agreement", True, 30),
    ActionKind("run_permission_audit", "核查授权权限", "audit grant permissions", True, 20),
    # tasks for a person
    ActionKind("follow_up_creator", "跟进达人", "follow up with the creator"),
    ActionKind("collect_cooperation_code", "获取合作码", "collect the cooperation code"),
    ActionKind("verify_creator_data", "核查达人数据", "verify the creator's data"),
    ActionKind("negotiate_rebate", "沟通返点", "negotiate the rebate"),
    ActionKind("negotiate_price", "沟通报价", "negotiate the price"),
    ActionKind("review_creator", "复核达人", "review the creator"),
    ActionKind("review_grant", "复核授权", "review the grant"),
    ActionKind("adjust_pool", "调整达人池", "adjust the pool"),
    ActionKind("optimize_targeting", "优化定向", "optimise targeting"),
    ActionKind("optimize_content", "优化内容", "optimise the content"),
    ActionKind("direct_promote", "直接投放", "promote directly (no grant needed)"),
    ActionKind("long_term_partnership", "建立长期合作", "build a long-term partnership"),
    ActionKind("recruit_creators", "补充达人", "recruit creators"),
    ActionKind("respond_revoke_request", "处理解除申请", "respond to the revoke request"),
    ActionKind("let_expire", "到期不续", "let the grant expire"),
    ActionKind("import_metrics", "导入最新指标", "import the latest metrics"),
]

BUILTIN_ACTIONS: dict[str, ActionKind] = {kind.name: kind for kind in _BUILTIN}


# ---------------------------------------------------------------------------------------------
# Where each action is done: the 千川 click path on PC (巨量千川) and, where it differs, on
# mobile (抖音APP 小店随心推), after the seed's 二.2. Menus move: the backend has the final
# word (以千川后台显示为准). Keys: "pc", "mobile"; a task done outside 千川 has only "all".

_PC = "巨量千川PC端【账户】-【抖音号授权】"
_PC_EN = "Qianchuan PC: Account → Douyin account authorization"
_MOBILE = "抖音APP → 小店随心推【个人中心】-【合作授权申请】"
_MOBILE_EN = "Douyin app → 小店随心推 Profile → Cooperation authorization requests"
_REQUEST_AGAIN = (
    f"千川不能直接修改已发起的授权：{_PC} → 找到该授权 →【解除授权】→【添加抖音号】输入抖音号和合作码，"
    "按新的时效/范围发起 → 达人在抖音APP内确认后生效",
    f"千川 cannot edit a grant once sent: {_PC_EN} → the grant → Revoke (解除授权) → Add "
    "account (添加抖音号) with the handle and cooperation code, new term/scope → the creator "
    "confirms in the Douyin app",
)
_REQUEST_AGAIN_MOBILE = (
    f"{_MOBILE} → 找到该达人 → 解除授权 →【搜索达人】按新的时效/范围重新发起 → 达人确认",
    f"{_MOBILE_EN} → the creator → revoke → Search creator (搜索达人), new term/scope → the "
    "creator confirms",
)
_POOL_ONLY = (
    "只改 qcrules 的达人池记录（qcrules actions apply）；千川后台无需操作",
    "changes the qcrules pool record only (qcrules actions apply); nothing to do in 千川",
)

STEPS: dict[str, dict[str, tuple[str, str]]] = {
    "revoke_grant": {
        "pc": (
            f"{_PC} → 找到该达人的授权 →【解除授权】",
            f"{_PC_EN} → the grant → Revoke (解除授权)",
        ),
        "mobile": (f"{_MOBILE} → 找到该达人 → 解除授权", f"{_MOBILE_EN} → the creator → revoke"),
    },
    "stop_promotion": {
        "pc": (
            "巨量千川PC端【推广】→ 找到投放该达人内容的计划 → 暂停，再核对授权结束后的消耗",
            "Qianchuan PC: Promotion → the plans using this creator's content → pause, then "
            "check the spend after the grant ended",
        ),
        "mobile": (
            "抖音APP → 小店随心推 →【订单】→ 找到该达人视频的订单 → 终止投放",
            "Douyin app → 小店随心推 → Orders → the orders on this creator's videos → stop",
        ),
    },
    "shorten_grant": {"pc": _REQUEST_AGAIN, "mobile": _REQUEST_AGAIN_MOBILE},
    "narrow_scope": {"pc": _REQUEST_AGAIN, "mobile": _REQUEST_AGAIN_MOBILE},
    "renew_grant": {
        "pc": (
            f"到期前：{_PC} →【添加抖音号】输入抖音号和合作码，选合作达人授权、15或30天 →【发起授权】→ "
            "达人在抖音APP内确认",
            f"before it ends: {_PC_EN} → Add account (添加抖音号), handle and cooperation code, "
            "cooperative, 15 or 30 days → Send (发起授权) → the creator confirms in the app",
        ),
        "mobile": (
            f"到期前：{_MOBILE} -【搜索达人】→ 选择授权类型与时效 → 发起授权 → 达人确认",
            f"before it ends: {_MOBILE_EN} → Search creator → type and term → send → the "
            "creator confirms",
        ),
    },
    "request_grant": {
        "pc": (
            f"{_PC} →【添加抖音号】输入抖音号和合作码，选合作达人授权、范围与时效 →【发起授权】→ "
            "达人在抖音APP内确认",
            f"{_PC_EN} → Add account (添加抖音号), handle and cooperation code, cooperative, "
            "scope and term → Send (发起授权) → the creator confirms in the app",
        ),
        "mobile": (
            f"{_MOBILE} -【搜索达人】→ 选择授权类型与时效 → 发起授权（或下单时在授权弹窗中选择达人）",
            f"{_MOBILE_EN} → Search creator → type and term → send (or pick the creator in "
            "the authorization pop-up when ordering)",
        ),
    },
    "follow_up_creator": {
        "all": (
            f"联系达人在抖音APP【消息】中找到授权通知并确认；进度在 {_PC} 查看",
            f"ask the creator to confirm the request in the Douyin app's Messages; follow "
            f"it in {_PC_EN}",
        ),
    },
    "collect_cooperation_code": {
        "all": (
            "请达人在抖音APP【我】→ 右上角 ☰ →【设置】→【账号与安全】中复制达人合作码发给你",
            "ask the creator for the code: Douyin app → Me → ☰ → Settings → Account and "
            "security → cooperation code (合作码)",
        ),
    },
    "verify_creator_data": {
        "all": (
            "在第三方数据平台（蝉妈妈、飞瓜等）核对粉丝、完播与带货数据，再更新达人表",
            "check fans, completion and sales on a third-party data platform (蝉妈妈, 飞瓜 …), "
            "then update the creators file",
        ),
    },
    "negotiate_rebate": {
        "all": (
            "与达人沟通返点（行业常见20%–30%），写入授权协议",
            "negotiate the rebate (20%–30% is usual) and write it into the agreement",
        ),
    },
    "negotiate_price": {
        "all": (
            "按近30天带货数据与达人议价，写入授权协议",
            "negotiate the price against the 30-day sales and write it into the agreement",
        ),
    },
    "review_creator": {
        "all": (
            "复核达人资料与数据，决定保留、排除或沟通",
            "review the creator's data and decide: keep, exclude or talk to them",
        ),
    },
    "review_grant": {
        "all": (
            f"在 {_PC} 复核该授权是否还需要；不用就解除",
            f"review in {_PC_EN} whether the grant is still needed; revoke it if not",
        ),
    },
    "adjust_pool": {
        "pc": (
            "在达人池中去掉匹配度低的达人；巨量千川PC端【推广】→ 计划 → 去掉这些达人的素材",
            "drop low-fit creators from the pool; Qianchuan PC: Promotion → the plan → "
            "remove their materials",
        ),
        "mobile": (
            "小店随心推下单时只选匹配度高的达人视频",
            "in 小店随心推, order only on well-matched creators' videos",
        ),
    },
    "optimize_targeting": {
        "pc": (
            "巨量千川PC端【推广】→ 计划 → 定向设置：排除已购/老粉人群，调整人群包",
            "Qianchuan PC: Promotion → the plan → targeting: exclude buyers and existing fans, "
            "adjust the audience",
        ),
        "mobile": (
            "小店随心推下单时选择「自定义定向」，不要只投粉丝",
            "in 小店随心推, choose custom targeting when ordering, not fans only",
        ),
    },
    "optimize_content": {
        "all": (
            "与达人沟通优化内容（卖点、挂车、讲解），或终止授权",
            "work with the creator "
            "on the content (selling points, cart link, live pitch), or end the grant",
        ),
    },
    "direct_promote": {
        "pc": (
            "巨量千川PC端新建全域推广计划 → 添加创意时选择该达人的挂车视频（托管授权，无需发起授权；以千川后台显示为准）",
            "Qianchuan PC: new 全域推广 plan → add the creator's videos with a cart link as "
            "materials (hosted authorization, no request; as the backend shows it)",
        ),
        "mobile": (
            "抖音APP → 小店随心推 → 选择该达人的挂车视频下单投放",
            "Douyin app → 小店随心推 → order promotion on the creator's cart video",
        ),
    },
    "long_term_partnership": {
        "all": (
            "与达人约定长期合作（续期节奏、返点、档期）",
            "agree a long-term partnership (renewal rhythm, rebate, schedule)",
        ),
    },
    "recruit_creators": {
        "all": (
            "按筛选标准在第三方平台找新达人，导入后评估",
            "find new creators on a data "
            "platform by the screening criteria, import them and evaluate",
        ),
    },
    "respond_revoke_request": {
        "pc": (
            f"{_PC} → 筛选「待处理解除授权申请」→ 与达人沟通后同意或处理",
            f"{_PC_EN} → filter 待处理解除授权申请 → talk to the creator, then accept or settle",
        ),
        "mobile": (
            f"{_MOBILE} → 找到该达人的解除申请处理",
            f"{_MOBILE_EN} → the creator's revoke request",
        ),
    },
    "let_expire": {
        "all": (
            "不续期：到期后授权自动失效；到期前停掉用到该达人内容的计划",
            "do not renew: "
            "the grant lapses by itself; stop the plans using the creator before it ends",
        ),
    },
    "exclude_creator": {"all": _POOL_ONLY},
    "remove_from_pool": {"all": _POOL_ONLY},
    "add_to_pool": {"all": _POOL_ONLY},
    "prepare_agreement": {
        "all": (
            "qcrules agreement <授权ID> 生成授权协议；双方签署后运行 qcrules grants signed <授权ID>",
            "make it with qcrules agreement <grant id>; once both sign, record it with "
            "qcrules grants signed <grant id>",
        ),
    },
    "import_metrics": {
        "pc": (
            "巨量千川PC端【数据】-【报表】：按抖音号（达人）、分日，选到昨天，导出；然后运行 "
            "qcrules import metrics 文件",
            "Qianchuan PC: Data → Reports, by Douyin account, daily, up to yesterday, export; "
            "then run qcrules import metrics FILE",
        ),
        "mobile": (
            "抖音APP → 小店随心推 →【订单】导出随心推数据；然后运行 qcrules import metrics 文件",
            "Douyin app → 小店随心推 → Orders, export; then run qcrules import metrics FILE",
        ),
    },
    "run_permission_audit": {
        "pc": (
            f"{_PC} → 逐条核对：授权类型均为「合作达人」、时效与范围符合约定",
            f"{_PC_EN} → check every grant: cooperative type, agreed term and scope",
        ),
        "mobile": (f"{_MOBILE} → 逐条核对", f"{_MOBILE_EN} → check every grant"),
    },
}


def steps_for(kind: str, lang: str) -> dict[str, str] | None:
    """The click paths of an action kind in one language (None: a plugin kind without)."""
    table = STEPS.get(kind)
    if table is None:
        return None
    index = 0 if lang == "zh" else 1
    return {where: texts[index] for where, texts in table.items()}


def steps_text(kind: str, lang: str) -> str | None:
    """The click paths as one line per place, for a terminal."""
    steps = steps_for(kind, lang)
    if not steps:
        return None
    names = {"pc": ("PC", "PC"), "mobile": ("随心推", "mobile (随心推)"), "all": ("", "")}
    index = 0 if lang == "zh" else 1
    lines = []
    for where, text in steps.items():
        label = names.get(where, (where, where))[index]
        lines.append(
            f"{label}：{text}" if label and lang == "zh" else f"{label}: {text}" if label else text
        )
    return "\n".join(lines)
