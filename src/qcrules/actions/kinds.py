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
