"""Opening a workspace database: SQLite (WAL, busy timeout) by default, PostgreSQL by URL.

Also the one dialect-aware bulk upsert that imports and the demo generator share, so no layer
above this one needs to know which database it talks to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, inspect, select
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlmodel import SQLModel

from qcrules.model import tables as _tables  # noqa: F401  (registers the tables)
from qcrules.model.tables import SchemaMeta

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 10_000

# version -> function(connection) that brings the schema from version-1 to version.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {}


class DatabaseError(Exception):
    """Raised with a message a user can act on (the URL, what failed, what to try)."""


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


def _make_engine(url: str) -> Engine:
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

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


class Database:
    """A workspace's database: an engine plus schema management."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _make_engine(url)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def begin(self):
        """One transaction: everything inside commits together or not at all."""
        with self.engine.begin() as conn:
            yield conn

    def connect(self):
        return self.engine.connect()

    def schema_version(self) -> int | None:
        with self.engine.connect() as conn:
            if not inspect(conn).has_table(SchemaMeta.__tablename__):
                return None
            row = conn.execute(
                select(SchemaMeta.value).where(SchemaMeta.key == "schema_version")
            ).first()
            return int(row[0]) if row else None

    def ensure_schema(self) -> None:
        """Create a new schema, or migrate an older one; refuse a newer one."""
        try:
            version = self.schema_version()
        except OperationalError as exc:
            raise DatabaseError(f"cannot open database {redact(self.url)}: {exc.orig}") from exc
        if version is None:
            SQLModel.metadata.create_all(self.engine)
            with self.begin() as conn:
                conn.execute(
                    SchemaMeta.__table__.insert().values(
                        key="schema_version", value=str(SCHEMA_VERSION)
                    )
                )
            return
        if version > SCHEMA_VERSION:
            raise DatabaseError(
                f"database {redact(self.url)} has schema version {version}, newer than this "
                f"qcrules understands ({SCHEMA_VERSION}); upgrade qcrules."
            )
        for step in range(version + 1, SCHEMA_VERSION + 1):
            with self.begin() as conn:
                MIGRATIONS[step](conn)
                conn.execute(
                    SchemaMeta.__table__.update()
                    .where(SchemaMeta.key == "schema_version")
                    .values(value=str(step))
                )
        # tables added without a migration step (new, empty tables) are created here
        SQLModel.metadata.create_all(self.engine)


def open_database(url: str, *, create: bool = True) -> Database:
    db = Database(url)
    if create:
        db.ensure_schema()
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
