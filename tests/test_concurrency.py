"""Two qcrules processes changing the same workspace at the same moment, on SQLite and on
PostgreSQL: real processes (spawned, each with its own engine) released together by a
barrier, repeated over many actions so that a race that can happen does happen.

What a user must be able to rely on: of two people applying (or undoing) the same thing one
wins and the other is told why; the audit log never holds two entries for one action nor two
undos of one entry; an import and an apply on the same row both keep their change; a writer
that has to wait says so and gives up with a clear error, never a traceback.
"""

from __future__ import annotations

import csv
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from qcrules.errors import QcrulesError

DAY = date(2026, 11, 27)
ROUNDS = 6

# --- the worker processes ----------------------------------------------------------------------

_barrier = None
_workspaces: dict[str, object] = {}


def _init(barrier) -> None:
    global _barrier
    _barrier = barrier
    os.environ["QCRULES_LANG"] = "en"
    os.environ["QCRULES_ACTOR"] = f"worker-{os.getpid()}"


def _workspace(config: str):
    from qcrules.workspace import Workspace

    if config not in _workspaces:
        _workspaces[config] = Workspace.discover(config)
    return _workspaces[config]


def _open(config: str) -> None:
    _workspace(config).db  # noqa: B018


def _run(config: str, op: str, *args, delay: float = 0.0):
    """One operation, started at the same moment as the other worker's (plus `delay`)."""
    from qcrules import service
    from qcrules.actions import queue

    workspace = _workspace(config)
    _barrier.wait(timeout=60)
    if delay:
        time.sleep(delay)
    try:
        if op == "apply":
            return ("ok", queue.apply_action(workspace, args[0], today=DAY).audit_id)
        if op == "undo":
            return ("ok", queue.undo(workspace, args[0]).audit_id)
        if op == "pool":
            outcome = queue.set_pool_status(workspace, args[0], args[1], args[2], today=DAY)
            return ("ok", outcome.audit_id)
        if op == "import":
            result = service.import_files(workspace, "grants", [args[0]])
            return ("ok", result.files[0].inserted)
    except QcrulesError as exc:
        return ("refused", type(exc).__name__, exc.message)
    except Exception as exc:  # what a user would see as a traceback
        return ("crash", f"{type(exc).__name__}: {exc}")
    raise AssertionError(op)


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workers():
    """Two worker processes (spawned once for this module: starting Python is the slow part)."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    with ProcessPoolExecutor(2, mp_context=context, initializer=_init, initargs=(barrier,)) as pool:
        yield pool


@pytest.fixture
def team(stored_demo, workers):
    """The demo on the backend, evaluated (conftest `stored_demo`), and the two workers to race
    on it."""
    workspace, _ = stored_demo
    config = str(workspace.config.path)
    # both workers holding this workspace before the first race
    list(workers.map(_open, [config] * 2))
    return Team(config, workspace, workers)


class Team:
    def __init__(self, config: str, workspace, pool) -> None:
        self.config, self.workspace, self.pool = config, workspace, pool

    def race(self, first: tuple, second: tuple, delays=(0.0, 0.0)) -> list[tuple]:
        futures = [
            self.pool.submit(_run, self.config, *first, delay=delays[0]),
            self.pool.submit(_run, self.config, *second, delay=delays[1]),
        ]
        results = [f.result(timeout=120) for f in futures]
        crashes = [r for r in results if r[0] == "crash"]
        assert not crashes, crashes
        return results

    def audit(self, **where) -> list[dict]:
        from qcrules.model import AuditEntry

        table = AuditEntry.__table__
        query = select(table).order_by(table.c.id)
        for column, value in where.items():
            query = query.where(table.c[column] == value)
        with self.workspace.db.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def queue(self):
        from qcrules.actions.queue import action_queue

        return action_queue(self.workspace, today=DAY)


# --- the races -------------------------------------------------------------------------------


def test_two_people_applying_one_action_make_one_change(team):
    items = [i for i in team.queue() if i.state == "open" and i.kind != "prepare_agreement"]
    assert len(items) >= ROUNDS
    for item in items[:ROUNDS]:
        results = team.race(("apply", item.ref), ("apply", item.ref))
        assert sorted(r[0] for r in results) == ["ok", "refused"], results
        refused = next(r for r in results if r[0] == "refused")
        assert "applied" in refused[2] and item.ref in refused[2]
        assert len(team.audit(fingerprint=item.fingerprint)) == 1


def test_two_people_undoing_one_entry_undo_it_once(team):
    items = [i for i in team.queue() if i.state == "open" and i.kind != "prepare_agreement"]
    from qcrules.actions.queue import apply_action

    for item in items[:ROUNDS]:
        entry = apply_action(team.workspace, item.ref, today=DAY).audit_id
        results = team.race(("undo", entry), ("undo", entry))
        assert sorted(r[0] for r in results) == ["ok", "refused"], results
        refused = next(r for r in results if r[0] == "refused")
        assert "already undone" in refused[2]
        assert len(team.audit(undoes=entry)) == 1


def test_two_pool_changes_of_one_creator_are_one_change(team):
    from qcrules.model import PoolMember

    table = PoolMember.__table__
    with team.workspace.db.connect() as conn:
        rows = list(
            conn.execute(select(table.c.merchant_id, table.c.aweme_id, table.c.status)).all()
        )
    targets = [r for r in rows if r.status != "excluded"][:ROUNDS]
    assert len(targets) == ROUNDS
    for merchant, aweme, _ in targets:
        change = ("pool", merchant, aweme, "excluded")
        results = team.race(change, change)
        assert sorted(r[0] for r in results) == ["ok", "refused"], results
        assert "already excluded" in next(r for r in results if r[0] == "refused")[2]
        assert len(team.audit(entity_id=aweme, kind="apply:pool:excluded")) == 1


def test_an_apply_and_an_import_on_one_grant_both_keep_their_change(team, tmp_path):
    from qcrules.actions.queue import undo
    from qcrules.model import Grant

    items = [
        i for i in team.queue() if i.state == "open" and i.kind in ("shorten_grant", "narrow_scope")
    ]
    assert len(items) >= 3
    grants = Grant.__table__
    columns = ["grant_id", "merchant_id", "aweme_id", "auth_type", "scope", "status", "note"]
    n = 0
    # the apply starts a little later each round, sweeping it across the import's write
    for delay in (0.0, 0.05):
        for item in items:
            n += 1
            with team.workspace.db.connect() as conn:
                row = (
                    conn.execute(select(grants).where(grants.c.grant_id == item.entity_id))
                    .mappings()
                    .one()
                )
            path = tmp_path / f"grants-{n}.csv"
            with path.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(columns)
                writer.writerow([*(row[c] for c in columns[:-1]), f"imported {n}"])
            results = team.race(("apply", item.ref), ("import", str(path)), (delay, 0.0))
            assert [r[0] for r in results] == ["ok", "ok"], results
            assert results[1][1] == 0  # an update, counted as such (never negative)
            with team.workspace.db.connect() as conn:
                after = (
                    conn.execute(select(grants).where(grants.c.grant_id == item.entity_id))
                    .mappings()
                    .one()
                )
            assert after["note"] == f"imported {n}"  # the import's change
            proposed = "proposed_ends_at" if item.kind == "shorten_grant" else "proposed_scope"
            assert after[proposed] is not None  # the apply's change
            entry = team.audit(fingerprint=item.fingerprint)[-1]
            before = entry["before"]["changes"][0]["before"]
            assert before["note"] in (row["note"], f"imported {n}")  # the row as it was then
            # undo takes back the apply's column only; the import's note stays
            undo(team.workspace, entry["id"])
            with team.workspace.db.connect() as conn:
                back = (
                    conn.execute(select(grants).where(grants.c.grant_id == item.entity_id))
                    .mappings()
                    .one()
                )
            assert back[proposed] == row[proposed]
            assert back["note"] == f"imported {n}"


# --- waiting for another writer ------------------------------------------------------------------


def _hold_lock(db, kind: str, held: threading.Event, release: threading.Event) -> None:
    with db.write(kind):
        held.set()
        release.wait(30)


def test_a_blocked_writer_waits_then_names_the_other_writer(team, monkeypatch):
    from qcrules.actions.queue import apply_action
    from qcrules.model.locking import WorkspaceBusyError, set_wait_notice

    item = next(i for i in team.queue() if i.state == "open" and i.kind == "add_to_pool")
    notices: list[str] = []
    set_wait_notice(notices.append)
    monkeypatch.setenv("QCRULES_LOCK_TIMEOUT", "0.6")
    held, release = threading.Event(), threading.Event()
    other = open_other(team)
    holder = threading.Thread(target=_hold_lock, args=(other, "import grants", held, release))
    holder.start()
    try:
        assert held.wait(10)
        started = time.monotonic()
        with pytest.raises(WorkspaceBusyError) as caught:
            apply_action(team.workspace, item.ref, today=DAY)
        assert time.monotonic() - started < 10
    finally:
        release.set()
        holder.join()
        set_wait_notice(None)
        other.close()
    assert "another qcrules is writing this workspace" in notices[0]
    assert "import grants" in caught.value.message
    assert "nothing was changed" in caught.value.message
    assert not team.audit(fingerprint=item.fingerprint)
    # once the other writer is done, the same apply goes through
    assert apply_action(team.workspace, item.ref, today=DAY).audit_id


def open_other(team):
    from qcrules.model import open_database

    return open_database(team.workspace.config.database_url, create=False)


def test_the_cli_explains_a_lock_it_cannot_get(demo_copy, cli):
    from qcrules.model import open_database

    db = open_database(f"sqlite:///{demo_copy / 'qcrules.db'}", create=False)
    held, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(db, "import creators", held, release))
    holder.start()
    try:
        assert held.wait(10)
        result = cli(
            "evaluate",
            "--as-of",
            DAY.isoformat(),
            cwd=demo_copy,
            env={"QCRULES_LOCK_TIMEOUT": "0.5"},
        )
    finally:
        release.set()
        holder.join()
        db.close()
    assert result.returncode == 2, result.stderr
    assert "another qcrules is writing this workspace (import creators, pid" in result.stderr
    assert "waiting" in result.stderr
    assert "Traceback" not in result.stderr


def count_audit(db) -> int:
    from qcrules.model import AuditEntry

    with db.connect() as conn:
        return conn.execute(select(func.count()).select_from(AuditEntry.__table__)).scalar_one()


def test_a_prepared_agreement_is_written_only_when_its_change_commits(demo_copy):
    import sqlite3

    from sqlalchemy.exc import DBAPIError

    from qcrules import service
    from qcrules.actions import queue
    from qcrules.evaluation import EvaluateOptions
    from qcrules.workspace import Workspace

    workspace = Workspace.discover(demo_copy / "qcrules.toml")
    service.evaluate(workspace, EvaluateOptions(fail_on="never", as_of=DAY))
    item = next(i for i in queue.action_queue(workspace) if i.kind == "prepare_agreement")
    audit_before = count_audit(workspace.db)
    # the audit entry cannot be written (as on a full disk): the apply rolls back
    with sqlite3.connect(demo_copy / "qcrules.db") as conn:
        conn.execute(
            "create trigger no_audit before insert on audit_log "
            "begin select raise(abort, 'disk full'); end"
        )
    with pytest.raises(DBAPIError):
        queue.apply_action(workspace, item.ref, today=DAY)
    assert not (Path(demo_copy) / "agreements").exists()  # rolled back: no document
    assert count_audit(workspace.db) == audit_before
    with sqlite3.connect(demo_copy / "qcrules.db") as conn:
        conn.execute("drop trigger no_audit")
    outcome = queue.apply_action(workspace, item.ref, today=DAY)
    assert Path(outcome.result["document"]).is_file()  # committed: the document is there
    workspace.close()


def test_a_worker_thread_reads_the_same_rows_and_hands_the_gil_over_while_it_reads(
    demo_copy, monkeypatch
):
    """The TUI's workers read SQLite through a cursor that pauses every few milliseconds (so
    the UI thread is not kept waiting for a whole long read); every way of reading gives the
    rows the main thread reads, and the main thread's cursor is SQLite's own."""
    from concurrent.futures import ThreadPoolExecutor

    from qcrules.model import db as dbmodule
    from qcrules.model.tables import DailyMetric
    from qcrules.workspace import Workspace

    pauses = []
    real_sleep = time.sleep
    monkeypatch.setattr(dbmodule, "PACE_EVERY_S", 0.0)  # pause at every look at the clock
    monkeypatch.setattr(
        dbmodule.time, "sleep", lambda s: (pauses.append(threading.get_ident()), real_sleep(s))
    )
    workspace = Workspace.discover(demo_copy / "qcrules.toml")
    metrics = DailyMetric.__table__
    query = select(metrics).order_by(metrics.c.id)

    def read() -> tuple[str, list, list, list, list]:
        with workspace.db.connect() as conn:
            kind = type(conn.connection.dbapi_connection.cursor()).__name__
            iterated = list(conn.execute(query))
            fetched = conn.execute(query).all()
            parts = [row for part in conn.execute(query).partitions(100) for row in part]
            one = conn.execute(query)
            singles = []
            while (row := one.fetchone()) is not None:
                singles.append(row)
        return kind, iterated, fetched, parts, singles

    try:
        mine = read()
        assert mine[0] == "Cursor" and not pauses
        with ThreadPoolExecutor(1) as pool:
            worker = pool.submit(read).result()
    finally:
        workspace.close()
    assert worker[0] == "_PacedCursor"
    assert len(mine[1]) > 1000  # long enough to pause in
    for got, want in zip(worker[1:], mine[1:], strict=True):
        assert [tuple(r) for r in got] == [tuple(r) for r in want]
    assert len(pauses) >= 4 * (len(mine[1]) // 256 - 1) and threading.get_ident() not in pauses
    # with the real pace a short read never pauses: the clock starts at its first rows
    monkeypatch.setattr(dbmodule, "PACE_EVERY_S", 0.004)
    pauses.clear()

    def read_short() -> list:
        with workspace.db.connect() as conn:
            return conn.execute(select(metrics).limit(100)).all()

    try:
        with ThreadPoolExecutor(1) as pool:
            got = pool.submit(read_short).result()
    finally:
        workspace.close()
    assert len(got) == 100 and not pauses


def _pack_reading(tmp_path: Path, field: str) -> Path:
    pack = tmp_path / "probe.toml"
    pack.write_text(
        '[pack]\nid = "probe"\nversion = "1.0.0"\nentity = "grant"\n'
        'title = { zh = "探针", en = "Probe" }\n\n[[rules]]\nid = "PRB001"\nname = "probe"\n'
        f'level = "info"\nwhen = "{field} > 1"\naction = {{ kind = "review_grant" }}\n'
        'message = "probe"\nsource = "test"\n',
        encoding="utf-8",
    )
    return pack


def test_a_change_committed_during_an_evaluation_makes_it_judge_again(
    qcrules_plugin, demo_copy, tmp_path
):
    """Parts (--jobs) and batches each read their own snapshot: an import committed between
    them gave one stored run of two states of the records. The evaluation sees the records'
    version move and judges again; a change that never stops is refused, storing nothing."""
    from qcrules import service
    from qcrules.evaluation import EvaluateOptions
    from qcrules.workspace import Workspace

    pack, writes = _pack_reading(tmp_path, "probe_value"), []

    class Meddler:
        @staticmethod
        def qcrules_register_packs(register):
            register(pack)

        @staticmethod
        def qcrules_register_fields(register):
            def compute(facts, context):
                if len(writes) < limit[0]:  # someone else's import, committed meanwhile
                    with context["db"].write("import metrics") as conn:
                        conn.exec_driver_sql("update creators set nickname = nickname")
                    writes.append(1)
                return [2 for _ in facts]

            register("probe_value", "number", "grant", "a probe", compute)

    limit = [1]
    qcrules_plugin(Meddler(), name="meddler")
    workspace = Workspace.discover(demo_copy / "qcrules.toml")
    try:
        runs = len(service.recent_runs(workspace))
        result = service.evaluate(workspace, EvaluateOptions(packs=["probe"], fail_on="never"))
        assert writes == [1] and result.findings  # judged twice: once under the change
        stored = service.recent_runs(workspace)
        assert len(stored) == runs + 1  # one run stored, of the records as they now are
        limit[0] = 99
        with pytest.raises(QcrulesError, match="changed 3 times during the evaluation"):
            service.evaluate(workspace, EvaluateOptions(packs=["probe"], fail_on="never"))
        assert len(service.recent_runs(workspace)) == runs + 1  # nothing stored
    finally:
        workspace.close()
