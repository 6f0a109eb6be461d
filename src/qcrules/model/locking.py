"""The workspace's write lock: one writer at a time, a bounded and explained wait.

Every change (storing a run, an import, an action, a pool change, an undo) runs in
`Database.write(kind)`: a transaction that first takes the workspace's write lock, so the
state it checks and the rows it reads cannot change before it commits. SQLite: `BEGIN
IMMEDIATE` (the database's single writer lock). PostgreSQL: a transaction-scoped advisory
lock keyed by the schema. Readers are never blocked (WAL / MVCC).

Whoever holds the lock says what it is doing (SQLite: a small `<db>.writer` note beside the
file; PostgreSQL: the session's application_name), so a blocked command can tell its user
"another qcrules is writing this workspace (import, pid 4242)" instead of a traceback.
"""

from __future__ import annotations

import json
import os
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError, OperationalError

from qcrules.errors import QcrulesError
from qcrules.i18n import tr

if TYPE_CHECKING:
    from qcrules.model.db import Database

LOCK_CLASS = 0x5143  # 'QC': the first key of the PostgreSQL advisory lock
FIRST_TRY_MS = 200  # before telling the user we wait
DEFAULT_WAIT_S = 30.0


class WorkspaceBusyError(QcrulesError):
    """Another qcrules held the workspace's write lock for longer than we wait."""


def lock_wait_seconds() -> float:
    """How long a writer waits for another one ($QCRULES_LOCK_TIMEOUT seconds, default 30)."""
    raw = os.environ.get("QCRULES_LOCK_TIMEOUT", "").strip()
    try:
        value = float(raw) if raw else DEFAULT_WAIT_S
    except ValueError:
        value = DEFAULT_WAIT_S
    return max(0.0, min(value, 24 * 3600.0))


def _stderr_notice(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


_notice: Callable[[str], None] = _stderr_notice


def set_wait_notice(callback: Callable[[str], None] | None) -> None:
    """Where "waiting for another writer" goes (stderr by default; the TUI shows it itself)."""
    global _notice
    _notice = callback or _stderr_notice


def waiting_message(holder: str | None) -> str:
    who = f" ({holder})" if holder else ""
    return tr(
        f"另一个 qcrules 正在写入此工作区{who}；等待中…",
        f"another qcrules is writing this workspace{who}; waiting…",
    )


def _busy_error(holder: str | None, waited: float) -> WorkspaceBusyError:
    what = holder or tr("未知操作", "unknown work")
    return WorkspaceBusyError(
        tr(
            f"另一个 qcrules 正在写入此工作区（{what}），等了 {waited:.0f} 秒仍未结束；"
            "什么都没有改变",
            f"another qcrules is writing this workspace ({what}) and did not finish within "
            f"{waited:.0f} s; nothing was changed",
        ),
        hint=tr(
            "等它完成后重试，或用 QCRULES_LOCK_TIMEOUT=秒数 等更久",
            "try again when it has finished, or wait longer with QCRULES_LOCK_TIMEOUT=SECONDS",
        ),
    )


def describe_writer(kind: str) -> str:
    return f"{kind}, pid {os.getpid()}"


def _is_busy(exc: BaseException) -> bool:
    text_ = str(getattr(exc, "orig", exc)).lower()
    return "database is locked" in text_ or "database is busy" in text_


# --- SQLite --------------------------------------------------------------------------------


def _note_path(db: Database) -> Path | None:
    path = db.sqlite_path
    return None if path is None else path.with_name(path.name + ".writer")


def _read_note(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        note = json.loads(path.read_text(encoding="utf-8"))
        return f"{note['kind']}, pid {note['pid']}"
    except (OSError, ValueError, KeyError, TypeError):
        return None


@contextmanager
def _sqlite_write(db: Database, kind: str) -> Iterator[Connection]:
    conn = db.engine.connect()
    try:
        raw = conn.connection.driver_connection
        limit = lock_wait_seconds()
        start = time.monotonic()
        told = False
        raw.execute(f"PRAGMA busy_timeout={min(FIRST_TRY_MS, int(limit * 1000))}")
        while True:
            try:
                raw.execute("BEGIN IMMEDIATE")
                break
            except Exception as exc:  # sqlite3.OperationalError
                if not _is_busy(exc):
                    raise
                waited = time.monotonic() - start
                holder = _read_note(_note_path(db))
                if not told:  # said even when the first try used up the limit (a busy machine)
                    _notice(waiting_message(holder))
                    told = True
                if waited >= limit:
                    raise _busy_error(holder, waited) from None
                step = max(50, int(min(1.0, limit - waited) * 1000))
                raw.execute(f"PRAGMA busy_timeout={step}")
        raw.execute(f"PRAGMA busy_timeout={int(max(limit, 1.0) * 1000)}")
        note = _note_path(db)
        if note is not None:
            with suppress(OSError):
                note.write_text(
                    json.dumps({"kind": kind, "pid": os.getpid(), "at": time.time()}),
                    encoding="utf-8",
                )
        try:
            with conn.begin():  # SQLAlchemy joins the transaction begun above
                yield conn
        finally:
            if note is not None:
                with suppress(OSError):
                    if _read_note(note) == describe_writer(kind):
                        note.unlink()
    finally:
        conn.close()


# --- PostgreSQL ----------------------------------------------------------------------------


def _pg_key(conn: Connection) -> int:
    schema = conn.execute(text("select current_schema()")).scalar_one() or "public"
    return zlib.crc32(schema.encode("utf-8")) & 0x7FFFFFFF


def _pg_holder(db: Database, key: int) -> str | None:
    try:
        with db.engine.connect() as other:
            name = other.execute(
                text(
                    "select a.application_name from pg_locks l join pg_stat_activity a "
                    "on a.pid = l.pid where l.locktype = 'advisory' and l.granted "
                    "and l.classid = :c and l.objid = :k limit 1"
                ),
                {"c": LOCK_CLASS, "k": key},
            ).scalar()
    except DBAPIError:
        return None
    if name and name.startswith("qcrules "):
        return name[len("qcrules ") :]
    return name or None


@contextmanager
def _postgres_write(db: Database, kind: str) -> Iterator[Connection]:
    with db.engine.connect() as conn:
        key = _pg_key(conn)
        conn.rollback()
        limit = lock_wait_seconds()
        with conn.begin():
            got = conn.execute(
                text("select pg_try_advisory_xact_lock(:c, :k)"), {"c": LOCK_CLASS, "k": key}
            ).scalar()
            if not got:
                holder = _pg_holder(db, key)
                _notice(waiting_message(holder))
                start = time.monotonic()
                conn.execute(text(f"set local lock_timeout = {int(max(limit, 0.05) * 1000)}"))
                try:
                    conn.execute(
                        text("select pg_advisory_xact_lock(:c, :k)"), {"c": LOCK_CLASS, "k": key}
                    )
                except OperationalError as exc:
                    if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available
                        raise
                    raise _busy_error(
                        _pg_holder(db, key) or holder, time.monotonic() - start
                    ) from None
                conn.execute(text("set local lock_timeout = 0"))
            conn.execute(
                text("select set_config('application_name', :n, true)"),
                {"n": f"qcrules {describe_writer(kind)}"},
            )
            yield conn


@contextmanager
def write_transaction(db: Database, kind: str) -> Iterator[Connection]:
    """One transaction holding the workspace's write lock; see the module's docstring."""
    if db.dialect == "sqlite":
        manager = _sqlite_write(db, kind)
    elif db.dialect == "postgresql":
        manager = _postgres_write(db, kind)
    else:  # pragma: no cover - other databases: the plain transaction
        manager = db.begin()
    try:
        with manager as conn:
            yield conn
    except OperationalError as exc:
        if _is_busy(exc):  # a lock lost mid-way (e.g. a checkpoint): still explained
            raise _busy_error(_read_note(_note_path(db)), lock_wait_seconds()) from None
        raise
