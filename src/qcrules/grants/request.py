"""Requesting a grant: the proposal judged by every grant rule before anything is written, the
to-do steps after it, and the request stored (draft or requested) with its audit entry."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from qcrules.errors import PackError, UsageError
from qcrules.grants.guards import (
    check_code,
    pool_exclusion,
    refuse_duplicate,
    refuse_renewing,
    refuse_second_renewal,
)
from qcrules.grants.vocab import (
    AUTH_LABEL,
    CHANNEL_NAMES,
    MAX_TERM_DAYS,
    SAFE_DAYS,
    SCOPE_LABEL,
    label,
    mask_code,
)
from qcrules.i18n import did_you_mean, language, pick, tr
from qcrules.model.db import table
from qcrules.model.tables import (
    AUTH_TYPES,
    PERMANENT_END,
    SCOPES,
    AuditEntry,
    Creator,
    Grant,
    Merchant,
)
from qcrules.packs.model import LEVEL_RANK
from qcrules.safety import check_id, for_terminal
from qcrules.workspace import Workspace

# --------------------------------------------------------------------------------------------
# the proposal


@dataclass
class GrantRequest:
    """What the operator asks for; the defaults are the guide's safe ones."""

    merchant_id: str
    aweme_id: str
    scope: str = "single_video"
    video_id: str | None = None
    days: int | None = None  # SAFE_DAYS when neither days nor until is given
    until: date | None = None
    channel: str = "pc"
    auth_type: str = "cooperative"
    code: str | None = None  # the 合作码: stored on the creator, never shown whole
    renewal_of: str | None = None


@dataclass
class RuleVerdict:
    """One rule that fired on the proposal (or on its creator)."""

    rule: str
    name: str
    pack: str
    level: str
    message: str
    action: str
    gate: bool
    source: str

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "name": self.name,
            "pack": self.pack,
            "level": self.level,
            "message": self.message,
            "action": self.action,
            "gate": self.gate,
            "source": self.source,
        }


@dataclass
class Step:
    key: str
    text: str

    def to_json(self) -> dict[str, str]:
        return {"key": self.key, "text": self.text}


@dataclass
class RequestCheck:
    """The proposal as judged: the row it would write, the verdicts, and the steps."""

    grant: dict[str, Any]
    nickname: str
    code_masked: str | None
    gates: list[RuleVerdict] = field(default_factory=list)  # refuse unless accepted
    todo: list[RuleVerdict] = field(default_factory=list)
    context: list[RuleVerdict] = field(default_factory=list)  # the creator's findings
    steps: list[Step] = field(default_factory=list)
    # the merchant excluded the creator from its pool: refuse unless accepted, like a gate
    excluded: dict[str, Any] | None = None
    confirmation: str = ""
    agreement: str = ""
    accepted_risk: str | None = None
    written: bool = False
    dry_run: bool = False
    audit_id: int | None = None

    @property
    def risky(self) -> bool:
        """Something refuses the request unless its risk is accepted with a reason."""
        return bool(self.gates or self.excluded)

    @property
    def refused(self) -> bool:
        return self.risky and not self.accepted_risk

    def risks(self) -> list[str]:
        """What refuses it, short: the pool's exclusion, then the gate rules."""
        out = [tr("已排除出达人池", "excluded from the pool")] if self.excluded else []
        return out + [v.rule for v in self.gates]

    @property
    def status(self) -> str:
        return self.grant["status"]

    @property
    def days(self) -> int | None:
        starts, ends = self.grant.get("starts_at"), self.grant.get("ends_at")
        if starts is None or ends is None or ends >= PERMANENT_END:
            return None
        return (ends - starts).days

    def to_json(self) -> dict[str, Any]:
        grant = {k: _iso(v) for k, v in self.grant.items()}
        grant["nickname"] = self.nickname
        grant["days"] = self.days
        return {
            "grant": grant,
            "cooperation_code": self.code_masked,
            "refused": self.refused,
            "written": self.written,
            "dry_run": self.dry_run,
            "accepted_risk": self.accepted_risk,
            "excluded": self.excluded,
            "gates": [v.to_json() for v in self.gates],
            "todo": [v.to_json() for v in self.todo],
            "context": [v.to_json() for v in self.context],
            "steps": [s.to_json() for s in self.steps],
            "confirmation": self.confirmation,
            "agreement": self.agreement,
            "audit_id": self.audit_id,
        }


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def _did_you_mean(word: str, choices: list[str]) -> str:
    return did_you_mean(word, choices, form="{}")


def _choice(value: str, choices: tuple[str, ...] | list[str], option: str) -> None:
    if value not in choices:
        raise UsageError(
            tr(f"{option} {value!r} 不可用", f"{option} {value!r} is not valid")
            + _did_you_mean(value, list(choices)),
            hint=tr("可用：", "use one of: ") + ", ".join(choices),
        )


def _one(conn, model, column: str, value: str) -> dict[str, Any] | None:
    tbl = table(model)
    row = conn.execute(select(tbl).where(tbl.c[column] == value)).mappings().first()
    return dict(row) if row is not None else None


def _require_merchant(conn, merchant_id: str) -> dict[str, Any]:
    found = _one(conn, Merchant, "merchant_id", merchant_id)
    if found is None:
        ids = list(conn.execute(select(table(Merchant).c.merchant_id)).scalars())
        raise UsageError(
            tr(f"没有商家 {merchant_id!r}", f"there is no merchant {merchant_id!r}")
            + _did_you_mean(merchant_id, ids),
            hint=tr("本工作区的商家：", "merchants in this workspace: ")
            + (", ".join(ids[:20]) or tr("（无：先导入）", "(none: import some)")),
        )
    return found


def _require_creator(conn, aweme_id: str) -> dict[str, Any]:
    """The creator `aweme_id` names: their aweme_id (达人UID) or their 抖音号 (aweme_show_id)."""
    found = _one(conn, Creator, "aweme_id", aweme_id)
    if found is None:
        creators = table(Creator)
        by_show = (
            conn.execute(select(creators).where(creators.c.aweme_show_id == aweme_id))
            .mappings()
            .first()
        )
        if by_show is not None:
            return dict(by_show)
        raise unknown_creator(conn, aweme_id)
    return found


def unknown_creator(conn, value: str) -> UsageError:
    """The error for a creator no aweme_id or 抖音号 of the workspace names, with the
    closest of them as a did-you-mean."""
    creators = table(Creator)
    known: list[str] = []
    for aweme, show in conn.execute(select(creators.c.aweme_id, creators.c.aweme_show_id)):
        known.append(aweme)
        if show:
            known.append(show)
    return UsageError(
        tr(
            f"未知达人 {value!r}：没有这个达人UID或抖音号",
            f"unknown creator {value!r}: no creator has that aweme_id or 抖音号",
        )
        + _did_you_mean(value, known),
        hint=tr(
            "写达人UID（aweme_id）或抖音号；先用 qcrules import creators 导入达人",
            "give the creator's aweme_id or 抖音号; import creators with qcrules import creators",
        ),
    )


def _new_code(conn, aweme_id: str, code: str):
    """The creator's 合作码 replaced, as a change the audit log shows (masked) and undo keeps:
    a code is the creator's current one whatever became of the grant it came with (creators
    renew them, and an old one no longer works)."""
    from dataclasses import replace

    from qcrules.actions.changes import _changed, _write

    change = _changed(conn, "creators", {"aweme_id": aweme_id}, cooperation_code=code)
    _write(conn, change, change.after)
    return replace(change, kept_on_undo=True)


def _proposed_row(conn, request: GrantRequest, today: date) -> tuple[dict[str, Any], dict]:
    """The grant row the request would write (its id still to be given), and its creator."""
    _choice(request.scope, SCOPES, "--scope")
    _choice(request.auth_type, AUTH_TYPES, "--auth-type")
    _choice(request.channel, list(CHANNEL_NAMES), "--channel")
    channel = CHANNEL_NAMES[request.channel]
    if request.days is not None and request.until is not None:
        raise UsageError(
            tr("--days 与 --until 只能给一个", "give --days or --until, not both"),
            hint=tr("例如 --days 15", "e.g. --days 15"),
        )
    if request.video_id and (problem := check_id(request.video_id)) is not None:
        raise UsageError(
            f"--video '{for_terminal(request.video_id)}': {problem}",
            hint=tr("视频ID 见千川或抖音作品链接", "the video id is in the work's link"),
        )
    if request.video_id and request.scope != "single_video":
        raise UsageError(
            tr("--video 只用于单视频授权", "--video goes with --scope single_video only"),
            hint=tr(
                "去掉 --video，或改为 --scope single_video", "drop --video or use single_video"
            ),
        )
    check_code(request.code)
    _require_merchant(conn, request.merchant_id)
    creator = _require_creator(conn, request.aweme_id)
    start = today
    if request.renewal_of:
        old = _one(conn, Grant, "grant_id", request.renewal_of)
        if old is None:
            raise UsageError(
                tr(f"没有授权 {request.renewal_of}", f"there is no grant {request.renewal_of}"),
                hint=tr("qcrules grants list 列出授权", "qcrules grants list shows them"),
            )
        if (old["merchant_id"], old["aweme_id"]) != (request.merchant_id, creator["aweme_id"]):
            raise UsageError(
                tr(
                    f"授权 {request.renewal_of} 属于另一个商家或达人",
                    f"grant {request.renewal_of} is for another merchant or creator",
                ),
                hint=tr("续期用同一商家与达人", "a renewal is for the same merchant and creator"),
            )
        refuse_second_renewal(conn, request.renewal_of)
        refuse_renewing(old)
        start = max(old["ends_at"] + timedelta(days=1), today)
    if request.until is not None:
        if request.until <= start:
            raise UsageError(
                tr(
                    f"--until {request.until} 不晚于开始日 {start}",
                    f"--until {request.until} is not after the start, {start}",
                ),
                hint=tr("给一个更晚的日期，或用 --days", "give a later date, or use --days"),
            )
        ends = request.until
    else:
        days = SAFE_DAYS if request.days is None else request.days
        if days < 1:
            raise UsageError(
                tr(f"--days {days} 必须至少为 1", f"--days {days} must be at least 1"),
                hint=tr("指南建议 15 或 30 天", "the guide suggests 15 or 30 days"),
            )
        if days > MAX_TERM_DAYS:
            raise UsageError(
                tr(
                    f"--days {days} 超过 {MAX_TERM_DAYS} 天",
                    f"--days {days} must be at most {MAX_TERM_DAYS}",
                ),
                hint=tr("指南建议 15 或 30 天", "the guide suggests 15 or 30 days"),
            )
        ends = start + timedelta(days=days)
        if ends >= PERMANENT_END:  # a term of days reaching 2099-12-31 would read as permanent
            raise UsageError(
                tr(
                    f"结束日 {ends} 不早于 {PERMANENT_END}",
                    f"the end {ends} is not before {PERMANENT_END}",
                ),
                hint=tr("指南建议 15 或 30 天", "the guide suggests 15 or 30 days"),
            )
    code_known = bool(
        (request.code or "").strip() or (creator.get("cooperation_code") or "").strip()
    )
    row = {
        "grant_id": None,
        "merchant_id": request.merchant_id,
        "aweme_id": creator["aweme_id"],
        "auth_type": request.auth_type,
        # A new request at account level (抖音号授权) grants every work of the account: it is
        # judged and recorded as all works, whichever face asked. (A grant imported from a
        # 千川 export keeps `account`, its own scope there, and is not flagged as all works.)
        "scope": "all_works" if request.scope == "account" else request.scope,
        "video_id": request.video_id or None,
        "channel": channel,
        "status": "requested" if code_known else "draft",
        "requested_at": today if code_known else None,
        "starts_at": start,
        "ends_at": ends,
        "renewal_of": request.renewal_of or None,
        "has_agreement": False,  # a new grant has none yet: the to-do list says so
        "revoke_requested": False,
    }
    refuse_duplicate(conn, row)
    return row, creator


# --------------------------------------------------------------------------------------------
# judging the proposal


@dataclass
class CheckSession:
    """What a form's live checks share between keystrokes: the packs, and per (merchant,
    creator, day) the merchant-wide facts context. Saving judges afresh under the write lock,
    so a session never decides what is written."""

    packset: Any = None
    contexts: dict[tuple, Any] = field(default_factory=dict)


def _evaluate_proposal(
    workspace: Workspace,
    row: dict[str, Any],
    code_given: bool,
    today: date,
    session: CheckSession | None = None,
) -> tuple[list[RuleVerdict], list[RuleVerdict]]:
    """(grant verdicts, creator verdicts): every enabled rule in effect, on the proposal."""
    from qcrules.engine import select_engine
    from qcrules.engine.run import judge
    from qcrules.evaluation import compute_plugin_fields, merchant_params
    from qcrules.facts.core import Fact, FactSet
    from qcrules.facts.single import proposal_facts
    from qcrules.packs.messages import render_message
    from qcrules.packs.registry import load_packs

    packset = session.packset if session is not None else None
    if packset is None:
        packset = load_packs(workspace.config)
        if session is not None:
            session.packset = packset
    if packset.blocking_errors:
        raise PackError(
            tr(
                f"规则包有 {len(packset.blocking_errors)} 个问题；无法检查这次授权",
                f"{len(packset.blocking_errors)} problem(s) in rule packs; the request "
                "cannot be checked",
            ),
            diagnostics=packset.diagnostics,
            hint=tr("qcrules packs validate 列出全部问题", "run qcrules packs validate"),
        )
    judged = {**row, "grant_id": row.get("grant_id") or "(new)", "status": "requested"}
    judged["requested_at"] = today
    grant_fact, creator_fact = proposal_facts(
        workspace.db,
        today,
        judged,
        merchant_defaults=workspace.config.merchants,
        context_cache=session.contexts if session is not None else None,
    )
    facts = FactSet(as_of=today, window_end=today, grant=[grant_fact])
    if row.get("status") == "draft":
        # stored as a draft (no 合作码 yet): what holds a draft back (PRM011) is on the
        # to-do list too, beside what a sent request will need
        draft = {**grant_fact.values, "status": "draft", "requested_at": None}
        draft["days_pending"] = None
        facts.grant.append(
            Fact("grant", grant_fact.entity_id, grant_fact.merchant_id, grant_fact.aweme_id, draft)
        )
    if creator_fact is not None:
        facts.creator = [creator_fact]
    if code_given:
        for fact in facts:
            fact.values["has_cooperation_code"] = True
    compute_plugin_fields(facts, packset, {"db": workspace.db, "as_of": today, "window_end": today})
    merchant = row["merchant_id"]
    _, factory = select_engine()
    lang = language()
    out: dict[str, list[RuleVerdict]] = {"grant": [], "creator": []}
    for entity in ("grant", "creator"):
        seen: set[str] = set()
        for _, fact, outcome in judge(
            entity,
            packset.packs,
            facts[entity],
            factory,
            params_for=lambda p, _m: merchant_params(p, workspace, merchant),
        ):
            for compiled in outcome.matched:
                rule = compiled.rule
                if rule.id in seen:  # the draft and the request views agree on it
                    continue
                seen.add(rule.id)
                out[entity].append(
                    RuleVerdict(
                        rule.id,
                        rule.name,
                        rule.pack,
                        rule.level,
                        render_message(pick(rule.message, lang), fact.values, compiled.params),
                        rule.action_kind,
                        rule.gate,
                        rule.source,
                    )
                )
            # a gate that could not judge (a field it reads is missing) does not let the
            # request through: "no finding" must not hide "no data"
            for compiled, missing, _by_guard in outcome.insufficient:
                rule = compiled.rule
                if entity != "grant" or not rule.gate:
                    continue
                fields = ", ".join(missing) or "?"
                out[entity].append(
                    RuleVerdict(
                        rule.id,
                        rule.name,
                        rule.pack,
                        rule.level,
                        tr(
                            f"无法判断（缺少 {fields}）：{pick(rule.message, 'zh')}",
                            f"cannot be judged ({fields} missing): {pick(rule.message, 'en')}",
                        ),
                        rule.action_kind,
                        rule.gate,
                        rule.source,
                    )
                )
    for verdicts in out.values():
        verdicts.sort(key=lambda v: (-LEVEL_RANK[v.level], v.rule))
    return out["grant"], out["creator"]


def _steps(row: dict[str, Any], creator: dict[str, Any], code_masked: str | None) -> list[Step]:
    """The 千川 steps for the channel, with this grant's values filled in (seed 二.2)."""
    who = creator.get("aweme_show_id") or creator["aweme_id"]
    name = creator.get("nickname") or who
    code = code_masked or tr("（先向达人索取）", "(ask the creator for it first)")
    kind = label(AUTH_LABEL, row["auth_type"])
    scope = label(SCOPE_LABEL, row["scope"])
    if row["scope"] == "single_video":
        scope += (
            f" {row['video_id']}"
            if row.get("video_id")
            else tr("（选定视频）", " (pick the video)")
        )
    ends = row["ends_at"]
    if ends is None:  # an export without end dates: not known, so not promised
        term = tr("以千川后台显示为准", "as the 千川 backend shows it")
    elif ends >= PERMANENT_END:
        term = tr("永久", "permanent")
    else:
        days = (ends - row["starts_at"]).days
        term = tr(f"{days} 天（至 {ends}）", f"{days} days (until {ends})")
    terms = tr(
        f"授权类型「{kind}」（不要选自营授权）；范围「{scope}」；时效 {term}",
        f"type “{kind}” (never self-operated); scope “{scope}”; term {term}",
    )
    channel = row["channel"]
    if channel == "mobile_pre_order":
        texts = [
            tr(
                "打开抖音APP，进入小店随心推【个人中心】→【合作授权申请】→【搜索达人】",
                "Open the Douyin app: 小店随心推 → 个人中心 (profile) → 合作授权申请 "
                "(cooperation requests) → 搜索达人 (find the creator)",
            ),
            tr(f"输入达人信息：{name}（{who}）", f"Enter the creator: {name} ({who})"),
            tr(f"选择 {terms}", f"Choose {terms}"),
            tr("点击发起授权，等待达人确认", "Send the request and wait for the creator"),
        ]
    elif channel == "mobile_at_order":
        texts = [
            tr(
                "在小店随心推下单支付时，等系统弹出授权弹窗",
                "Place the 小店随心推 order; at payment the authorization pop-up appears",
            ),
            tr(f"在弹窗中选择达人 {name}（{who}）", f"Pick the creator {name} ({who}) in it"),
            tr(f"确认 {terms}", f"Check {terms}"),
            tr("发送授权申请，等待达人确认", "Send the request and wait for the creator"),
        ]
    else:
        texts = [
            tr(
                "登录巨量千川PC端后台，进入【账户】→【抖音号授权】，点击【添加抖音号】",
                "Log in to Qianchuan (PC): 账户 (Account) → 抖音号授权 (Douyin account "
                "authorization) → 添加抖音号 (Add)",
            ),
            tr(
                f"输入达人抖音号或抖音ID {who}，粘贴合作码 {code}",
                f"Enter the creator's 抖音号 or ID {who} and paste the 合作码 {code}",
            ),
            tr(f"选择 {terms}；勾选相关协议", f"Choose {terms}; tick the agreement boxes"),
            tr(
                "点击【发起授权】，在【抖音号授权】界面查看进度",
                "Click 发起授权 (Request); follow it under 抖音号授权",
            ),
        ]
    return [Step(f"{channel}-{n}", text) for n, text in enumerate(texts, 1)]


def _confirmation(grant_id: str) -> str:
    return tr(
        "达人在抖音APP内收到授权通知并确认；后台显示“授权成功”后授权生效，"
        f"然后运行 qcrules grants mark {grant_id} approved",
        "The creator confirms the notice in the Douyin app; when Qianchuan shows 授权成功 "
        f"(authorized) the grant is live: then run qcrules grants mark {grant_id} approved",
    )


def _agreement(grant_id: str) -> str:
    return tr(
        f"授权协议（范围、时效、权益结算）：qcrules agreement {grant_id} -o "
        f"agreements/{grant_id}.md，双方确认后留存",
        "The agreement (scope, term, settlement): qcrules agreement "
        f"{grant_id} -o agreements/{grant_id}.md, signed by both sides",
    )


def check_request(
    workspace: Workspace,
    request: GrantRequest,
    *,
    today: date | None = None,
    session: CheckSession | None = None,
) -> RequestCheck:
    """Judge a proposed grant without writing anything: the verdicts, the to-do list, the
    creator's findings and the steps. A form calls it on every change with one `session`,
    so only the first check of a creator builds the merchant's context."""
    today = today or date.today()
    with workspace.db.connect() as conn:
        row, creator = _proposed_row(conn, request, today)
        grant_id_hint = _next_grant_id(conn, today)
        excluded = pool_exclusion(conn, row["merchant_id"], row["aweme_id"])
    check = _judged(workspace, request, row, creator, grant_id_hint, today, session)
    check.excluded = excluded
    return check


def _judged(
    workspace: Workspace,
    request: GrantRequest,
    row: dict[str, Any],
    creator: dict[str, Any],
    grant_id: str,
    today: date,
    session: CheckSession | None = None,
) -> RequestCheck:
    code_masked = mask_code(request.code or creator.get("cooperation_code"))
    grant_verdicts, creator_verdicts = _evaluate_proposal(
        workspace, row, bool((request.code or "").strip()), today, session
    )
    row = {**row, "grant_id": grant_id}
    check = RequestCheck(row, creator.get("nickname") or "", code_masked)
    for verdict in grant_verdicts:
        if verdict.gate and LEVEL_RANK[verdict.level] >= LEVEL_RANK["warn"]:
            check.gates.append(verdict)
        else:
            check.todo.append(verdict)
    check.context = creator_verdicts
    check.steps = _steps(row, creator, code_masked)
    check.confirmation = _confirmation(grant_id)
    check.agreement = _agreement(grant_id)
    return check


def _next_grant_id(conn, today: date) -> str:
    return free_grant_id(conn, f"Q{today:%Y%m%d}")


def free_grant_id(conn, base: str) -> str:
    """`base-N` with the lowest N that no grant has and the audit log never named: an undone
    request's id is not given to another grant, so the log's entries for it stay its own."""
    grants, audit = table(Grant), table(AuditEntry)
    pattern = f"{base}-%"
    taken = set(
        conn.execute(select(grants.c.grant_id).where(grants.c.grant_id.like(pattern))).scalars()
    )
    taken.update(
        conn.execute(
            select(audit.c.entity_id).where(
                audit.c.entity_type == "grant", audit.c.entity_id.like(pattern)
            )
        ).scalars()
    )
    n = 1
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def request_grant(
    workspace: Workspace,
    request: GrantRequest,
    *,
    accept_risk: str | None = None,
    dry_run: bool = False,
    actor: str | None = None,
    today: date | None = None,
) -> RequestCheck:
    """Judge the proposal, then (unless refused or a dry run) write it with its audit entry.

    Refused: a gate rule fired at warn or above, or the merchant excluded the creator from its
    pool (`excluded`), and no reason was given to accept the risk; nothing is written and the
    check says why (`refused`). Screening rules no longer judge an excluded creator (they would
    say to exclude it again), so the exclusion is checked here, not left to the context."""
    from qcrules.actions.changes import _write
    from qcrules.actions.items import Change, Outcome, _now, default_actor
    from qcrules.actions.queue import _audit

    today = today or date.today()
    reason = (accept_risk or "").strip() or None
    if accept_risk is not None and reason is None:
        raise UsageError(
            tr("--accept-risk 需要写明原因", "--accept-risk needs a reason"),
            hint=tr(
                '例如 --accept-risk "达人自有店铺，已签协议"', 'e.g. --accept-risk "signed off by"'
            ),
        )
    check = check_request(workspace, request, today=today)  # before the lock: the engine is slow
    check.accepted_risk = reason if check.risky else None
    if dry_run:
        check.dry_run = True
        return check
    if check.refused:
        return check
    with workspace.db.write("grants request") as conn:
        row, creator = _proposed_row(conn, request, today)  # as it stands under the lock
        check.excluded = pool_exclusion(conn, row["merchant_id"], row["aweme_id"])
        check.accepted_risk = reason if check.risky else None
        if check.refused:  # excluded since it was judged
            return check
        grant_id = _next_grant_id(conn, today)
        values = {**row, "grant_id": grant_id}
        if check.accepted_risk:
            rules = ", ".join(check.risks())
            values["note"] = tr(
                f"已接受风险（{rules}）：{check.accepted_risk}",
                f"risk accepted ({rules}): {check.accepted_risk}",
            )
        values = {k: _iso(v) for k, v in values.items()}
        now = _now().isoformat()
        values.update(created_at=now, updated_at=now)
        change = Change("grants", {"grant_id": grant_id}, None, values)
        _write(conn, change, change.after)
        code = (request.code or "").strip()
        changes = [change]
        if code and code != (creator.get("cooperation_code") or "").strip():
            changes.append(_new_code(conn, creator["aweme_id"], code))
        outcome = Outcome(
            "grant:request",
            "grant:request",
            "grant",
            grant_id,
            request.merchant_id,
            changes=changes,
            note=check.accepted_risk,
        )
        result = {
            "status": values["status"],
            "accepted_risk": (
                {
                    "reason": check.accepted_risk,
                    "rules": [v.rule for v in check.gates],
                    "excluded": bool(check.excluded),
                }
                if check.accepted_risk
                else None
            ),
            "cooperation_code": mask_code(code) if code else None,
            "todo": [v.rule for v in check.todo],
        }
        audit_id = _audit(conn, outcome, actor or default_actor(), None, result=result)
    check.grant = {**check.grant, **row, "grant_id": grant_id}
    check.steps = _steps(check.grant, creator, check.code_masked)
    check.confirmation = _confirmation(grant_id)
    check.agreement = _agreement(grant_id)
    check.written = True
    check.audit_id = audit_id
    return check


__all__ = [
    "CheckSession",
    "GrantRequest",
    "RequestCheck",
    "RuleVerdict",
    "Step",
    "_agreement",
    "_choice",
    "_confirmation",
    "_did_you_mean",
    "_evaluate_proposal",
    "_iso",
    "_judged",
    "_new_code",
    "_next_grant_id",
    "_one",
    "_proposed_row",
    "_require_creator",
    "_require_merchant",
    "_steps",
    "check_code",
    "check_request",
    "request_grant",
]
