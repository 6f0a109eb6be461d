"""A workspace: its configuration and its database, opened once per command."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from qcrules.config import CONFIG_NAME, CONFIG_TEMPLATE, Config, find_config, load_config
from qcrules.errors import ConfigError, UsageError
from qcrules.model import Database, open_database
from qcrules.model.db import DatabaseError


class Workspace:
    def __init__(self, config: Config) -> None:
        self.config = config

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
        try:
            return open_database(self.config.database_url)
        except DatabaseError as exc:
            raise ConfigError(str(exc)) from exc

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.close()


def init_workspace(folder: Path, *, exist_ok: bool = False) -> Workspace:
    """Write qcrules.toml and create the database; refuse to overwrite a workspace."""
    folder = folder.expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    config_path = folder / CONFIG_NAME
    if config_path.exists() and not exist_ok:
        raise UsageError(
            f"{config_path} already exists",
            hint="this folder is already a workspace; choose another folder",
        )
    if not config_path.exists():
        config_path.write_text(CONFIG_TEMPLATE, encoding="utf-8")
    workspace = Workspace(load_config(config_path))
    workspace.db  # noqa: B018  (creates the schema)
    return workspace
