"""`qcrules agreement`: the authorization agreement (授权协议) of one grant, from the built-in
template or the operator's own (`${placeholder}` text, never code)."""

from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path

from sqlalchemy import select

from qcrules.errors import UsageError
from qcrules.i18n import did_you_mean, tr
from qcrules.model.db import table
from qcrules.model.tables import Creator, Grant, Merchant, is_permanent_end
from qcrules.safety import file_in, for_terminal, mask_secret
from qcrules.workspace import Workspace

PLACEHOLDERS = {
    "grant_id": "授权ID / the grant's id",
    "today": "签订日期 / today's date",
    "merchant_id": "商家ID",
    "merchant_name": "商家名称",
    "shop_id": "店铺ID",
    "advertiser_id": "千川账户ID",
    "aweme_id": "达人UID",
    "aweme_show_id": "抖音号",
    "creator_nickname": "达人昵称",
    "auth_type": "授权类型 (合作达人授权 …)",
    "scope": "授权范围 (单视频 / 直播间 / 所有作品)",
    "video_id": "视频ID (single-video grants)",
    "video_clause": "'（视频ID …）' for single-video grants, else empty",
    "channel": "授权渠道 (PC / 随心推)",
    "starts_at": "开始日期",
    "ends_at": "结束日期",
    "duration": "时效 (e.g. 30 天)",
    "period": "授权时效 in one sentence: dates, or 长期 for a permanent grant, or 以千川后台为准",
    "rights_clause": "what the 授权类型 allows (合作达人: no account access, no publishing)",
    "settlement": "结算周期, from [merchant.ID] settlement in qcrules.toml",
    "cooperation_code": "合作码, masked (only its last 4 characters)",
    "commission_rate": "佣金比例",
    "rebate_rate": "返点",
}
AUTH_TYPES = {
    "cooperative": "合作达人授权 (cooperative)",
    "self_operated": "自营/自运营授权 (self-operated)",
    "official": "官方授权 (official)",
}
SCOPES = {
    "single_video": "单视频",
    "live_room": "直播间",
    "all_works": "所有作品（不建议）",
    "account": "抖音号授权（账号级）",
}
CHANNELS = {
    "pc": "巨量千川 PC 端",
    "mobile_pre_order": "小店随心推（下单前）",
    "mobile_at_order": "小店随心推（下单时）",
}
UNSET = "双方另行约定"
RIGHTS = {
    "cooperative": (
        "本授权为合作达人授权：甲方仅可在巨量千川中投放授权内容，无权登录或操作乙方账号，"
        "无权以乙方账号发布、修改或删除作品，亦不得查看乙方账号的私密数据。"
    ),
    "self_operated": (
        "本授权为自运营授权，可发布作品、查看账号数据，仅适用于甲方自有账号；"
        "乙方为第三方达人时不应使用此类型。"
    ),
    "official": "本授权为官方授权，仅适用于甲方官方账号，权限以千川后台显示为准。",
}


@dataclass
class Agreement:
    grant_id: str
    text: str
    template: str  # "built-in" or the file used


def require_grants(conn, grant_ids: list[str]) -> None:
    """Every grant id names a grant; the first that does not is an error with a did-you-mean."""
    grants = table(Grant)
    known = {r for (r,) in conn.execute(select(grants.c.grant_id))}
    for grant_id in grant_ids:
        if grant_id in known:
            continue
        raise UsageError(
            tr(f"没有授权 {grant_id}", f"there is no grant {grant_id}")
            + did_you_mean(grant_id, known, form="{}"),
            hint=tr("写授权ID（grant_id）", "give a grant_id, as qcrules evaluate shows it"),
        )


def require_merchant(conn, merchant_id: str) -> None:
    """`merchant_id` names a merchant of the workspace: else an error with a did-you-mean
    (a filter naming no merchant would give an empty list that looks like "all is well")."""
    ids = list(conn.execute(select(table(Merchant).c.merchant_id)).scalars())
    if merchant_id in ids:
        return
    raise UsageError(
        tr(f"未知商家 {merchant_id!r}", f"unknown merchant {merchant_id!r}")
        + did_you_mean(merchant_id, ids),
        hint=tr("本工作区的商家：", "merchants in this workspace: ")
        + (
            ", ".join(ids[:20])
            or tr("（无：先用 qcrules import merchants 导入）", "(none: import some)")
        ),
    )


def _one(conn, model, column: str, value: str):
    tbl = table(model)
    return conn.execute(select(tbl).where(tbl.c[column] == value)).mappings().first()


def _percent(value) -> str:
    return UNSET if value is None else f"{value * 100:.1f}%"


def _masked(code: str | None) -> str:
    if not code or not code.strip():
        return "（待乙方提供）"
    return f"已提供（{mask_secret(code)}）"


def agreement_values(workspace: Workspace, grant_id: str, today: date | None = None) -> dict:
    """Every placeholder's text for one grant."""
    with workspace.db.connect() as conn:
        require_grants(conn, [grant_id])
        grant = _one(conn, Grant, "grant_id", grant_id)
        merchant = _one(conn, Merchant, "merchant_id", grant["merchant_id"]) or {}
        creator = _one(conn, Creator, "aweme_id", grant["aweme_id"]) or {}
    starts, ends = grant["starts_at"], grant["ends_at"]
    start_text = starts.isoformat() if starts else UNSET
    if is_permanent_end(ends):
        ends_text, duration = "长期（永久授权，不建议）", "永久"
        period = f"自 {start_text} 起长期有效（永久授权；建议改为15或30天）；任一方可按第五条解除。"
    elif ends is None:  # the export had no end date: nothing is promised that is not known
        ends_text, duration = "以千川后台显示为准", UNSET
        period = f"自 {start_text} 起，结束日期以千川后台显示为准，双方另行书面确认。"
    else:
        ends_text = ends.isoformat()
        duration = f"{(ends - starts).days} 天" if starts else UNSET
        period = f"{start_text} 至 {ends_text}（{duration}）。到期前如需续期，双方另行确认。"
    settings = (workspace.config.merchants or {}).get(grant["merchant_id"]) or {}
    video = grant["video_id"] if grant["scope"] == "single_video" else None
    values = {
        "grant_id": grant_id,
        "today": (today or date.today()).isoformat(),
        "merchant_id": grant["merchant_id"],
        "merchant_name": merchant.get("name") or grant["merchant_id"],
        "shop_id": merchant.get("shop_id") or UNSET,
        "advertiser_id": merchant.get("advertiser_id") or UNSET,
        "aweme_id": grant["aweme_id"],
        "aweme_show_id": creator.get("aweme_show_id") or grant["aweme_id"],
        "creator_nickname": creator.get("nickname") or grant["aweme_id"],
        "auth_type": AUTH_TYPES.get(grant["auth_type"], grant["auth_type"]),
        "scope": SCOPES.get(grant["scope"], grant["scope"]),
        "video_id": video or "",
        "video_clause": f"（视频ID {video}）" if video else "",
        "channel": CHANNELS.get(grant["channel"] or "", grant["channel"] or UNSET),
        "starts_at": start_text,
        "ends_at": ends_text,
        "duration": duration,
        "period": period,
        "rights_clause": RIGHTS.get(grant["auth_type"], RIGHTS["cooperative"]),
        "settlement": settings.get("settlement") or UNSET,
        "cooperation_code": _masked(creator.get("cooperation_code")),
        "commission_rate": _percent(creator.get("commission_rate")),
        "rebate_rate": _percent(creator.get("rebate_rate")),
    }
    # a nickname or shop name is data: no control character goes into the document
    return {name: for_terminal(value, one_line=True) for name, value in values.items()}


def builtin_template() -> str:
    return (resources.files("qcrules.actions") / "templates" / "agreement.md").read_text("utf-8")


def check_template(text: str, origin: str) -> None:
    """Every `${name}` must be a known placeholder; `$$` writes a dollar sign."""
    problems = []
    for found in string.Template.pattern.finditer(text):
        name = found.group("named") or found.group("braced")
        line = text.count("\n", 0, found.start()) + 1
        if found.group("invalid") is not None:
            problems.append(
                tr(
                    f"{origin}:{line}: 单独的 $ 不是占位符；写 $$ 表示美元符号",
                    f"{origin}:{line}: a lone $ is not a placeholder; write $$ for a dollar sign",
                )
            )
        elif name is not None and name not in PLACEHOLDERS:
            problems.append(
                f"{origin}:{line}: "
                + tr(f"未知占位符 ${{{name}}}", f"unknown placeholder ${{{name}}}")
                + did_you_mean(name, PLACEHOLDERS, form="${{{}}}")
            )
    if problems:
        raise UsageError(
            "\n".join(problems),
            hint=tr("可用的占位符：", "placeholders: ") + ", ".join(sorted(PLACEHOLDERS)),
        )


def render_agreement(
    workspace: Workspace,
    grant_id: str,
    *,
    template: Path | None = None,
    today: date | None = None,
) -> Agreement:
    if template is None:
        text, origin = builtin_template(), "built-in"
    else:
        try:
            text = template.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(
                tr(f"读不了模板 {template}：{exc}", f"cannot read the template {template}: {exc}"),
                hint=tr("模板是 UTF-8 文本文件", "a template is a UTF-8 text file"),
            ) from exc
        origin = str(template)
    check_template(text, origin)
    values = agreement_values(workspace, grant_id, today)
    return Agreement(grant_id, string.Template(text).substitute(values), origin)


def agreement_path(workspace: Workspace, grant_id: str) -> Path:
    """Where a grant's agreement document goes: inside agreements/, whatever the id holds."""
    return file_in(workspace.root / "agreements", grant_id, ".md")


def write_agreement(workspace: Workspace, grant_id: str, today: date | None = None) -> Path:
    """The `prepare_agreement` action: the document in the workspace's agreements/ folder."""
    agreement = render_agreement(workspace, grant_id, today=today)
    folder = workspace.root / "agreements"
    path = agreement_path(workspace, grant_id)
    folder.mkdir(exist_ok=True)
    path.write_text(agreement.text, encoding="utf-8")
    return path
