"""What the action queue holds and what acting on it produces: a queue item (a finding's
suggested action with its state), a record change (before and after, secrets masked), the
outcome of an action; and who acts, when."""

from __future__ import annotations

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
        name = ", ".join(f"{v}" for v in self.key.values())
        shown = self.to_json()  # credentials masked
        before, after = shown["before"], shown["after"]
        if before is None:
            shown = ", ".join(f"{k}={v}" for k, v in (after or {}).items() if v is not None)
            return tr(f"新增 {self.table} {name}：{shown}", f"add {self.table} {name}: {shown}")
        if after is None:
            return tr(f"删除 {self.table} {name}", f"delete {self.table} {name}")
        diffs = [
            f"{k}: {before.get(k)} → {v}"
            for k, v in after.items()
            if before.get(k) != v and k != "updated_at"
        ]
        return f"{self.table} {name}: " + "; ".join(diffs)

    def to_json(self, *, masked: bool = True) -> dict[str, Any]:
        """As shown (credentials masked) or, for the audit log that undo reads, as it is."""
        before, after = self.before, self.after
        if masked:
            before, after = _masked(before), _masked(after)
        out = {"table": self.table, "key": self.key, "before": before, "after": after}
        if self.kept_on_undo:
            out["kept_on_undo"] = True
        return out


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
