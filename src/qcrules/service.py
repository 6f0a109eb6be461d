"""The one API that the CLI, the TUI and plugins call. Faces never touch SQL or the engine."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qcrules.workspace import Workspace
from qcrules.workspace import init_workspace as _init_workspace

if TYPE_CHECKING:  # the request and response types, for readers and type checkers
    from qcrules.actions.agreement import Agreement
    from qcrules.actions.items import LogEntry, Outcome, QueueItem
    from qcrules.actions.kinds import ActionKind
    from qcrules.backtest import Backtest, WhatIf
    from qcrules.evaluation import EvaluateOptions, EvaluationResult
    from qcrules.explain import Explanation
    from qcrules.facts.schema import FieldSpec
    from qcrules.findings import RunReport
    from qcrules.grants import CheckSession, GrantRequest, GrantView, MarkOutcome, RequestCheck
    from qcrules.ingest import ImportResult
    from qcrules.model.migrate import UpgradeResult
    from qcrules.packs.registry import PackSet
    from qcrules.packtests import PackTestResult
    from qcrules.report import Sheet
    from qcrules.runs import MergedRun, RunRecord


def init_workspace(
    folder: Path, *, demo: bool = False, seed: int = 7, today=None, database_url: str | None = None
) -> Workspace:
    """Create a workspace; with `demo`, fill it with the generated demo data set."""
    workspace = _init_workspace(folder, database_url=database_url, require_empty=demo)
    if demo:
        from qcrules.demo import generate

        generate(workspace.db, size="demo", seed=seed, today=today)
    return workspace


def workspace_records(workspace: Workspace) -> dict[str, int]:
    """Merchants, creators, grants and metric rows the workspace's database holds."""
    return workspace.records()


def describe_records(counts: dict[str, int]) -> str:
    """`workspace_records` in words, in the user's language."""
    from qcrules.workspace import describe_records as _describe

    return _describe(counts)


def import_files(workspace: Workspace, kind: str, paths, **options) -> ImportResult:
    """Import CSV/XLSX files of one kind, all-or-nothing per file (see qcrules.ingest)."""
    from qcrules.ingest import run_import

    return run_import(workspace.db, kind, paths, **options)


def evaluate(workspace: Workspace, options: EvaluateOptions | None = None) -> EvaluationResult:
    """Evaluate the packs in effect; returns the report and the exit code (qcrules.evaluation)."""
    from qcrules.evaluation import evaluate as _evaluate

    return _evaluate(workspace, options)


def output_formats() -> dict:
    """Output formats by name: the built-ins and those plugins register."""
    from qcrules.plugins.manager import get_host

    return dict(get_host().contributions().formats)


def report_plugin_problems() -> None:
    """Name, on stderr, every plugin that failed to import or raised in a hook."""
    from qcrules.plugins.manager import get_host

    get_host().report_problems()


def explain(workspace: Workspace, rule_id: str, entity_id: str, **options) -> list[Explanation]:
    """Why a rule did or did not fire for one entity (qcrules.explain)."""
    from qcrules.explain import explain as _explain

    return _explain(workspace, rule_id, entity_id, **options)


def plugins() -> list[dict]:
    """Installed plugins: name, version, hooks."""
    from qcrules.plugins.manager import get_host

    return get_host().describe()


def action_kinds() -> dict[str, ActionKind]:
    """Action kinds by name (qcrules.actions.kinds.ActionKind): built-in and from plugins."""
    from qcrules.plugins.manager import get_host

    return dict(get_host().contributions().actions)


def recent_runs(workspace: Workspace, limit: int = 30) -> list[RunRecord]:
    """The stored evaluation runs, oldest first: id, start, as-of date and summary."""
    from qcrules.runs import recent_runs as _recent_runs

    return _recent_runs(workspace, limit)


def list_runs(workspace: Workspace, limit: int = 20) -> list[RunRecord]:
    """The newest stored runs, shares of sharded evaluations included, newest first."""
    from qcrules.runs import list_runs as _list

    return _list(workspace, limit)


def merge_shares(workspace: Workspace, *, as_of=None, run_ids=None) -> MergedRun:
    """One whole run from the shares of `evaluate --shard K/N` (qcrules.runs)."""
    from qcrules.runs import merge_shares as _merge

    return _merge(workspace, as_of=as_of, run_ids=run_ids)


def stored_report(workspace: Workspace) -> RunReport | None:
    """The last stored run as a report, read back without evaluating (None: no run yet)."""
    from qcrules.runs import stored_report as _stored

    return _stored(workspace)


def action_queue(workspace: Workspace) -> list[QueueItem]:
    """The suggested actions of the last stored run, each with its state (qcrules.actions)."""
    from qcrules.actions.queue import action_queue as _queue

    return _queue(workspace)


def find_action(workspace: Workspace, ref: str) -> QueueItem:
    """The queue item an action id (a fingerprint prefix) names."""
    from qcrules.actions.queue import find_item

    return find_item(workspace, ref)


def apply_action(workspace: Workspace, ref: str, **options) -> Outcome:
    """Carry out one suggested action (record changes or a plugin's handler), audited."""
    from qcrules.actions.queue import apply_action as _apply

    return _apply(workspace, ref, handlers=action_kinds(), **options)


def apply_actions(workspace: Workspace, refs: list[str], **options) -> list[Outcome]:
    """Carry out several suggested actions all or nothing, in one audited transaction."""
    from qcrules.actions.queue import apply_actions as _apply

    return _apply(workspace, list(refs), handlers=action_kinds(), **options)


def select_actions(
    workspace: Workspace,
    *,
    rule: str | None = None,
    kind: str | None = None,
    merchant: str | None = None,
    level: str | None = None,
    text: str | None = None,
    state: str = "open",
) -> list[QueueItem]:
    """The queue items matching every filter given (the set a bulk apply works on)."""
    from qcrules.actions.queue import select_items

    return select_items(
        action_queue(workspace),
        rule=rule,
        kind=kind,
        merchant=merchant,
        level=level,
        text=text,
        state=state,
    )


def dismiss_action(workspace: Workspace, ref: str, reason: str, **options) -> Outcome:
    """Set a suggested action aside with a reason, audited."""
    from qcrules.actions.queue import dismiss_action as _dismiss

    return _dismiss(workspace, ref, reason, **options)


def hold_entity(
    workspace: Workspace, entity_type: str, entity_id: str, reason: str, **options
) -> Outcome:
    """Put an entity on hold (it keeps its findings, gets no actions), audited."""
    from qcrules.actions.queue import hold_entity as _hold

    return _hold(workspace, entity_type, entity_id, reason, **options)


def holds(workspace: Workspace, as_of: date | None = None) -> dict[tuple, dict[str, Any]]:
    """The holds in force on `as_of` (default today), by (entity type, id, merchant or None):
    what the UI shows as "on hold" before the next evaluation says it."""
    from qcrules.runs import load_holds

    return load_holds(workspace, as_of or date.today())


def find_entity(workspace: Workspace, entity_id: str, entity_type: str | None = None) -> str:
    """Which kind of record (grant, creator, merchant) `entity_id` names."""
    from qcrules.actions.queue import find_entity as _find

    return _find(workspace, entity_id, entity_type)


def undo(workspace: Workspace, audit_id: int | None = None, **options) -> Outcome:
    """Take back the last apply, dismiss or hold (or the one given), audited."""
    from qcrules.actions.queue import undo as _undo

    return _undo(workspace, audit_id, **options)


def audit_log(workspace: Workspace, limit: int = 50, **options) -> list[LogEntry]:
    """The latest audit log entries, newest first (`undoable_only`: what undo takes back)."""
    from qcrules.actions.queue import audit_log as _log

    return _log(workspace, limit, **options)


def packs(workspace: Workspace) -> PackSet:
    """The rule packs in effect (and, in `.disabled`, those qcrules.toml turns off), with
    every diagnostic (qcrules.packs.registry.PackSet)."""
    from qcrules.packs.registry import load_packs

    return load_packs(workspace.config)


def fact_fields() -> list[FieldSpec]:
    """Every fact field (built in and from plugins) with its type, unit and zh label
    (qcrules.facts.schema.FieldSpec): what the faces show a value with."""
    from qcrules.packs.registry import workspace_schema

    return list(workspace_schema())


def test_packs(workspace: Workspace, pack_ids: list[str] | None = None) -> list[PackTestResult]:
    """Run the `[[tests]]` inside packs (qcrules.packtests.PackTestResult per test)."""
    from qcrules.packtests import run_pack_tests

    packset = packs(workspace)
    chosen = [p for p in [*packset.packs, *packset.disabled] if not pack_ids or p.id in pack_ids]
    return run_pack_tests(chosen)


def agreement(workspace: Workspace, grant_id: str, *, template: Path | None = None) -> Agreement:
    """The authorization agreement (授权协议) of a grant, rendered from a template."""
    from qcrules.actions.agreement import render_agreement

    return render_agreement(workspace, grant_id, template=template)


def monitoring_sheet(workspace: Workspace, **options) -> Sheet:
    """The monitoring sheet (效果监测表): CTR, ROI, CVR per grant and day with the bands."""
    from qcrules.report import build_sheet

    return build_sheet(workspace, **options)


def creators_to_list(workspace: Workspace, facts: list[Any]) -> list[Any]:
    """A run's creator facts, then the pool's creators no rule judges (excluded, without a
    grant), so a list of creators shows every one an operator may bring back."""
    from qcrules.facts.single import set_aside_creators

    have = {(f.entity_id, f.merchant_id) for f in facts}
    aside = set_aside_creators(workspace.db)
    return [*facts, *(f for f in aside if (f.entity_id, f.merchant_id) not in have)]


def set_pool_status(
    workspace: Workspace, merchant_id: str, aweme_id: str, status: str, **options
) -> Outcome:
    """Add a creator to a merchant's pool, take them out, or exclude them: audited, undoable."""
    from qcrules.actions.queue import set_pool_status as _set

    return _set(workspace, merchant_id, aweme_id, status, **options)


def db_upgrade(workspace: Workspace) -> UpgradeResult:
    """Bring the workspace's schema to this release's (qcrules.model.migrate)."""
    from qcrules.model import migrate

    return migrate.upgrade(workspace.open_db(check=False))


def db_current(workspace: Workspace) -> dict:
    """The workspace schema's revision (qcrules.model.migrate)."""
    from qcrules.model import migrate

    return migrate.current(workspace.open_db(check=False))


def parse_param_sets(workspace: Workspace, sets) -> dict:
    """`PACK.PARAM=VALUE` items → {pack: {param: value}}, typed and checked like [params]."""
    from qcrules.backtest import parse_sets

    return parse_sets(packs(workspace), sets)


def whatif(workspace: Workspace, sets, **options) -> WhatIf:
    """Findings added and removed by parameter overrides, against the current ones; nothing
    is stored (qcrules.backtest.WhatIf)."""
    from qcrules.backtest import whatif as _whatif

    return _whatif(workspace, sets, **options)


def whatif_apart(workspace: Workspace, sets, **options) -> WhatIf:
    """`whatif` in a child process (the TUI's what-if pane); `started(process)` is told the
    child, so an app that closes can kill it."""
    from qcrules.backtest import whatif_apart as _apart

    return _apart(workspace, sets, **options)


def backtest(workspace: Workspace, start: date, end: date, **options) -> Backtest:
    """Every day of a range evaluated as of that day; nothing is stored
    (qcrules.backtest.Backtest)."""
    from qcrules.backtest import backtest as _backtest

    return _backtest(workspace, start, end, **options)


def backtest_apart(workspace: Workspace, start: date, end: date, **options) -> Backtest:
    """`backtest` in a child process (the TUI's charts): its CPU and memory stay out of the
    caller's process."""
    from qcrules.backtest import backtest_apart as _apart

    return _apart(workspace, start, end, **options)


def remembered_backtest(
    workspace: Workspace, start: date, end: date, **options
) -> tuple[Backtest, bool]:
    """`backtest_apart`, remembered by its inputs (qcrules.remembered): the same data, packs
    and settings give the last result at once. Returns it and whether it was remembered."""
    from qcrules.remembered import remembered_backtest as _remembered

    return _remembered(workspace, start, end, **options)


def reload_settings(workspace: Workspace) -> None:
    """qcrules.toml read again: its params, waivers, packs, merchants (an open app's `r`)."""
    workspace.reload_config()


def save_params(workspace: Workspace, overrides: dict, *, note: str | None = None) -> Path:
    """Write parameter overrides into [params] of qcrules.toml, keeping its comments; a
    `note` is written as a comment beside each value."""
    from qcrules.backtest import save_params as _save

    return _save(workspace, overrides, note=note)


def list_grants(workspace: Workspace, **filters) -> list[GrantView]:
    """Grants with state, terms and days left; filters: merchant, state, creator (qcrules.grants)."""
    from qcrules.grants import list_grants as _list

    return _list(workspace, **filters)


def check_grant_request(workspace: Workspace, request: GrantRequest, **options) -> RequestCheck:
    """Judge a proposed grant (qcrules.grants.GrantRequest) without writing anything: gate
    verdicts, the to-do list, the creator's findings, the channel's steps."""
    from qcrules.grants import check_request

    return check_request(workspace, request, **options)


def grant_check_session() -> CheckSession:
    """A form's shared state for live checks (`check_grant_request(..., session=…)`): the
    packs and each creator's merchant context built once, not on every keystroke."""
    from qcrules.grants import CheckSession

    return CheckSession()


def request_grant(workspace: Workspace, request: GrantRequest, **options) -> RequestCheck:
    """Judge, then write a grant request (draft without a 合作码, requested with one), audited
    and undoable; refused when a gate rule fires at warn or above unless accept_risk is given."""
    from qcrules.grants import request_grant as _request

    return _request(workspace, request, **options)


def mark_grant(workspace: Workspace, grant_id: str, target: str, **options) -> MarkOutcome:
    """Move a grant along its state machine (approved = the creator confirmed → active),
    audited and undoable."""
    from qcrules.grants import mark_grant as _mark

    return _mark(workspace, grant_id, target, **options)


def record_agreement(workspace: Workspace, grant_id: str, **options) -> MarkOutcome:
    """Record that a grant's agreement (授权协议) is signed (closes PRM009), audited and
    undoable."""
    from qcrules.grants import record_agreement as _record

    return _record(workspace, grant_id, **options)


def grant_moves(status: str) -> list[str]:
    """The states a grant in `status` may be marked next."""
    from qcrules.grants import allowed_moves

    return allowed_moves(status)


def renewal_request(workspace: Workspace, grant_id: str) -> GrantRequest:
    """A request pre-filled to renew `grant_id` on safe terms (the renewal form's start)."""
    from qcrules.grants import renewal_request as _renewal

    return _renewal(workspace, grant_id)


def save_tui_theme(workspace: Workspace, theme: str) -> bool:
    """Keep the theme chosen in the TUI in qcrules.toml ([tui] theme); False when the
    workspace has no qcrules.toml to keep it in."""
    from qcrules.config import set_config_values

    path = workspace.config.path
    if path is None:
        return False
    set_config_values(path, {("tui",): {"theme": theme}})
    workspace.config.tui_theme = theme
    return True


# What the faces use from the layers below — request types, vocabularies, loaders — exported
# here and imported on first use, so `qcrules --help` loads none of them. The CLI and the TUI
# import `qcrules.service` and presentation modules only (an import-linter contract in CI).
_EXPORTS = {
    "EvaluateOptions": "qcrules.evaluation",
    "AUTH_LABEL": "qcrules.grants",
    "CHANNEL_LABEL": "qcrules.grants",
    "CHANNEL_NAMES": "qcrules.grants",
    "GrantRequest": "qcrules.grants",
    "MARK_TARGETS": "qcrules.grants",
    "SCOPE_LABEL": "qcrules.grants",
    "STATUS_LABEL": "qcrules.grants",
    "label": "qcrules.grants",
    "zh_word": "qcrules.grants",
    "GRANT_STATUSES": "qcrules.model.tables",
    "PERMANENT_END": "qcrules.model.tables",
    "SCOPES": "qcrules.model.tables",
    "CORE_RULES": "qcrules.actions.planning",
    "PLACEHOLDERS": "qcrules.actions.agreement",
    "FileReport": "qcrules.ingest",
    "ImportResult": "qcrules.ingest",
    "KINDS": "qcrules.ingest",
    "kind_spec": "qcrules.ingest",
    "ENUM_ALIASES": "qcrules.ingest.columns",
    "ENUM_CANONICAL": "qcrules.ingest.columns",
    "TYPES": "qcrules.ingest.columns",
    "all_names": "qcrules.ingest.columns",
    "plugin_aliases": "qcrules.ingest.importer",
    "durable_available": "qcrules.engine",
    "get_host": "qcrules.plugins.manager",
    "load_packs": "qcrules.packs.registry",
    "workspace_schema": "qcrules.packs.registry",
    "run_pack_tests": "qcrules.packtests",
    "set_wait_notice": "qcrules.model.locking",
    "parse_shard": "qcrules.scope",
    "RunRecord": "qcrules.runs",
    "LogEntry": "qcrules.actions.items",
    "POOL_ACT_LABEL": "qcrules.actions.items",
    "VERB_LABEL": "qcrules.actions.items",
    "audit_kind_label": "qcrules.actions.items",
    "GrantView": "qcrules.grants",
}


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'qcrules.service' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
