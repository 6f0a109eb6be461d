"""Opening a workspace database: SQLite (WAL, busy timeout) by default, PostgreSQL by URL.

Also the one dialect-aware bulk upsert that imports and the demo generator share, so no layer
above this one needs to know which database it talks to.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    create_engine,
    event,
    inspect,
    make_url,
    select,
    text,
)
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlmodel import SQLModel

from qcrules.i18n import tr
from qcrules.model import tables as _tables  # noqa: F401  (registers the tables)
from qcrules.model.tables import SchemaMeta

SCHEMA_VERSION = 2  # schema_meta's version; Alembic revisions (model/migrations) since
BUSY_TIMEOUT_MS = 10_000
VERSION_TABLE = "alembic_version"


class DatabaseError(Exception):
    """Raised with a message a user can act on (the URL, what failed, what to try)."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


# writes that only store evaluation runs: the records a run is worked out from stay the same
RUN_ONLY_WRITES = frozenset({"evaluate", "runs merge"})
DATA_VERSION_KEY = "data_version"


def read_data_version(conn: Connection) -> str:
    """The workspace's data version (Database.data_version) as `conn` sees it."""
    meta = SchemaMeta.__table__
    value = conn.execute(
        select(meta.c.value).where(meta.c.key == DATA_VERSION_KEY)
    ).scalar_one_or_none()
    return value or ""


def next_data_version(conn: Connection) -> None:
    """A new data version, in the transaction that changes the records."""
    meta = SchemaMeta.__table__
    version = uuid.uuid4().hex
    done = conn.execute(meta.update().where(meta.c.key == DATA_VERSION_KEY).values(value=version))
    if not done.rowcount:
        conn.execute(meta.insert().values(key=DATA_VERSION_KEY, value=version))


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else url
    return url


def _sqlite_file(url: str) -> Path | None:
    """The file an sqlite URL names (None: in memory, or not SQLite)."""
    if not url.startswith("sqlite"):
        return None
    try:
        database = make_url(url).database
    except ArgumentError:
        return None
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


_MAIN_THREAD = threading.main_thread().ident
PACE_EVERY_S = 0.004  # a worker thread reading rows pauses this often …
PACE_S = 0.0003  # … for this long
_CHECK_ROWS = 64  # rows between two looks at the clock


class _PacedCursor(sqlite3.Cursor):
    """A cursor for threads other than the main one (the TUI's workers), which pauses for
    0.3 ms every 4 ms of reading.

    SQLite releases the GIL for each row it steps and takes it back at once. CPython's GIL
    only makes a running thread give way when nobody else took the GIL during the waiting
    thread's interval, and each row counts as a hand-over: so a worker reading a long
    result kept the app's UI thread waiting for the whole read (57-87 ms at L). A real pause
    hands the GIL over."""

    _rows = 0
    _since = 0.0

    def _tick(self, rows: int) -> None:
        self._rows += rows
        if self._rows >= _CHECK_ROWS:
            self._rows = 0
            now = time.perf_counter()
            if not self._since:  # the read's first rows: the clock starts here
                self._since = now
            elif now - self._since >= PACE_EVERY_S:
                time.sleep(PACE_S)
                self._since = time.perf_counter()

    def fetchone(self) -> Any:
        self._tick(1)
        return super().fetchone()

    def __next__(self) -> Any:
        self._tick(1)
        return super().__next__()

    def fetchmany(self, size: int | None = None) -> list[Any]:
        rows = super().fetchmany(self.arraysize if size is None else size)
        self._tick(len(rows))
        return rows

    def fetchall(self) -> list[Any]:
        rows: list[Any] = []
        while chunk := super().fetchmany(_CHECK_ROWS * 4):
            rows.extend(chunk)
            self._tick(len(chunk))
        return rows


class _Connection(sqlite3.Connection):
    """Gives the main thread SQLite's own cursor (the CLI pays nothing), others a paced one."""

    def cursor(self, factory: Any = None) -> Any:  # type: ignore[override]
        if factory is None:
            factory = sqlite3.Cursor if threading.get_ident() == _MAIN_THREAD else _PacedCursor
        return super().cursor(factory)


def _make_engine(url: str) -> Engine:
    try:
        if url.startswith("sqlite"):
            engine = create_engine(
                url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "factory": _Connection}
            )

            @event.listens_for(engine, "connect")
            def _pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.close()

            return engine
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        return create_engine(url, pool_pre_ping=True)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise DatabaseError(
            f"cannot use database URL {redact(url)!r}: {exc}. "
            "Use sqlite:///PATH or postgresql+psycopg://user@host/db "
            "(PostgreSQL needs: pip install 'qcrules[postgres]')."
        ) from exc
    except ModuleNotFoundError as exc:
        raise DatabaseError(
            f"database URL {redact(url)!r} needs the driver {exc.name!r}: "
            "pip install 'qcrules[postgres]'"
        ) from exc


def no_workspace(url: str, why: str | None = None) -> DatabaseError:
    return DatabaseError(
        tr(f"{redact(url)} 没有 qcrules 工作区", f"no qcrules workspace at {redact(url)}")
        + (f" ({why})" if why else ""),
        hint=tr(
            "用 qcrules init 创建（PostgreSQL：qcrules --database-url URL init），"
            "或用 --config / --database-url 指向已有的工作区",
            "create one with qcrules init (PostgreSQL: qcrules --database-url URL init), "
            "or point --config / --database-url at an existing one",
        ),
    )


class Database:
    """A workspace's database: an engine plus schema management."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _make_engine(url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def sqlite_path(self) -> Path | None:
        return _sqlite_file(self.url) if self.dialect == "sqlite" else None

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def begin(self):
        """One transaction: everything inside commits together or not at all."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def write(self, kind: str):
        """A transaction holding the workspace's write lock (qcrules.model.locking): what it
        checks and reads cannot change before it commits. `kind` names the work for others.
        Unless it only stores runs, it also counts one more data version (`data_version`)."""
        from qcrules.model.locking import write_transaction

        with write_transaction(self, kind) as conn:
            yield conn
            if kind not in RUN_ONLY_WRITES:
                next_data_version(conn)

    def data_version(self) -> str:
        """A token that every change qcrules makes to this workspace's records replaces
        (imports, actions, grants, pool changes, holds, migrations): what was worked out from
        the records under one token (a backtest) still holds while it is the same. A copy of
        the workspace has the same token, as it has the same records; writes made outside
        qcrules (a SQL client) do not replace it. "" until a qcrules write sets one."""
        with self.engine.connect() as conn:
            return read_data_version(conn)

    def connect(self):
        return self.engine.connect()

    # -- schema ---------------------------------------------------------------------------------
    def revision(self) -> str | None:
        """The schema's Alembic revision; "legacy" for a workspace of the releases before
        migrations (schema_meta, no alembic_version); None for an empty database."""
        try:
            with self.engine.connect() as conn:
                names = set(inspect(conn).get_table_names())
                if VERSION_TABLE in names:
                    row = conn.execute(text(f"select version_num from {VERSION_TABLE}")).first()
                    if row:
                        return str(row[0])
                if SchemaMeta.__tablename__ in names:
                    return "legacy"
                return None
        except OperationalError as exc:
            if "does not exist" in str(exc.orig):
                missing = no_workspace(self.url, tr("数据库不存在", "the database does not exist"))
                missing.hint = tr(
                    "先创建数据库（例如 createdb qcrules），再运行 qcrules --database-url URL init",
                    "create the database first (e.g. createdb qcrules), then run "
                    "qcrules --database-url URL init",
                )
                raise missing from exc
            raise DatabaseError(
                tr(
                    f"无法打开数据库 {redact(self.url)}：",
                    f"cannot open database {redact(self.url)}: ",
                )
                + str(exc.orig).strip()
            ) from exc

    def create_schema(self) -> None:
        """A new workspace's schema, at the newest revision (the models equal the migrations:
        tests/test_migrations.py checks it)."""
        from qcrules.model.migrations import HEAD

        with self.write("init") as conn:
            SQLModel.metadata.create_all(conn)
            conn.execute(
                SchemaMeta.__table__.insert().values(
                    key="schema_version", value=str(SCHEMA_VERSION)
                )
            )
            conn.execute(
                text(
                    f"create table if not exists {VERSION_TABLE} (version_num varchar(32) not null primary key)"
                )
            )
            conn.execute(
                text(f"insert into {VERSION_TABLE} (version_num) values (:v)"), {"v": HEAD}
            )

    def check_schema(self, *, create: bool = False) -> None:
        """Refuse a database that is not a workspace at this release's schema, saying what
        to do; with `create`, make the schema of an empty database."""
        from qcrules.model.migrations import HEAD

        revision = self.revision()
        if revision == HEAD:
            return
        if revision is None:
            if not create:
                raise no_workspace(
                    self.url, tr("数据库里没有它的表", "the database has no qcrules tables")
                )
            self.create_schema()
            return
        from qcrules.model import migrate

        if not migrate.is_known(revision):
            raise DatabaseError(
                tr(
                    f"{redact(self.url)} 的结构版本 {revision} 比此 qcrules 新",
                    f"{redact(self.url)} has schema revision {revision}, newer than this qcrules "
                    f"knows ({HEAD})",
                ),
                hint=tr("升级 qcrules", "upgrade qcrules (pip install -U qcrules)"),
            )
        raise DatabaseError(
            tr(
                f"{redact(self.url)} 由较早版本的 qcrules 创建（结构 {revision}，需要 {HEAD}）",
                f"{redact(self.url)} was made by an earlier qcrules (schema {revision}, this "
                f"release needs {HEAD})",
            ),
            hint=tr(
                "运行 qcrules db upgrade（SQLite 会先备份数据库文件）",
                "run qcrules db upgrade (it backs up an SQLite file first)",
            ),
        )


def open_database(url: str, *, create: bool = True, check: bool = True) -> Database:
    """The workspace database at `url`. Without `create`, a missing SQLite file or an empty
    database is "no qcrules workspace" (nothing is created); `check` refuses a schema other
    than this release's."""
    try:
        named = make_url(url).database
    except ArgumentError:
        named = "?"  # _make_engine says what is wrong with it
    if not named or named == ":memory:":
        raise no_workspace(
            url,
            tr("URL 没有指明数据库", "the URL names no database")
            + (" (postgresql+psycopg://user@host/DB)" if url.startswith("postgres") else ""),
        )
    path = _sqlite_file(url)
    if not create and path is not None and not path.is_file():
        raise no_workspace(url, tr("文件不存在", "the file does not exist"))
    if create and path is not None and not path.parent.is_dir():
        raise DatabaseError(
            tr(f"文件夹 {path.parent} 不存在", f"the folder {path.parent} does not exist"),
            hint=tr("先创建它，或换一个路径", "create it first, or choose another path"),
        )
    db = Database(url)
    if check:
        try:
            db.check_schema(create=create)
        except BaseException:
            db.close()
            raise
    return db


def table(model: type[SQLModel]) -> Table:
    return model.__table__  # type: ignore[attr-defined]


def upsert(
    conn: Connection,
    model: type[SQLModel],
    rows: Sequence[dict[str, Any]],
    key: Iterable[str],
    *,
    update: Iterable[str] | None = None,
    chunk: int = 20000,
) -> None:
    """Insert rows, updating the given columns where the key already exists (set-based).

    One statement compiled once and run as executemany: a multi-row VALUES clause per chunk
    costs ~10x more to compile than to run at import sizes (200k rows: 30 s against 3 s).
    """
    if not rows:
        return
    tbl = table(model)
    key = list(key)
    columns = list(rows[0].keys())
    update = [c for c in (update if update is not None else columns) if c not in key]
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    stmt = dialect_insert(tbl)
    if update:
        stmt = stmt.on_conflict_do_update(
            index_elements=key, set_={c: stmt.excluded[c] for c in update}
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=key)
    for start in range(0, len(rows), chunk):
        conn.execute(stmt, list(rows[start : start + chunk]))


def insert_only_missing(
    conn: Connection, model: type[SQLModel], rows: Sequence[dict[str, Any]], key: Iterable[str]
) -> None:
    """Insert rows whose key is new; existing rows keep every column as it is."""
    upsert(conn, model, rows, key, update=[])
