"""Stored runs: writing an evaluation's run and findings, reading the last whole run back,
the holds in effect, and merging the shares of a sharded evaluation into one run.

Below both evaluation and the action queue (which reads the last run), so neither imports
the other for it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from qcrules import __version__
from qcrules.errors import UsageError
from qcrules.findings import Finding, RunInfo, RunReport, utc_text
from qcrules.i18n import tr
from qcrules.model.db import read_data_version, table
from qcrules.model.tables import Creator, EvaluationRun, Hold, Merchant
from qcrules.model.tables import Finding as FindingRecord
from qcrules.workspace import Workspace

if TYPE_CHECKING:
    from qcrules.evaluation import EvaluateOptions, EvaluationResult
    from qcrules.packs.model import Pack


@dataclass(slots=True)
class RunRecord:
    """A stored run as lists show it: when, as of which day, which share, what it found."""

    id: str
    started_at: datetime
    as_of: date
    summary: dict[str, Any]
    part: str | None = None  # "K/N": a share of `evaluate --shard`
    exit_code: int | None = None
    merged_from: list[str] | None = None  # the shares a merged run was made of

    @property
    def findings(self) -> int:
        return sum((self.summary.get("findings") or {}).values())

    @classmethod
    def from_row(cls, row: Any) -> RunRecord:
        return cls(
            row["run_id"],
            row["started_at"],
            row["as_of"],
            row["summary"] or {},
            row["part"],
            row["exit_code"],
            (row["options"] or {}).get("merged_from"),
        )

    def to_json(self) -> dict[str, Any]:
        """The row of `qcrules runs list --format json` (times as a report gives them)."""
        return {
            "id": self.id,
            "started_at": utc_text(self.started_at),
            "as_of": self.as_of.isoformat(),
            "part": self.part,
            "findings": self.findings,
            "exit_code": self.exit_code,
            "merged_from": self.merged_from,
        }


@dataclass(slots=True)
class MergedRun:
    """The whole run `runs merge` made of a sharded evaluation's shares."""

    run: str
    as_of: date
    shares: int
    merged_from: list[str]
    summary: dict[str, Any]
    exit_code: int
    existing: bool = False  # these shares had been merged before: that run, not a new one

    @property
    def findings(self) -> int:
        return sum((self.summary.get("findings") or {}).values())

    def to_json(self) -> dict[str, Any]:
        """The document of `qcrules runs merge --format json`."""
        return {
            "run": self.run,
            "as_of": self.as_of.isoformat(),
            "shares": self.shares,
            "merged_from": self.merged_from,
            "summary": self.summary,
            "exit_code": self.exit_code,
            "existing": self.existing,
        }


def recent_runs(workspace: Workspace, limit: int = 30) -> list[RunRecord]:
    """The last `limit` stored runs, oldest first (the TUI draws findings over time)."""
    runs = table(EvaluationRun)
    query = (
        select(runs).where(runs.c.part.is_(None)).order_by(runs.c.started_at.desc()).limit(limit)
    )
    with workspace.db.connect() as conn:
        rows = list(conn.execute(query).mappings())
    return [RunRecord.from_row(row) for row in reversed(rows)]


def load_holds(workspace: Workspace, as_of: date) -> dict[tuple, dict]:
    holds: dict[tuple, dict] = {}
    with workspace.db.connect() as conn:
        for row in conn.execute(select(table(Hold))).mappings():
            if row["until"] is not None and row["until"] < as_of:
                continue
            key = (row["entity_type"], row["entity_id"], row["merchant_id"] or None)
            holds[key] = {
                "reason": row["reason"],
                "until": row["until"].isoformat() if row["until"] else None,
            }
    return holds


def store_run(
    workspace: Workspace,
    result: EvaluationResult,
    options: EvaluateOptions,
    packs: list[Pack],
    data_version: str | None = None,
) -> None:
    """The run, its findings and its waived findings, in one transaction. `data_version` is
    the workspace's data version the run read its records under (`runs merge` joins only
    shares of the records as they still are)."""
    report = result.report
    run = report["run"]
    options_json = {
        "packs": options.packs,
        "select": options.select,
        "ignore": options.ignore,
        "merchant": options.merchant,
        "fail_on": options.fail_on,
        "baseline": str(options.baseline) if options.baseline else None,
    }
    if data_version is not None:
        options_json["data_version"] = data_version
    part = None
    if options.shard is not None:
        part = f"{options.shard[0]}/{options.shard[1]}"
        options_json["shard"] = part
    with workspace.db.write("evaluate") as conn:
        conn.execute(
            table(EvaluationRun)
            .insert()
            .values(
                run_id=run["id"],
                started_at=datetime.fromisoformat(run["started_at"].replace("Z", "+00:00")),
                duration_ms=run["duration_ms"],
                as_of=date.fromisoformat(run["as_of"]),
                engine=run["engine"],
                packs=run["packs"],
                params={p.id: p.params for p in packs},
                options=options_json,
                summary=report["summary"],
                exit_code=result.exit_code,
                part=part,
            )
        )
        rows = [finding.row(run["id"]) for finding in result.findings]
        rows += [item.row(run["id"]) for item in result.waived]
        for start in range(0, len(rows), 2000):
            conn.execute(table(FindingRecord).insert(), rows[start : start + 2000])


def stored_report(workspace: Workspace) -> RunReport | None:
    """The last stored run as a report (the shape `evaluate` gives), read back from the
    runs and findings tables — what the TUI shows at once while it evaluates again.

    Not kept in storage, so absent here: insufficient-data notes, waived findings (only
    counted) and which rule superseded a finding (its status says it was)."""
    runs, findings = table(EvaluationRun), table(FindingRecord)
    creators, merchants = table(Creator), table(Merchant)
    with workspace.db.connect() as conn:
        run = (
            conn.execute(
                select(runs)
                .where(runs.c.part.is_(None))
                .order_by(runs.c.started_at.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
        if run is None:
            return None
        rows = list(
            conn.execute(
                select(findings)
                .where(findings.c.run_id == run["run_id"], findings.c.status != "waived")
                .order_by(findings.c.id)
            ).mappings()
        )
        wanted = {r["aweme_id"] for r in rows if r["aweme_id"]}
        nicknames: dict[str, str] = {}
        if wanted:
            nicknames = {
                aweme: name
                for aweme, name in conn.execute(
                    select(creators.c.aweme_id, creators.c.nickname).where(
                        creators.c.aweme_id.in_(wanted)
                    )
                )
                if name
            }
        names = {
            mid: name
            for mid, name in conn.execute(select(merchants.c.merchant_id, merchants.c.name))
            if name
        }
    out = [
        Finding.from_row(
            row,
            name=names.get(row["entity_id"])
            if row["entity_type"] == "merchant"
            else nicknames.get(row["aweme_id"] or ""),
        )
        for row in rows
    ]
    info = RunInfo(
        run["run_id"],
        run["as_of"],
        utc_text(run["started_at"]),
        run["duration_ms"],
        run["engine"],
        run["packs"] or [],
        stored=True,
    )
    return RunReport(info, run["summary"] or {}, out, qcrules_version=__version__)


# ---------------------------------------------------------------------------------------------
# merging the shares of `evaluate --shard K/N`

_SAME = ("packs", "select", "ignore", "fail_on", "baseline")  # options every share must share


def _shares(conn: Any, as_of: date | None, run_ids: list[str] | None) -> list[dict]:
    runs = table(EvaluationRun)
    query = select(runs).where(runs.c.part.is_not(None))
    if run_ids:
        query = query.where(runs.c.run_id.in_(run_ids))
    rows = list(conn.execute(query.order_by(runs.c.started_at.desc())).mappings())
    if run_ids:
        missing = sorted(set(run_ids) - {r["run_id"] for r in rows})
        if missing:
            raise UsageError(
                tr(f"没有这些分片运行：{', '.join(missing)}", f"no shard run {', '.join(missing)}"),
                hint=tr("qcrules runs list 列出已保存的运行", "`qcrules runs list` shows them"),
            )
        return rows
    if as_of is None and rows:
        as_of = max(r["as_of"] for r in rows)
    rows = [r for r in rows if r["as_of"] == as_of]
    if not rows:
        return []
    split = rows[0]["part"].split("/")[1]  # the split of the newest share: its N
    newest: dict[str, dict] = {}
    for row in rows:  # newest first: the latest run of each share of that split
        if row["part"].split("/")[1] == split:
            newest.setdefault(row["part"], row)
    return list(newest.values())


def _check_shares(shares: list[dict], as_of: date | None) -> int:
    if not shares:
        raise UsageError(
            tr("没有可合并的分片运行", "no shard run to merge")
            + (f" (as of {as_of.isoformat()})" if as_of else ""),
            hint=tr(
                "先在各处运行 qcrules evaluate --shard K/N",
                "run `qcrules evaluate --shard K/N` for each share first",
            ),
        )
    totals = {int(r["part"].split("/")[1]) for r in shares}
    if len(totals) != 1:
        raise UsageError(
            tr("这些分片分法不同", "these shares come from different splits")
            + f": {', '.join(sorted(r['part'] for r in shares))}",
            hint=tr("给出同一次 --shard K/N 的各份", "give the shares of one --shard K/N split"),
        )
    n = totals.pop()
    have = sorted(int(r["part"].split("/")[0]) for r in shares)
    lacking = [k for k in range(1, n + 1) if k not in have]
    listed = ", ".join(r["part"] for r in sorted(shares, key=lambda r: r["part"]))
    if lacking:
        missing = ", ".join(f"{k}/{n}" for k in lacking)
        raise UsageError(
            tr(f"分片不全：{listed}", f"the shares are incomplete: {listed}"),
            hint=tr(
                f"还缺 {missing}：先运行 qcrules evaluate --shard {missing.split(',')[0]}",
                f"missing {missing}: run `qcrules evaluate --shard K/N` for them first",
            ),
        )
    if len(have) != n:  # only when run ids were named: two runs of one share
        raise UsageError(
            tr(f"分片重复：{listed}", f"a share is named twice: {listed}"),
            hint=tr("每一份只给一个运行 id", "name one run per share"),
        )
    first = shares[0]
    for row in shares[1:]:
        differs = [key for key in ("as_of", "packs", "params") if row[key] != first[key]] + [
            k for k in _SAME if (row["options"] or {}).get(k) != (first["options"] or {}).get(k)
        ]
        if differs:
            raise UsageError(
                tr(
                    f"分片 {row['part']} 与 {first['part']} 的 {', '.join(differs)} 不同",
                    f"share {row['part']} differs from {first['part']} in {', '.join(differs)}",
                ),
                hint=tr(
                    "用同样的选项和规则包重新运行这一份",
                    "run that share again with the same options, packs and parameters",
                ),
            )
    return n


def _check_current(conn: Any, shares: list[dict]) -> None:
    """Refuse shares a newer state has overtaken: records changed since they were worked out
    (their data versions differ, or are no longer the workspace's), or a whole run stored
    after the first of them, which the joined run would replace as the last run. Shares
    stored before runs kept a data version are checked for the newer run only."""
    again = tr(
        "重新运行各分片 qcrules evaluate --shard K/N 后再合并，或运行 qcrules evaluate 得到整次运行",
        "evaluate the shares again (`qcrules evaluate --shard K/N`) and merge those, "
        "or run `qcrules evaluate` for a whole run",
    )
    versions = {(s["options"] or {}).get("data_version") for s in shares} - {None}
    if len(versions) > 1:
        raise UsageError(
            tr(
                "这些分片是在不同的数据上运行的（其间有导入或其他修改）",
                "these shares were evaluated on different records "
                "(an import or another change came between them)",
            ),
            hint=again,
        )
    if versions and versions != {read_data_version(conn)}:
        raise UsageError(
            tr(
                "分片运行之后数据已有改动（导入、操作、授权…），合并它们会恢复过时的发现",
                "the records changed after these shares ran (an import, an action, a "
                "grant…); joining them would bring back findings the newer data cleared",
            ),
            hint=again,
        )
    runs = table(EvaluationRun)
    since = min(s["started_at"] for s in shares)
    newer = (
        conn.execute(
            select(runs.c.run_id, runs.c.started_at)
            .where(runs.c.part.is_(None), runs.c.started_at > since)
            .order_by(runs.c.started_at.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    if newer is not None:
        raise UsageError(
            tr(
                f"已有比这些分片更新的整次运行 {newer['run_id']}；合并会用旧的结果取代它",
                f"a whole run newer than these shares exists ({newer['run_id']}); the joined "
                "run would replace it as the last run with older results",
            ),
            hint=again,
        )


def _add_counts(into: dict, more: dict) -> None:
    for key, value in more.items():
        if isinstance(value, dict):
            _add_counts(into.setdefault(key, {}), value)
        elif isinstance(value, int | float):
            into[key] = into.get(key, 0) + value


def _merged_before(conn: Any, day: date, share_ids: list[str]) -> Any:
    """The whole run already made of exactly these shares, if there is one."""
    runs = table(EvaluationRun)
    query = select(runs).where(runs.c.part.is_(None), runs.c.as_of == day)
    for row in conn.execute(query.order_by(runs.c.started_at.desc())).mappings():
        if (row["options"] or {}).get("merged_from") == share_ids:
            return row
    return None


def merge_shares(
    workspace: Workspace, *, as_of: date | None = None, run_ids: list[str] | None = None
) -> MergedRun:
    """One whole run from the shares of a sharded evaluation: the newest run of each share
    K/N as of `as_of` (default: the newest sharded day), or exactly `run_ids`. Their
    findings are copied, counts added, and the waiver findings (which need every share's
    findings) made afresh; the shares stay as they were. Returns the new run's summary."""
    from qcrules.actions.planning import waiver_notes
    from qcrules.packs.model import LEVEL_RANK, LEVELS

    findings_t = table(FindingRecord)
    with workspace.db.write("runs merge") as conn:
        shares = _shares(conn, as_of, run_ids)
        n = _check_shares(shares, as_of)
        shares.sort(key=lambda r: int(r["part"].split("/")[0]))
        first = shares[0]
        day = first["as_of"]
        done = _merged_before(conn, day, [s["run_id"] for s in shares])
        if done is not None:  # merged already (twice asked, or two jobs at once): that run
            return MergedRun(
                done["run_id"],
                day,
                n,
                [s["run_id"] for s in shares],
                done["summary"] or {},
                int(done["exit_code"] or 0),
                existing=True,
            )
        _check_current(conn, shares)
        run_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        rows = []
        for share in shares:
            for row in conn.execute(
                select(findings_t)
                .where(findings_t.c.run_id == share["run_id"])
                .order_by(findings_t.c.id)
            ).mappings():
                rows.append({**{k: v for k, v in row.items() if k != "id"}, "run_id": run_id})
        options = {k: v for k, v in (first["options"] or {}).items() if k != "shard"}
        summary: dict[str, Any] = {}
        for share in shares:
            _add_counts(summary, share["summary"] or {})
        notes: list[Finding] = []
        if not options.get("select") and not options.get("packs"):
            waivers = list(workspace.config.waivers)
            waived = [r for r in rows if r["status"] == "waived"]
            used = {
                id(w)
                for w in waivers
                if w.expires >= day
                and any(w.covers(r["rule"], r["entity_id"], r["merchant_id"]) for r in waived)
            }
            path = str(workspace.config.path) if workspace.config.path else None
            notes = waiver_notes(waivers, used, day, path)
        rows += [note.row(run_id) for note in notes]
        # stored in the order one evaluation stores them (most severe first), waived last
        rows.sort(
            key=lambda r: (
                r["status"] == "waived",
                -LEVEL_RANK[r["level"]],
                r["rule"],
                r["entity_type"],
                str(r["merchant_id"]),
                r["entity_id"],
            )
        )
        counts = {level: 0 for level in reversed(LEVELS)}
        for row in rows:
            if row["status"] != "waived":
                counts[row["level"]] += 1
        summary["findings"] = counts
        fail_on = options.get("fail_on") or "error"
        exit_code = max(int(s["exit_code"] or 0) for s in shares)
        if fail_on != "never" and any(
            LEVEL_RANK[note.level] >= LEVEL_RANK[fail_on] for note in notes
        ):
            exit_code = max(exit_code, 1)
        conn.execute(
            table(EvaluationRun)
            .insert()
            .values(
                run_id=run_id,
                started_at=datetime.now(UTC),
                duration_ms=max(int(s["duration_ms"] or 0) for s in shares),
                as_of=day,
                engine=first["engine"],
                packs=first["packs"],
                params=first["params"],
                options={**options, "merged_from": [s["run_id"] for s in shares]},
                summary=summary,
                exit_code=exit_code,
                part=None,
            )
        )
        for start in range(0, len(rows), 2000):
            conn.execute(findings_t.insert(), rows[start : start + 2000])
    return MergedRun(run_id, day, n, [s["run_id"] for s in shares], summary, exit_code)


def list_runs(workspace: Workspace, limit: int = 20) -> list[RunRecord]:
    """The newest stored runs, shares included, newest first (`qcrules runs list`)."""
    runs = table(EvaluationRun)
    with workspace.db.connect() as conn:
        rows = list(
            conn.execute(select(runs).order_by(runs.c.started_at.desc()).limit(limit)).mappings()
        )
    return [RunRecord.from_row(r) for r in rows]
