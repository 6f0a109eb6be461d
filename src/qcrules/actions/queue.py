"""The action queue: suggested actions of the last stored run, applied, dismissed, held
and undone — each change written with its before and after in the audit log.

A queue item is a stored finding with a suggested action, named by its fingerprint (any
unique prefix of 4 or more characters). Its state: `open`; `applied` (an apply recorded
after the run started: a later run that still finds it reopens it, since the change should
have made it go away); `dismissed` (kept across runs, like a dismissed code-scanning alert,
until undone); `held` (the entity is on hold); `superseded` (a higher-priority action won).
What applying does is rule-catalog.md § Actions; every change is shown before it is made
(`preview`), and `undo` restores the rows as they were.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select

from qcrules.actions.changes import (
    _jsonable,
    _pool,
    _read,
    _write,
    changes_for,
)
from qcrules.actions.items import (
    MIN_REF,
    POOL_WORDS,
    STATE_WORDS,
    Change,
    LogEntry,
    Outcome,
    QueueItem,
    _masked,
    _now,
    default_actor,
)
from qcrules.errors import UsageError
from qcrules.findings import Subject
from qcrules.i18n import tr
from qcrules.model.db import table
from qcrules.model.tables import (
    AuditEntry,
    Creator,
    Finding,
    Grant,
    Hold,
    Merchant,
)
from qcrules.safety import mask_credentials, secret_values
from qcrules.workspace import Workspace

if TYPE_CHECKING:
    from qcrules.runs import RunRecord

# --------------------------------------------------------------------------------------------
# reading the queue


def last_run(workspace: Workspace) -> RunRecord | None:
    from qcrules.runs import recent_runs

    runs = recent_runs(workspace, limit=1)
    return runs[0] if runs else None


def _undone_ids(conn) -> set[int]:
    audit = table(AuditEntry)
    return {r for (r,) in conn.execute(select(audit.c.undoes).where(audit.c.undoes.is_not(None)))}


def action_queue(workspace: Workspace, *, today: date | None = None) -> list[QueueItem]:
    """Every suggested action of the last stored run, each with its state."""
    run = last_run(workspace)
    if run is None:
        raise UsageError(
            tr("还没有保存的评估结果", "no evaluation run is stored yet"),
            hint=tr(
                "先运行 qcrules evaluate（不要加 --no-store）",
                "run qcrules evaluate first (without --no-store)",
            ),
        )
    today = today or date.today()
    findings, holds, audit = table(Finding), table(Hold), table(AuditEntry)
    started = run.started_at
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    with workspace.db.connect() as conn:
        rows = list(
            conn.execute(
                select(findings)
                .where(findings.c.run_id == run.id, findings.c.action_kind.is_not(None))
                .order_by(findings.c.id)
            ).mappings()
        )
        held = {
            (r["entity_type"], r["entity_id"], r["merchant_id"] or None)
            for r in conn.execute(select(holds)).mappings()
            if r["until"] is None or r["until"] >= today
        }
        undone = _undone_ids(conn)
        handled: dict[str, str] = {}
        for entry in conn.execute(
            select(audit).where(audit.c.fingerprint.is_not(None)).order_by(audit.c.id)
        ).mappings():
            if entry["id"] in undone or entry["undoes"] is not None:
                continue
            at = entry["at"] if entry["at"].tzinfo else entry["at"].replace(tzinfo=UTC)
            if entry["kind"] == "dismiss":
                handled[entry["fingerprint"]] = "dismissed"
            elif entry["kind"].startswith("apply:") and at >= started:
                handled[entry["fingerprint"]] = "applied"
    items = []
    for row in rows:
        if row["status"] == "waived":
            continue
        state = handled.get(row["fingerprint"], "open")
        if row["status"] == "superseded":
            state = "superseded"
        elif {
            (row["entity_type"], row["entity_id"], row["merchant_id"] or None),
            (row["entity_type"], row["entity_id"], None),  # a hold without a merchant
        } & held:
            state = "held" if state == "open" else state
        items.append(
            QueueItem(
                fingerprint=row["fingerprint"],
                run_id=row["run_id"],
                rule=row["rule"],
                name=row["name"],
                pack=row["pack"],
                level=row["level"],
                entity_type=row["entity_type"],
                entity_id=row["entity_id"],
                merchant_id=row["merchant_id"],
                aweme_id=row["aweme_id"],
                message=row["message"],
                kind=row["action_kind"],
                params=row["action_params"] or {},
                evidence=row["evidence"] or {},
                source=row["source"],
                state=state,
            )
        )
    return items


def find_item(workspace: Workspace, ref: str) -> QueueItem:
    """The queue item a fingerprint prefix names; a clear error when none or several do."""
    return _match(action_queue(workspace), ref)


def _match(queue: list[QueueItem], ref: str) -> QueueItem:
    ref = ref.strip().lower()
    if len(ref) < MIN_REF:
        raise UsageError(
            tr(f"动作编号 {ref!r} 太短", f"action id {ref!r} is too short"),
            hint=tr(
                f"至少写 {MIN_REF} 位；qcrules actions list 列出编号",
                f"give at least {MIN_REF} characters; qcrules actions list shows them",
            ),
        )
    items = [i for i in queue if i.fingerprint.startswith(ref)]
    if not items:
        raise UsageError(
            tr(f"最近一次评估里没有动作 {ref}", f"no action {ref} in the last stored run"),
            hint=tr(
                "qcrules actions list --all 列出全部动作", "qcrules actions list --all shows them"
            ),
        )
    if len({i.fingerprint for i in items}) > 1:
        refs = ", ".join(sorted(i.ref for i in items)[:5])
        raise UsageError(
            tr(f"动作编号 {ref} 不唯一：{refs}", f"action id {ref} is ambiguous: {refs}"),
            hint=tr("多写几位", "give more characters"),
        )
    return items[0]


# --------------------------------------------------------------------------------------------
# applying, dismissing, holding, undoing


def _audit(
    conn, outcome: Outcome, actor: str, fingerprint: str | None, undoes=None, result: Any = None
) -> int:
    audit = table(AuditEntry)
    result_value = outcome.result if result is None else result
    inserted = conn.execute(
        insert(audit).values(
            at=_now(),
            actor=actor,
            kind=outcome.verb if outcome.verb != "apply" else f"apply:{outcome.kind}",
            entity_type=outcome.entity_type,
            entity_id=outcome.entity_id,
            merchant_id=outcome.merchant_id,
            before={"changes": [c.to_json(masked=False) for c in outcome.changes]},
            after={"result": result_value} if result_value is not None else None,
            note=outcome.note,
            fingerprint=fingerprint,
            undoes=undoes,
        )
    )
    return int(inserted.inserted_primary_key[0])


def _require_open(item: QueueItem, verb: str) -> None:
    if item.state != "open":
        raise UsageError(
            tr(
                f"动作 {item.ref}（{item.rule} {item.entity_id}）"
                f"{STATE_WORDS.get(item.state, item.state)}，不能{verb}",
                f"action {item.ref} ({item.rule} {item.entity_id}) is {item.state}; "
                f"it cannot be {verb}",
            ),
            hint=tr(
                "qcrules actions undo 可撤销上一次操作",
                "qcrules actions undo takes back the last change",
            ),
        )


def apply_action(
    workspace: Workspace,
    ref: str,
    *,
    actor: str | None = None,
    note: str | None = None,
    dry_run: bool = False,
    handlers: dict[str, Any] | None = None,
    today: date | None = None,
) -> Outcome:
    """Carry out a suggested action: its record changes, or a plugin's handler, or (for a
    person's task) the record that it was done — and the audit entry, in one transaction.

    The transaction holds the workspace's write lock from the state check to the commit, so
    of two people applying the same action one succeeds and the other is told it is applied.
    A document the action writes (an agreement) is written only once the change committed.
    """
    return apply_actions(
        workspace, [ref], actor=actor, note=note, dry_run=dry_run, handlers=handlers, today=today
    )[0]


def apply_actions(
    workspace: Workspace,
    refs: list[str],
    *,
    actor: str | None = None,
    note: str | None = None,
    dry_run: bool = False,
    handlers: dict[str, Any] | None = None,
    today: date | None = None,
) -> list[Outcome]:
    """Apply several actions all or nothing: one transaction under the write lock, so a
    bulk apply that meets an action someone else already handled changes nothing."""
    today = today or date.today()
    if dry_run:
        with workspace.db.begin() as conn:
            items = resolve_items(workspace, refs)
            return [
                _apply_in(workspace, conn, item, actor, note, True, handlers, today)
                for item in items
            ]
    with workspace.db.write("actions apply") as conn:
        items = resolve_items(workspace, refs)  # read under the lock: the states are current
        outcomes = [
            _apply_in(workspace, conn, item, actor, note, False, handlers, today) for item in items
        ]
    for outcome in outcomes:
        if not isinstance(outcome.result, _Document):
            continue
        try:
            outcome.result = outcome.result.write()
        except OSError as exc:
            raise UsageError(
                tr(
                    f"已记录（审计 {outcome.audit_id}），但无法写入协议文件：{exc}",
                    f"recorded (audit {outcome.audit_id}), but the agreement could not be "
                    f"written: {exc}",
                ),
                hint=tr(
                    f"修好后用 qcrules agreement {outcome.entity_id} 重新生成",
                    f"fix it, then make it with qcrules agreement {outcome.entity_id}",
                ),
            ) from exc
    return outcomes


def select_items(
    queue: list[QueueItem],
    *,
    rule: str | None = None,
    kind: str | None = None,
    merchant: str | None = None,
    level: str | None = None,
    text: str | None = None,
    state: str | None = "open",
) -> list[QueueItem]:
    """Queue items matching every filter given; `level` keeps that level and above, `text`
    searches as `QueueItem.matches` does."""
    from qcrules.packs.model import LEVEL_RANK, matches_code

    floor = None
    if level is not None:
        if level not in LEVEL_RANK:
            raise UsageError(
                tr(f"未知级别 {level!r}", f"unknown level {level!r}"),
                hint=tr("可选：", "one of: ") + ", ".join(LEVEL_RANK),
            )
        floor = LEVEL_RANK[level]
    chosen = []
    for item in queue:
        if state is not None and item.state != state:
            continue
        if rule is not None and not matches_code(item.rule.upper(), [rule.upper()]):
            continue
        if kind is not None and item.kind != kind:
            continue
        if merchant is not None and item.merchant_id != merchant:
            continue
        if floor is not None and LEVEL_RANK.get(item.level, -1) < floor:
            continue
        if not item.matches(text or ""):
            continue
        chosen.append(item)
    return chosen


def resolve_items(workspace: Workspace, refs: list[str]) -> list[QueueItem]:
    """The queue items that action ids name, read once, in the order given (each once)."""
    queue = action_queue(workspace)
    items: dict[str, QueueItem] = {}
    for ref in refs:
        item = _match(queue, ref)
        items.setdefault(item.fingerprint, item)
    return list(items.values())


def _apply_in(
    workspace: Workspace,
    conn,
    item: QueueItem,
    actor: str | None,
    note: str | None,
    dry_run: bool,
    handlers: dict[str, Any] | None,
    today: date,
) -> Outcome:
    _require_open(item, tr("执行", "applied"))
    outcome = Outcome(
        "apply", item.kind, item.entity_type, item.entity_id, item.merchant_id, note=note
    )
    outcome.dry_run = dry_run
    kind = (handlers or {}).get(item.kind)
    outcome.changes, outcome.steps = changes_for(conn, item, today)
    if kind is not None and getattr(kind, "handler", None) is not None:
        action = {"kind": item.kind, "params": item.params, "finding": item.to_json()}
        context = {
            "db": workspace.db,
            "conn": conn,  # the action's own transaction: write here, not through "db"
            "config": workspace.config.plugins,
            "dry_run": dry_run,
        }
        try:
            result = kind.handler(action, context)
        except Exception as exc:
            raise UsageError(
                tr(
                    f"动作 {item.kind} 执行失败：{exc}",
                    f"the {item.kind} action failed: {exc}",
                ),
                hint=tr(
                    f"它来自插件 {kind.origin}；什么都没有改变",
                    f"it comes from the plugin {kind.origin}; nothing was changed",
                ),
            ) from exc
        # shown and audited: a token the plugin handed back unmasked is masked here
        outcome.result = mask_credentials(result, secret_values(workspace.config.plugins))
    if item.kind == "prepare_agreement" and item.entity_type == "grant":
        outcome.result = _prepare_agreement(workspace, item.entity_id, dry_run, today)
    if dry_run:
        return outcome
    for change in outcome.changes:
        _write(conn, change, change.after)
    audit_result = outcome.result
    if isinstance(audit_result, _Document):
        audit_result = audit_result.to_json()
    outcome.audit_id = _audit(
        conn, outcome, actor or default_actor(), item.fingerprint, result=audit_result
    )
    return outcome


@dataclass
class _Document:
    """A file an apply writes once its change has committed (never for a rolled-back one)."""

    path: Any
    text: str

    def to_json(self) -> dict:
        return {"document": str(self.path)}

    def write(self) -> dict:
        self.path.parent.mkdir(exist_ok=True)
        self.path.write_text(self.text, encoding="utf-8")
        return self.to_json()


def _prepare_agreement(workspace: Workspace, grant_id: str, dry_run: bool, today: date):
    from qcrules.actions.agreement import agreement_path, render_agreement

    agreement = render_agreement(workspace, grant_id, today=today)  # it can be rendered
    path = agreement_path(workspace, grant_id)
    if dry_run:
        return {"document": str(path)}
    return _Document(path, agreement.text)


def dismiss_action(
    workspace: Workspace, ref: str, reason: str, *, actor: str | None = None
) -> Outcome:
    """Set a suggested action aside, with the reason; it stays dismissed until undone."""
    if not reason or not reason.strip():
        raise UsageError(
            tr("忽略动作需要写明原因", "dismissing an action needs a reason"),
            hint=tr("用 --reason 写明原因", "give one with --reason"),
        )
    with workspace.db.write("actions dismiss") as conn:
        item = find_item(workspace, ref)  # the state checked under the write lock
        _require_open(item, tr("忽略", "dismissed"))
        outcome = Outcome(
            "dismiss", item.kind, item.entity_type, item.entity_id, item.merchant_id, note=reason
        )
        outcome.audit_id = _audit(conn, outcome, actor or default_actor(), item.fingerprint)
    return outcome


def find_entity(workspace: Workspace, entity_id: str, entity_type: str | None) -> str:
    """The type of the record called `entity_id` (grant, creator or merchant)."""
    models = {
        "grant": (Grant, "grant_id"),
        "creator": (Creator, "aweme_id"),
        "merchant": (Merchant, "merchant_id"),
    }
    wanted = [entity_type] if entity_type else list(models)
    found = []
    with workspace.db.connect() as conn:
        for name in wanted:
            model, column = models[name]
            tbl = table(model)
            if conn.execute(select(tbl.c[column]).where(tbl.c[column] == entity_id)).first():
                found.append(name)
    if not found:
        raise UsageError(
            tr(f"没有找到 {entity_id}", f"no grant, creator or merchant is called {entity_id}")
            if not entity_type
            else tr(f"没有{entity_type} {entity_id}", f"there is no {entity_type} {entity_id}"),
            hint=tr(
                "写授权ID、达人抖音号或商家ID，或动作编号",
                "give a grant id, a creator's aweme_id, a merchant id or an action id",
            ),
        )
    if len(found) > 1:
        raise UsageError(
            tr(
                f"{entity_id} 同时是 {'、'.join(found)}",
                f"{entity_id} is a {' and a '.join(found)}",
            ),
            hint=tr("用 --type 指明", "say which with --type"),
        )
    return found[0]


def hold_entity(
    workspace: Workspace,
    entity_type: str,
    entity_id: str,
    reason: str,
    *,
    merchant_id: str | None = None,
    until: date | None = None,
    actor: str | None = None,
    today: date | None = None,
) -> Outcome:
    """Put an entity on hold: it keeps its findings but gets no actions."""
    if not reason or not reason.strip():
        raise UsageError(
            tr("暂停需要写明原因", "a hold needs a reason"),
            hint=tr("用 --reason 写明原因", "give one with --reason"),
        )
    today = today or date.today()
    if until is not None and until < today:  # it would end before it began: no hold at all
        raise UsageError(
            tr(
                f"暂停截止日 {until} 已经过去（今天 {today}）",
                f"the hold would end on {until}, which is already past (today is {today})",
            ),
            hint=tr(
                "给今天或以后的日期，或不给截止日（直到解除）",
                "give today or a later day, or no end (held until released)",
            ),
        )
    key = {"entity_type": entity_type, "entity_id": entity_id, "merchant_id": merchant_id or ""}
    outcome = Outcome("hold", "hold", entity_type, entity_id, merchant_id, note=reason)
    with workspace.db.write("actions hold") as conn:
        before = _read(conn, "holds", key)
        after = {
            **key,
            "reason": reason,
            "until": until.isoformat() if until else None,
            "created_at": _now().isoformat(),
        }
        outcome.changes = [Change("holds", key, before, after)]
        _write(conn, outcome.changes[0], after)
        outcome.audit_id = _audit(conn, outcome, actor or default_actor(), None)
    return outcome


POOL_STATUSES = ("candidate", "in_pool", "excluded")


def set_pool_status(
    workspace: Workspace,
    merchant_id: str,
    aweme_id: str,
    status: str,
    *,
    note: str | None = None,
    actor: str | None = None,
    today: date | None = None,
) -> Outcome:
    """Put a creator in, out of, or excluded from a merchant's pool (达人池) by hand —
    audited and undoable like an applied action."""
    if status not in POOL_STATUSES:
        raise UsageError(
            tr(f"池状态 {status!r} 不存在", f"{status!r} is not a pool status"),
            hint=tr("可用：", "use one of: ") + ", ".join(POOL_STATUSES),
        )
    item = QueueItem(
        "", "", "", "", "", "", "creator", aweme_id, merchant_id, aweme_id, "", "", {}, {}, None
    )
    outcome = Outcome("apply", f"pool:{status}", "creator", aweme_id, merchant_id, note=note)
    with workspace.db.write("pool change") as conn:
        creators = table(Creator)
        if (
            conn.execute(select(creators.c.aweme_id).where(creators.c.aweme_id == aweme_id)).first()
            is None
        ):
            raise UsageError(
                tr(f"没有达人 {aweme_id}", f"there is no creator {aweme_id}"),
                hint=tr("写达人UID（aweme_id）", "give the creator's aweme_id"),
            )
        change = _pool(conn, item, status, today or date.today())
        if change.before is not None and change.before.get("status") == status:
            raise UsageError(
                tr(
                    f"达人 {aweme_id} 在池中已是「{POOL_WORDS.get(status, status)}」",
                    f"creator {aweme_id} is already {status}",
                ),
                hint=tr("无需改动", "nothing to change"),
            )
        outcome.changes = [change]
        _write(conn, change, change.after)
        outcome.audit_id = _audit(conn, outcome, actor or default_actor(), None)
    return outcome


def undo(
    workspace: Workspace,
    audit_id: int | None = None,
    *,
    actor: str | None = None,
    note: str | None = None,
) -> Outcome:
    """Take back a change (`audit_id`, or the actor's own latest one — never a colleague's
    by default: two operators at once each take back their own): every row it changed is
    put back as it was, and the undo is itself in the audit log."""
    audit = table(AuditEntry)
    me = actor or default_actor()
    with workspace.db.write("actions undo") as conn:
        undone = _undone_ids(conn)
        query = select(audit).where(audit.c.undoes.is_(None)).order_by(audit.c.id.desc())
        if audit_id is not None:
            query = select(audit).where(audit.c.id == audit_id)
        entry = None
        theirs = None  # the latest undoable change, when someone else made it
        for row in conn.execute(query).mappings():
            if row["id"] not in undone and (audit_id is not None or row["actor"] == me):
                entry = row
                break
            if row["id"] not in undone and theirs is None:
                theirs = row
            if audit_id is not None:
                raise UsageError(
                    tr(f"操作 {audit_id} 已被撤销", f"change {audit_id} was already undone"),
                    hint=tr("qcrules actions log 列出操作", "qcrules actions log shows the log"),
                )
        if entry is None and theirs is not None:
            raise UsageError(
                tr(
                    f"{me} 没有可撤销的操作；最近的操作 #{theirs['id']} 是 {theirs['actor']} 做的",
                    f"{me} has nothing to undo; the latest change, #{theirs['id']}, was made "
                    f"by {theirs['actor']}",
                ),
                hint=tr(
                    f"确认要撤销别人的操作：qcrules actions undo {theirs['id']}",
                    f"to take back someone else's change, name it: "
                    f"qcrules actions undo {theirs['id']}",
                ),
            )
        if entry is None or entry["undoes"] is not None:
            raise UsageError(
                tr("没有可撤销的操作", "there is nothing to undo")
                if audit_id is None
                else tr(f"没有操作 {audit_id}", f"there is no change {audit_id}")
                if entry is None
                else tr(
                    f"操作 {audit_id} 本身是撤销（撤销了 #{entry['undoes']}）：不能再撤销",
                    f"change {audit_id} is itself an undo (of #{entry['undoes']}); "
                    "it cannot be undone",
                ),
                hint=tr("qcrules actions log 列出操作", "qcrules actions log shows the log"),
            )
        changes = [
            Change(c["table"], c["key"], c["after"], c["before"])
            for c in (entry["before"] or {}).get("changes", [])
            if not c.get("kept_on_undo")
        ]
        for change in reversed(changes):  # each row back to what it was
            current = _read(conn, change.table, change.key)
            if _touched(current, change) != _touched(change.before, change):
                row = ", ".join(str(v) for v in change.key.values() if v)
                raise UsageError(
                    tr(
                        f"{change.table} {row} 在此后又被改过，不能撤销",
                        f"{change.table} {row} changed again since; it cannot be undone",
                    ),
                    hint=tr(
                        "先撤销后来的操作；若是导入改的，这次改动只能手工改回",
                        "undo the later changes first; one an import made can only be changed "
                        "back by hand",
                    ),
                )
            _write(conn, change, change.after)
        outcome = Outcome(
            "undo",
            entry["kind"],
            entry["entity_type"],
            entry["entity_id"],
            entry["merchant_id"],
            changes=changes,
            note=note or entry["note"],
        )
        outcome.audit_id = _audit(
            conn, outcome, actor or default_actor(), entry["fingerprint"], undoes=entry["id"]
        )
    return outcome


def _touched(row: dict[str, Any] | None, change: Change) -> dict[str, Any] | None:
    """`row` on the columns `change` changes: an undo refuses only when one of those changed
    again since (an import's other columns may have, and keep their values)."""
    now, then = _comparable(change.before), _comparable(change.after)
    if now is None or then is None:
        return _comparable(row)
    columns = {k for k in now.keys() | then.keys() if now.get(k) != then.get(k)}
    shown = _comparable(row)
    return None if shown is None else {k: shown.get(k) for k in columns}


def _comparable(row: dict[str, Any] | None) -> dict[str, Any] | None:
    """A row without its timestamps' precision and type noise (for undo's safety check)."""
    if row is None:
        return None
    return {
        k: str(v) for k, v in row.items() if v is not None and k not in ("updated_at", "created_at")
    }


def audit_log(
    workspace: Workspace, limit: int = 50, *, undoable_only: bool = False
) -> list[LogEntry]:
    """The latest audit entries, newest first; `undoable_only`: only those `undo` would
    take back (neither an undo nor undone), however far back they lie."""
    audit = table(AuditEntry)
    with workspace.db.connect() as conn:
        undone = _undone_ids(conn)
        query = select(audit).order_by(audit.c.id.desc())
        if undoable_only:
            undoes = select(audit.c.undoes).where(audit.c.undoes.is_not(None))
            query = query.where(audit.c.undoes.is_(None), audit.c.id.not_in(undoes))
        rows = conn.execute(query.limit(limit)).mappings()
        return [
            LogEntry(
                r["id"],
                _jsonable(r["at"]),
                r["actor"],
                r["kind"],
                Subject(r["entity_type"], r["entity_id"], r["merchant_id"]),
                r["note"],
                r["fingerprint"],
                r["undoes"],
                r["id"] in undone,
                [
                    {**c, "before": _masked(c.get("before")), "after": _masked(c.get("after"))}
                    for c in (r["before"] or {}).get("changes", [])
                ],
            )
            for r in rows
        ]
