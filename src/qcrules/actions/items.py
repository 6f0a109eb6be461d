"""What the action queue holds and what acting on it produces: a queue item (a finding's
suggested action with its state), a record change (before and after, secrets masked), the
outcome of an action; and who acts, when."""

from __future__ import annotations

import functools
import getpass
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from qcrules.actions.kinds import steps_for
from qcrules.findings import Action, Finding, Subject
from qcrules.i18n import language, tr
from qcrules.safety import mask_secret

MIN_REF = 4
SAFE_GRANT_DAYS = 30  # the guide's safe default: 15 or 30 days, never permanent
STATES = ("open", "applied", "dismissed", "held", "superseded")
STATE_WORDS = {  # a queue item's state as a zh message names it (en: the state itself)
    "open": "待处理",
    "applied": "已执行",
    "dismissed": "已忽略",
    "held": "暂停中",
    "superseded": "被取代",
}
POOL_WORDS = {"candidate": "候选", "in_pool": "已入池", "excluded": "已排除"}


@dataclass(slots=True)
class LogEntry:
    """One audit log entry: who changed what, when, with the record changes (secrets masked);
    `undoes` names the entry it took back, `undone` says a later one took it back."""

    id: int
    at: str
    actor: str
    kind: str  # "apply:revoke_grant", "dismiss", "hold", "undo", "grant:request", …
    entity: Subject
    note: str | None
    fingerprint: str | None
    undoes: int | None
    undone: bool
    changes: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        """The entry of `qcrules actions log --format json`."""
        return {
            "id": self.id,
            "at": self.at,
            "actor": self.actor,
            "kind": self.kind,
            "entity": {
                "type": self.entity.type,
                "id": self.entity.id,
                "merchant": self.entity.merchant,
            },
            "note": self.note,
            "fingerprint": self.fingerprint,
            "undoes": self.undoes,
            "undone": self.undone,
            "changes": self.changes,
        }


@dataclass
class QueueItem:
    fingerprint: str
    run_id: str
    rule: str
    name: str
    pack: str
    level: str
    entity_type: str
    entity_id: str
    merchant_id: str | None
    aweme_id: str | None
    message: str
    kind: str
    params: dict[str, Any]
    evidence: dict[str, Any]
    source: str | None
    state: str = "open"

    @property
    def ref(self) -> str:
        return self.fingerprint[:10]

    @property
    def state_text(self) -> str:
        """The state as a table shows it: Chinese in zh (JSON keeps the state itself)."""
        return tr(STATE_WORDS.get(self.state, self.state), self.state)

    @property
    def finding(self) -> Finding:
        """The finding this item suggests acting on (what the TUI's acting keys take)."""
        return Finding(
            self.rule,
            self.name,
            self.pack,
            self.level,
            Subject(self.entity_type, self.entity_id, self.merchant_id, self.aweme_id),
            self.message,
            Action(self.kind, dict(self.params), steps_for(self.kind, language())),
            self.evidence,
            self.fingerprint,
            self.source,
        )

    def matches(self, text: str, *also: str) -> bool:
        """A case-insensitive search of what an operator knows the item by (its rule, entity,
        creator, merchant, action and message, plus `also`): the CLI's `--match` and the
        Actions tab's filter find the same items."""
        needle = text.strip().casefold()
        if not needle:
            return True
        known = (self.ref, self.rule, self.name, self.entity_id, self.aweme_id)
        known += (self.merchant_id, self.kind, self.message, *also)
        return needle in " ".join(str(part or "") for part in known).casefold()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.ref,
            "fingerprint": self.fingerprint,
            "state": self.state,
            "rule": self.rule,
            "name": self.name,
            "pack": self.pack,
            "level": self.level,
            "entity": {
                "type": self.entity_type,
                "id": self.entity_id,
                "merchant": self.merchant_id,
                "creator": self.aweme_id,
            },
            "action": {
                "kind": self.kind,
                "params": self.params,
                **({"steps": steps} if (steps := steps_for(self.kind, language())) else {}),
            },
            "message": self.message,
            "evidence": self.evidence,
            "source": self.source,
            "run": self.run_id,
        }


@dataclass
class Change:
    """One row as it was and as it will be (None: absent)."""

    table: str
    key: dict[str, Any]
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    # in the audit log, but not taken back by undo (a creator's new 合作码: its current one)
    kept_on_undo: bool = False

    def describe(self) -> str:
        """One line an operator reads: in zh with the table's, columns' and states' names
        as the exports and the TUI give them (授权 … 状态：已申请 → 生效中)."""
        shown = self.to_json()  # credentials masked
        before, after = shown["before"], shown["after"]
        zh = language() == "zh"
        table = _zh_table(self.table) if zh else self.table
        column = functools.partial(_zh_column, self.table) if zh else str
        value = functools.partial(_zh_value, self.table) if zh else (lambda _column, v: v)
        name = tr(" ", ", ").join(f"{value(k, v)}" for k, v in self.key.items())
        if before is None:  # what the key and the clock already say is left out
            shown = tr("，", ", ").join(
                f"{column(k)}={value(k, v)}"
                for k, v in (after or {}).items()
                if v is not None and k not in self.key and k not in _STAMPS
            )
            return tr(f"新增{table} {name}：{shown}", f"add {table} {name}: {shown}")
        if after is None:
            return tr(f"删除{table} {name}", f"delete {table} {name}")
        diffs = [
            tr(
                f"{column(k)}：{value(k, before.get(k))} → {value(k, v)}",
                f"{k}: {before.get(k)} → {v}",
            )
            for k, v in after.items()
            if before.get(k) != v and k != "updated_at"
        ]
        return tr(f"{table} {name}：", f"{table} {name}: ") + tr("；", "; ").join(diffs)

    def to_json(self, *, masked: bool = True) -> dict[str, Any]:
        """As shown (credentials masked) or, for the audit log that undo reads, as it is."""
        before, after = self.before, self.after
        if masked:
            before, after = _masked(before), _masked(after)
        out = {"table": self.table, "key": self.key, "before": before, "after": after}
        if self.kept_on_undo:
            out["kept_on_undo"] = True
        return out


_STAMPS = ("created_at", "updated_at")
_ZH_TABLE = {"grants": "授权", "creators": "达人", "pool": "达人池", "merchants": "商家"}
_ZH_TABLE.update(holds="暂停")
_ZH_COLUMN = {"updated_at": "更新时间", "until": "截止日期", "reason": "原因", "note": "备注"}


def _zh_table(table: str) -> str:
    return _ZH_TABLE.get(table, table)


def _zh_column(table: str, column: str) -> str:
    """A column by the first header an export gives it (ingest's aliases), else its name."""
    from qcrules.ingest.columns import KINDS

    kind = next((k for k in KINDS.values() if k.table == table), None)
    found = kind.by_name.get(column) if kind else None
    if found is not None and found.aliases:
        return found.aliases[0]
    return _ZH_COLUMN.get(column, column)


_ZH_POOL = {"in_pool": ("已入池",), "candidate": ("候选",), "excluded": ("已排除",)}


def _zh_value(table: str, column: str, value: Any) -> Any:
    from qcrules.grants.vocab import AUTH_LABEL, CHANNEL_LABEL, SCOPE_LABEL, STATUS_LABEL

    if value is None:
        return "空"
    if isinstance(value, bool):
        return "是" if value else "否"
    vocab: dict[str, dict] = {"status": STATUS_LABEL}
    vocab.update(auth_type=AUTH_LABEL, scope=SCOPE_LABEL, channel=CHANNEL_LABEL)
    vocab.update(entity_type={"grant": ("授权",), "creator": ("达人",), "merchant": ("商家",)})
    labels = _ZH_POOL if table == "pool" and column == "status" else vocab.get(column, {})
    label = labels.get(value) if isinstance(value, str) else None
    return label[0] if label else value


POOL_ACT_LABEL = {
    "in_pool": ("加入达人池", "add to the pool"),
    "candidate": ("移出达人池", "remove from the pool"),
    "excluded": ("排除出达人池", "exclude from the pool"),
}
VERB_LABEL = {
    "hold": ("暂停", "hold"),
    "dismiss": ("忽略", "dismiss"),
    "undo": ("撤销", "undo"),
    "apply": ("执行", "apply"),
}


def audit_kind_label(kinds: dict[str, Any], kind: str) -> str:
    """An audit entry's kind as the operator says it, for the CLI and the TUI alike
    ("hold", "apply:pool:excluded", "grant:approved" → 暂停, 排除出达人池, 授权标记为已通过).
    `kinds`: the action kinds known (the plugins' included), for their names."""
    from qcrules.grants.vocab import STATUS_LABEL, label

    verb, _, rest = kind.partition(":")
    if verb == "apply" and rest.startswith("pool:"):
        return label(POOL_ACT_LABEL, rest.removeprefix("pool:"))
    if verb == "apply":
        known = kinds.get(rest)
        return tr(known.zh, known.en) if known is not None else rest
    if verb == "grant" and rest == "request":
        return tr("发起授权", "request a grant")
    if verb == "grant" and rest == "signed":
        return tr("记录协议已签", "record the agreement signed")
    if verb == "grant":
        return tr(f"授权标记为{label(STATUS_LABEL, rest)}", f"mark the grant {rest}")
    return label(VERB_LABEL, verb) if verb in VERB_LABEL else kind


SECRET_COLUMNS = ("cooperation_code",)  # shown by their last 4 characters only


def _masked(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None or not any(row.get(c) for c in SECRET_COLUMNS):
        return row
    return {k: mask_secret(v) if k in SECRET_COLUMNS and v else v for k, v in row.items()}


@dataclass
class Outcome:
    """What an apply, dismiss, hold or undo did (or, with dry_run, would do)."""

    verb: str  # apply | dismiss | hold | undo
    kind: str
    entity_type: str
    entity_id: str
    merchant_id: str | None
    changes: list[Change] = field(default_factory=list)
    note: str | None = None
    result: Any = None  # what a plugin's handler returned
    audit_id: int | None = None
    dry_run: bool = False
    steps: str | None = None  # what to do by hand in the 千川 backend

    def to_json(self) -> dict[str, Any]:
        return {
            "verb": self.verb,
            "kind": self.kind,
            "entity": {
                "type": self.entity_type,
                "id": self.entity_id,
                "merchant": self.merchant_id,
            },
            "changes": [c.to_json() for c in self.changes],
            "note": self.note,
            "result": self.result,
            "audit_id": self.audit_id,
            "dry_run": self.dry_run,
            "steps": self.steps,
        }


def default_actor() -> str:
    return os.environ.get("QCRULES_ACTOR") or _login() or "qcrules"


def _login() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
