"""Set-based writes for imports: one INSERT … ON CONFLICT statement for a whole file.

`qcrules.model.db.upsert` (executemany of row dicts) still pays SQLAlchemy's per-row
parameter processing, which at 1.8 million metric rows costs as much as SQLite's own work.
Here values stay column-wise: SQLite gets tuples converted once per column (once per distinct
value for dates), PostgreSQL gets COPY into a temporary table and one INSERT … SELECT. JSON
None is stored as SQL NULL, and `extra` is merged rather than replaced.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from itertools import chain, repeat
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    Table,
    bindparam,
    case,
    cast,
    func,
    literal_column,
    select,
    text,
)
from sqlalchemy import column as sql_column
from sqlalchemy import table as sql_table
from sqlmodel import SQLModel

COPY_THRESHOLD = 5_000  # PostgreSQL: from this many rows in the first chunk, COPY wins


def table(model: type[SQLModel]) -> Table:
    return model.__table__  # type: ignore[attr-defined]


def _insert(conn: Connection):
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def upsert_statement(
    conn: Connection,
    model: type[SQLModel],
    key: Sequence[str],
    update: Iterable[str],
    merge_json: Iterable[str] = (),
    columns: Iterable[str] | None = None,
    source: Any = None,
    keep_stored: Iterable[str] = (),
):
    """INSERT … ON CONFLICT (key) DO UPDATE SET the `update` columns; `merge_json` columns
    are merged key by key into what is stored (a new file's extras do not erase older ones);
    a `keep_stored` column's empty cell keeps the stored value. `columns` names the columns
    every row carries (all of them if None); `source` is a SELECT to insert from (the COPY
    path) instead of bound parameters."""
    tbl = table(model)
    stmt = _insert(conn)(tbl)
    if source is not None:
        stmt = stmt.from_select(list(columns or ()), source)
    else:
        wanted = set(columns) if columns is not None else None
        # JSON columns: None must be SQL NULL (not the JSON text 'null'), so that "no value"
        # reads the same in SQL as in Python and the extras merge can tell "nothing new".
        json_columns = {
            c.name: bindparam(c.name, type_=JSON(none_as_null=True))
            for c in tbl.columns
            if isinstance(c.type, JSON) and (wanted is None or c.name in wanted)
        }
        if json_columns:
            stmt = stmt.values(json_columns)
    set_: dict[str, Any] = {c: stmt.excluded[c] for c in update if c not in key}
    for name in keep_stored:
        if name in set_:
            set_[name] = func.coalesce(stmt.excluded[name], tbl.c[name])
    for name in merge_json:
        new, old = stmt.excluded[name], tbl.c[name]
        if conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            merged = cast(
                func.coalesce(cast(old, JSONB), text("'{}'::jsonb")).op("||")(cast(new, JSONB)),
                JSON,
            )
        else:
            merged = func.json_patch(func.coalesce(old, literal_column("'{}'")), new)
        set_[name] = case((new.is_(None), old), else_=merged)
    if set_:
        return stmt.on_conflict_do_update(index_elements=list(key), set_=set_)
    return stmt.on_conflict_do_nothing(index_elements=list(key))


def upsert_columns(
    conn: Connection,
    model: type[SQLModel],
    key: Sequence[str],
    update: Iterable[str],
    names: Sequence[str],
    chunks: Iterable[Sequence[Sequence[Any]]],
    *,
    merge_json: Iterable[str] = (),
    constants: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
    copy_threshold: int | None = None,
    keep_stored: Iterable[str] = (),
) -> int:
    """Upsert rows given column-wise: each chunk holds one list of values per name, and
    `constants` are the same in every row. Returns the number of rows sent.

    SQLite: values are converted column by column with SQLAlchemy's own bind processors and
    sent as tuples, because SQLAlchemy's per-row parameter handling otherwise costs as much
    as SQLite's own work. PostgreSQL: big writes go through COPY; small ones as row dicts.
    """
    constants = constants or {}
    update, merge_json, keep_stored = list(update), list(merge_json), list(keep_stored)
    columns = [*names, *constants]
    if conn.dialect.name == "sqlite":
        stmt = upsert_statement(
            conn, model, key, update, merge_json, columns, keep_stored=keep_stored
        )
        return _sqlite_executemany(conn, stmt, names, chunks, constants, progress)
    chunks = iter(chunks)
    first = next(chunks, None)
    if first is None or not first or not len(first[0]):
        return 0
    chunks = chain([first], chunks)
    threshold = COPY_THRESHOLD if copy_threshold is None else copy_threshold
    if conn.dialect.name == "postgresql" and len(first[0]) >= threshold:
        temp = _postgres_copy(conn, model, names, chunks, constants, progress)
        source = select(*sql_table(temp.name, *(sql_column(c) for c in columns)).c)
        conn.execute(
            upsert_statement(
                conn, model, key, update, merge_json, columns, source, keep_stored=keep_stored
            )
        )
        conn.exec_driver_sql(f"DROP TABLE {temp.name}")
        return temp.rows
    stmt = upsert_statement(conn, model, key, update, merge_json, columns, keep_stored=keep_stored)
    done = 0
    for chunk in chunks:
        if not chunk or not len(chunk[0]):
            continue
        rows = [
            dict(zip(names, values, strict=True), **constants)
            for values in zip(*chunk, strict=True)
        ]
        conn.execute(stmt, rows)
        done += len(rows)
        if progress:
            progress(done)
    return done


def _sqlite_executemany(conn, stmt, names, chunks, constants, progress) -> int:
    dialect = conn.dialect
    compiled = stmt.compile(dialect=dialect, column_keys=[*names, *constants])
    order = list(compiled.positiontup or ())
    processors = {}
    for key in order:
        processor = compiled.binds[key].type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            processors[key] = processor
    fixed = {k: (processors[k](v) if k in processors else v) for k, v in constants.items()}
    position = {name: i for i, name in enumerate(names)}
    done = 0
    for chunk in chunks:
        if not chunk or not len(chunk[0]):
            continue
        n = len(chunk[0])
        ordered: list[Iterable[Any]] = []
        for key in order:
            if key in fixed:
                ordered.append(repeat(fixed[key], n))
                continue
            values = chunk[position[key]]
            processor = processors.get(key)
            ordered.append(_convert(processor, values) if processor else values)
        conn.exec_driver_sql(compiled.string, list(zip(*ordered, strict=False)))
        done += n
        if progress:
            progress(done)
    return done


class _Temp:
    def __init__(self, name: str, rows: int) -> None:
        self.name, self.rows = name, rows


def _postgres_copy(conn, model, names, chunks, constants, progress) -> _Temp:
    """COPY the rows into a temporary table shaped like the target's columns."""
    tbl = table(model)
    columns = [*names, *constants]
    temp = "qcrules_import_rows"
    quoted = ", ".join(f'"{c}"' for c in columns)
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {temp}")
    conn.exec_driver_sql(
        f'CREATE TEMP TABLE {temp} ON COMMIT DROP AS SELECT {quoted} FROM "{tbl.name}" WITH NO DATA'
    )
    json_names = {c.name for c in tbl.columns if isinstance(c.type, JSON)}
    fixed = [_json_text(v) if k in json_names else v for k, v in constants.items()]
    done = 0
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {temp} ({quoted}) FROM STDIN") as copy:
        write = copy.write_row
        for chunk in chunks:
            if not chunk or not len(chunk[0]):
                continue
            n = len(chunk[0])
            parts: list[Iterable[Any]] = [
                map(_json_text, values) if name in json_names else values
                for name, values in zip(names, chunk, strict=True)
            ]
            parts.extend(repeat(v, n) for v in fixed)
            for row in zip(*parts, strict=False):
                write(row)
            done += n
            if progress:
                progress(done)
    cursor.close()
    return _Temp(temp, done)


def _json_text(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


def _convert(processor: Callable[[Any], Any], values: Sequence[Any]):
    """Apply a bind processor once per distinct value (dates repeat a lot), else per value."""
    try:
        distinct = set(values)
    except TypeError:  # JSON values (dicts, lists)
        return map(processor, values)
    if len(distinct) * 4 > len(values):
        return map(processor, values)
    converted = {value: processor(value) for value in distinct}
    return map(converted.__getitem__, values)


def count(conn: Connection, model: type[SQLModel], **where: Any) -> int:
    tbl = table(model)
    query = select(func.count()).select_from(tbl)
    for column, value in where.items():
        query = query.where(tbl.c[column] == value)
    return int(conn.execute(query).scalar_one())


def existing(conn: Connection, column, values: Iterable[Any], *extra_where, size: int = 900):
    """The subset of `values` present in `column` (chunked IN lists, any dialect)."""
    found: set[Any] = set()
    values = list(values)
    for start in range(0, len(values), size):
        part = values[start : start + size]
        query = select(column).where(column.in_(part), *extra_where)
        found.update(conn.execute(query).scalars())
    return found
