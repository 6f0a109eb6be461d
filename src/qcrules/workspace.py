"""A workspace: its configuration and its database, opened once per command."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path

from qcrules.config import CONFIG_NAME, CONFIG_TEMPLATE, Config, find_config, load_config
from qcrules.errors import ConfigError, UsageError
from qcrules.i18n import did_you_mean, tr
from qcrules.model import Database, open_database
from qcrules.model.db import DatabaseError


class Workspace:
    def __init__(self, config: Config) -> None:
        self.config = config
        # where warnings found once the database is open go (the CLI prints them at once);
        # without one they join config.warnings
        self.on_warning: Callable[[str], None] | None = None

    @classmethod
    def discover(
        cls,
        config_file: str | Path | None = None,
        database_url: str | None = None,
        *,
        require: bool = True,
        cwd: Path | None = None,
    ) -> Workspace:
        path = find_config(config_file, cwd=cwd)
        if path is None and require and not database_url:
            import os

            if not os.environ.get("QCRULES_DATABASE_URL"):
                here = (cwd or Path.cwd()).resolve()
                raise UsageError(
                    f"no {CONFIG_NAME} found in {here} or any folder above it",
                    hint="run `qcrules init` here, `qcrules demo` to try qcrules, "
                    "or pass --config FILE",
                )
        config = load_config(path, cwd=cwd)
        if database_url:
            config.database_url = database_url
        return cls(config)

    @property
    def root(self) -> Path:
        return self.config.root

    @cached_property
    def db(self) -> Database:
        """The workspace's database; an error (exit 2) when there is none at the URL or its
        schema is not this release's — only `init` creates one."""
        try:
            db = open_database(self.config.database_url, create=False)
        except DatabaseError as exc:
            raise ConfigError(str(exc), hint=exc.hint) from exc
        self._check_merchant_defaults(db)
        return db

    def _check_merchant_defaults(self, db: Database) -> None:
        """A [merchant.X] table for a merchant the database does not hold is a warning: its
        defaults would silently apply to nothing (a typo, or a merchant not imported yet)."""
        named = self.config.merchants
        if not named:
            return

        from sqlalchemy import select

        from qcrules.model.db import table
        from qcrules.model.tables import Merchant

        column = table(Merchant).c.merchant_id
        with db.connect() as conn:
            known = set(conn.execute(select(column)).scalars())
        for mid in sorted(set(named) - known):
            line = self.config.merchant_lines.get(mid)
            where = f"{self.config.path}:{line}" if line else str(self.config.path)
            message = (
                f"{where}: [merchant.{mid}] names no merchant in the database; its defaults "
                "apply to nothing"
                + did_you_mean(mid, sorted(known), form="[merchant.{}]")
                + " (import the merchant, or correct the id)"
            )
            if self.on_warning is not None:
                self.on_warning(message)
            else:
                self.config.warnings.append(message)

    def open_db(self, *, check: bool = True) -> Database:
        """The database; without `check`, also one whose schema needs `qcrules db upgrade`."""
        if check or "db" in self.__dict__:
            return self.db
        try:
            db = open_database(self.config.database_url, create=False, check=False)
            if db.revision() is None:
                from qcrules.model.db import no_workspace

                db.close()
                raise no_workspace(self.config.database_url, "the database has no qcrules tables")
        except DatabaseError as exc:
            raise ConfigError(str(exc), hint=exc.hint) from exc
        self.__dict__["db"] = db
        return db

    def reload_config(self) -> None:
        """Read qcrules.toml again (an app stays open while the file is edited); the database
        URL in use stays, as a --database-url given at start still holds. A broken file is a
        ConfigError and leaves the settings in effect as they were."""
        if self.config.path is None:
            return
        config = load_config(self.config.path)
        config.database_url = self.config.database_url
        self.config = config

    def records(self) -> dict[str, int]:
        """How many merchants, creators, grants and metric rows the database holds: `init`
        on a team's database says it joined them, and never writes demo data over them."""
        from sqlalchemy import func, select

        from qcrules.model.db import table
        from qcrules.model.tables import Creator, DailyMetric, Grant, Merchant

        with self.db.connect() as conn:
            return {
                name: int(conn.execute(select(func.count()).select_from(table(model))).scalar())
                for name, model in (
                    ("merchants", Merchant),
                    ("creators", Creator),
                    ("grants", Grant),
                    ("metric rows", DailyMetric),
                )
            }

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.close()


def init_workspace(
    folder: Path,
    *,
    exist_ok: bool = False,
    database_url: str | None = None,
    require_empty: bool = False,
) -> Workspace:
    """Write qcrules.toml and create the database; refuse to overwrite a workspace. With
    `database_url` (`qcrules --database-url URL init`) the schema goes there and the config
    names it (without its password): a database that already holds records is joined (a
    team's server; `Workspace.records` says what it holds), or with `require_empty` (demo
    data about to be written) refused. A failed init leaves nothing behind."""
    folder = folder.expanduser().resolve()
    made_folder = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    config_path = folder / CONFIG_NAME
    if config_path.exists() and not exist_ok:
        raise UsageError(
            f"{config_path} already exists",
            hint="this folder is already a workspace; choose another folder",
        )
    wrote_config = not config_path.exists()
    if wrote_config:
        template = CONFIG_TEMPLATE
        if database_url:
            line = 'url = "sqlite:///qcrules.db"'
            template = template.replace(
                line, f"url = {_toml_string(_without_password(database_url))}"
            )
        config_path.write_text(template, encoding="utf-8")
    before = set(folder.iterdir())
    try:
        config = load_config(config_path)
        if database_url:
            config.database_url = database_url
        try:
            db = open_database(config.database_url, create=True)
        except DatabaseError as exc:
            raise ConfigError(str(exc), hint=exc.hint) from exc
        workspace = Workspace(config)
        workspace.__dict__["db"] = db
        held = workspace.records()
        if require_empty and any(held.values()):
            db.close()
            shown = describe_records(held)
            raise UsageError(
                tr(
                    f"数据库 {_without_password(config.database_url)} 已有数据（{shown}）："
                    "不会把演示数据写进去",
                    f"the database {_without_password(config.database_url)} already holds "
                    f"records ({shown}): demo data is never written into it",
                ),
                hint=tr(
                    "演示请用新的数据库（或不加 --database-url）；加入这个工作区请去掉 --demo",
                    "for a demo use a new database (or no --database-url); "
                    "to join this workspace, leave out --demo",
                ),
            )
        return workspace
    except BaseException:
        for path in set(folder.iterdir()) - before:  # the database files it created
            if path.is_file():
                path.unlink(missing_ok=True)
        if wrote_config:
            config_path.unlink(missing_ok=True)
        if made_folder and not any(folder.iterdir()):
            folder.rmdir()
        raise


_RECORDS_ZH = {"merchants": "个商家", "creators": "位达人", "grants": "条授权"}
_RECORDS_ZH["metric rows"] = "行日指标"


def describe_records(counts: dict[str, int]) -> str:
    """`Workspace.records` as words: "4 merchants, 400 creators" / "4 个商家、400 位达人"."""
    return tr("、", ", ").join(
        tr(f"{n:,} {_RECORDS_ZH.get(name, name)}", f"{n:,} {name}")
        for name, n in counts.items()
        if n
    )


def _without_password(url: str) -> str:
    """The URL to keep in qcrules.toml: a password belongs in PGPASSWORD or ~/.pgpass."""
    from sqlalchemy.engine import URL, make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        return url
    if parsed.password is None:
        return url
    bare = URL.create(
        parsed.drivername,
        username=parsed.username,
        host=parsed.host,
        port=parsed.port,
        database=parsed.database,
        query=parsed.query,
    )
    return bare.render_as_string(hide_password=False)


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
