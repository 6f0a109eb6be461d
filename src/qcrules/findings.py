"""A finding, typed: what is wrong (rule, message), about whom (`Subject`), why (evidence),
where it comes from (source) and what to do (`Action`, None while the entity is on hold).

Evaluation, planning (waivers, holds, conflicts), run storage and backtests pass `Finding`s;
`to_json` is the one place the JSON shape of the README (`--format json`, `result.report`,
plugins' output formats) is written, and `from_json` the one place it is read back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any


@dataclass(slots=True)
class Subject:
    """The entity a finding is about: a grant, creator, merchant (or a waiver of the config)."""

    type: str
    id: str
    merchant: str | None = None
    creator: str | None = None  # the creator's aweme_id (grants and creators)
    name: str | None = None  # nickname, or the merchant's name
    handle: str | None = None  # the 抖音号 千川 search uses

    @property
    def key(self) -> tuple[str, str, str | None]:
        return self.type, self.id, self.merchant

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "id": self.id, "merchant": self.merchant}
        for name in ("creator", "name", "handle"):
            value = getattr(self, name)
            if value:
                out[name] = value
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Subject:
        return cls(
            data["type"],
            data["id"],
            data.get("merchant"),
            data.get("creator"),
            data.get("name"),
            data.get("handle"),
        )


@dataclass(slots=True)
class Action:
    """A suggested action: its kind, parameters and where to do it in 千川 (steps)."""

    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    steps: list[Any] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "params": dict(self.params)}
        if self.steps:
            out["steps"] = self.steps
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Action | None:
        if not data or data.get("kind") is None:
            return None
        return cls(data["kind"], dict(data.get("params") or {}), data.get("steps"))


@dataclass(slots=True)
class Finding:
    rule: str
    name: str
    pack: str
    level: str
    subject: Subject
    message: str
    action: Action | None
    evidence: dict[str, Any]
    fingerprint: str
    source: str | None
    superseded_by: str | None = None  # the rule whose action wins on the same entity
    hold: dict[str, Any] | None = None  # the entity's hold: findings stay, no action
    held_action: Action | None = None  # what the hold keeps back (the queue lists it held)

    def to_json(self) -> dict[str, Any]:
        out = {
            "rule": self.rule,
            "name": self.name,
            "pack": self.pack,
            "level": self.level,
            "entity": self.subject.to_json(),
            "message": self.message,
            "action": self.action.to_json() if self.action is not None else None,
            "evidence": self.evidence,
            "fingerprint": self.fingerprint,
            "source": self.source,
            "superseded_by": self.superseded_by,
        }
        if self.hold is not None:
            out["hold"] = self.hold
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Finding:
        return cls(
            data["rule"],
            data.get("name", ""),
            data.get("pack", ""),
            data["level"],
            Subject.from_json(data["entity"]),
            data.get("message", ""),
            Action.from_json(data.get("action")),
            dict(data.get("evidence") or {}),
            data["fingerprint"],
            data.get("source"),
            data.get("superseded_by"),
            data.get("hold"),
        )

    @classmethod
    def from_row(cls, row: Any, *, name: str | None = None) -> Finding:
        """A finding read back from the findings table (`name`: the entity's, looked up)."""
        superseded = "…" if row["status"] == "superseded" else None  # the winner is not kept
        action = (
            Action(row["action_kind"], dict(row["action_params"] or {}))
            if row["action_kind"]
            else None
        )
        held = row["status"] == "held"  # its action waits for the hold to end
        return cls(
            row["rule"],
            row["name"],
            row["pack"],
            row["level"],
            Subject(
                row["entity_type"], row["entity_id"], row["merchant_id"], row["aweme_id"], name
            ),
            row["message"],
            None if held else action,
            dict(row["evidence"] or {}),
            row["fingerprint"],
            row["source"],
            superseded,
            held_action=action if held else None,
        )

    def row(self, run_id: str) -> dict[str, Any]:
        """Its row of the findings table (a held finding keeps the action it holds back, so
        the queue still lists it, as held)."""
        stored = self.action if self.action is not None else self.held_action
        return {
            "run_id": run_id,
            "rule": self.rule,
            "name": self.name,
            "pack": self.pack,
            "level": self.level,
            "entity_type": self.subject.type,
            "entity_id": self.subject.id,
            "merchant_id": self.subject.merchant,
            "aweme_id": self.subject.creator,
            "message": self.message,
            "action_kind": stored.kind if stored is not None else None,
            "action_params": stored.params if stored is not None else None,
            "evidence": self.evidence,
            "fingerprint": self.fingerprint,
            "source": self.source,
            "status": "superseded"
            if self.superseded_by
            else "held"
            if self.hold is not None
            else "open",
        }


@dataclass(slots=True)
class Waived:
    """A finding a waiver of qcrules.toml holds back, with the waiver's reason and end."""

    finding: Finding
    reason: str
    expires: str

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.finding.rule,
            "entity": self.finding.subject.to_json(),
            "reason": self.reason,
            "expires": self.expires,
            "fingerprint": self.finding.fingerprint,
        }

    def row(self, run_id: str) -> dict[str, Any]:
        """Its row of the findings table (status waived, the reason as its message)."""
        subject = self.finding.subject
        return {
            "run_id": run_id,
            "rule": self.finding.rule,
            "name": "",
            "pack": "",
            "level": "info",
            "entity_type": subject.type,
            "entity_id": subject.id,
            "merchant_id": subject.merchant,
            "aweme_id": subject.creator,
            "message": self.reason,
            "action_kind": None,
            "action_params": None,
            "evidence": {"expires": self.expires},
            "fingerprint": self.finding.fingerprint,
            "source": None,
            "status": "waived",
        }


def utc_text(moment: datetime) -> str:
    """A run's start as reports give it: ISO 8601 to the second, in UTC, with "Z" (SQLite
    gives stored times back without a zone: they are UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(slots=True)
class RunInfo:
    """Which evaluation a report comes from: its id, as-of day, start, engine and packs."""

    id: str
    as_of: date
    started_at: str  # ISO 8601 in UTC, "…Z"
    duration_ms: int
    engine: str
    packs: list[Any]
    data_through: str | None = None  # the newest metric day up to as_of (fresh runs only)
    window_ends: dict[str, str] | None = None  # where each merchant's windows end (fresh runs)
    stored: bool = False  # read back from storage rather than evaluated now

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "as_of": self.as_of.isoformat(),
            "started_at": self.started_at,
            "duration_ms": self.duration_ms,
            "engine": self.engine,
            "packs": self.packs,
        }
        if self.window_ends is not None:
            out["data_through"] = self.data_through
            out["window_ends"] = self.window_ends
        if self.stored:
            out["stored"] = True
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunInfo:
        return cls(
            data["id"],
            date.fromisoformat(data["as_of"]),
            data["started_at"],
            data.get("duration_ms") or 0,
            data.get("engine", ""),
            list(data.get("packs") or []),
            data.get("data_through"),
            data.get("window_ends"),
            bool(data.get("stored")),
        )


@dataclass(slots=True)
class RunReport:
    """One evaluation's report, typed: what the TUI shows and `stored_report` reads back.
    `to_json` is the document of `--format json` and of plugins' output formats."""

    run: RunInfo
    summary: dict[str, Any]
    findings: list[Finding]
    insufficient_data: list[dict[str, Any]] = field(default_factory=list)
    waived: list[Waived] = field(default_factory=list)
    qcrules_version: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "qcrules_version": self.qcrules_version,
            "run": self.run.to_json(),
            "summary": self.summary,
            "findings": [f.to_json() for f in self.findings],
            "insufficient_data": self.insufficient_data,
            "waived": [w.to_json() for w in self.waived],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunReport:
        """A report read back from its JSON (a waived finding keeps what its JSON says)."""
        findings = [Finding.from_json(f) for f in data.get("findings") or []]
        waived = []
        for w in data.get("waived") or []:
            subject = Subject.from_json(w["entity"])
            # a waived finding's JSON names it only: rule, entity and fingerprint
            finding = Finding(
                w["rule"], "", "", "info", subject, "", None, {}, w["fingerprint"], None
            )
            waived.append(Waived(finding, w.get("reason", ""), w.get("expires", "")))
        return cls(
            RunInfo.from_json(data["run"]),
            dict(data.get("summary") or {}),
            findings,
            list(data.get("insufficient_data") or []),
            waived,
            data.get("qcrules_version", ""),
        )

    def by_entity(self) -> dict[tuple[str, str, str | None], list[Finding]]:
        """Findings by (entity type, id, merchant), and by (type, id, None) across merchants."""
        out: dict[tuple[str, str, str | None], list[Finding]] = {}
        for finding in self.findings:
            subject = finding.subject
            for merchant in {subject.merchant, None}:  # once when it has none
                out.setdefault((subject.type, subject.id, merchant), []).append(finding)
        return out
