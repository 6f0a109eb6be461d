"""Shared fixtures. Database tests run on SQLite always and on PostgreSQL when
QCRULES_TEST_DATABASE_URL names a server (.ci/run sets it when one answers locally)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest

from qcrules.model import open_database

pytest_plugins = ["qcrules.testing"]
pytest.register_assert_rewrite("helpers")  # shared test helpers: tests/helpers.py

# the engine this interpreter runs: durable-rules, or the plain-Python reading on 3.13+
from qcrules.engine import durable_available  # noqa: E402

ENGINE = "durable-rules" if durable_available()[0] else "python"

PG_URL = os.environ.get("QCRULES_TEST_DATABASE_URL", "").strip()
_PG_NOTICE = (
    "PostgreSQL half skipped: set QCRULES_TEST_DATABASE_URL="
    "postgresql+psycopg://postgres@127.0.0.1:5432/test to run it"
)

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def pytest_xdist_auto_num_workers(config):
    """`-n auto`: two workers per core. A TUI test spends part of its time waiting (pilot
    pauses, a child process's backtest or what-if, debounce timers), and a second worker
    fills those waits: on the 2-core machine the suite took 150 s with four workers against
    186 s with two, back to back."""
    return 2 * (os.cpu_count() or 1)


def pytest_report_header(config):
    return f"qcrules database backends: sqlite{', postgres' if PG_URL else ' (' + _PG_NOTICE + ')'}"


def pytest_terminal_summary(terminalreporter):
    if not PG_URL:
        terminalreporter.write_line(f"NOTICE: {_PG_NOTICE}", yellow=True)


def _pg_schema_url(schema: str) -> str:
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path):
    """A fresh, empty database URL: an SQLite file, or a private PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'qcrules.db'}"
        return
    if not PG_URL:
        pytest.skip(_PG_NOTICE)
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    conninfo = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield _pg_schema_url(schema)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def db(db_url):
    database = open_database(db_url)
    yield database
    database.close()


# Variables the in-process run sets around one call; any other (engine switches, terminal
# emulation) changes what a process loads once, so it gets its own process.
IN_PROCESS_ENV = {
    "QCRULES_LANG",
    "QCRULES_ACTOR",
    "NO_COLOR",
    "COLUMNS",
    "QCRULES_DATABASE_URL",
    "QCRULES_CONFIG",
    "QCRULES_LOCK_TIMEOUT",
    "QCRULES_ENGINE",  # read by every evaluation
}
# Read when the plugin host is made: the in-process run makes a fresh host around the call
PLUGIN_ENV = {"QCRULES_LOAD_PLUGINS", "QCRULES_DISABLE_PLUGINS"}


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, input: str | None = None):
    """Run the real `qcrules` CLI: its `main()` in this process, with its own cwd, environment,
    stdin, stdout and stderr, and its exit code as a process would report it — or, where the
    call needs a fresh process (see IN_PROCESS_ENV), or QCRULES_TEST_CLI=process asks for
    every call in one, a subprocess. The in-process call saves a second of interpreter and
    import start-up per call: the CLI's tests ran 10× faster.

    A PYTHONPATH of installed plugins (a site folder with their dist-info) is put in front of
    sys.path for the call, with a fresh plugin host, and taken out after it with the modules
    it loaded; a folder that would shadow a module already imported (a fake `durable`) needs
    a process."""
    env = dict(env or {})
    extra = [p for p in (env.get("PYTHONPATH") or "").split(os.pathsep) if p]
    extra = [p for p in extra if p not in sys.path]
    if (
        os.environ.get("QCRULES_TEST_CLI") == "process"
        or set(env) - IN_PROCESS_ENV - PLUGIN_ENV - {"PYTHONPATH"}
        or any(_shadows_a_loaded_module(Path(p)) for p in extra)
    ):
        return run_cli_process(*args, cwd=cwd, env=env, input=input)
    env.pop("PYTHONPATH", None)
    if not extra and not set(env) & PLUGIN_ENV:
        return _run_in_process(list(args), cwd, env, input)
    import importlib

    import qcrules.cli as cli_module
    from qcrules.plugins.manager import reset_host

    before = set(sys.modules)
    commands, added = dict(cli_module.cli.commands), cli_module._plugin_commands_added
    sys.path[:0] = extra
    importlib.invalidate_caches()
    reset_host()
    cli_module._plugin_commands_added = False  # this call's plugins add their subcommands
    try:
        return _run_in_process(list(args), cwd, env, input)
    finally:
        del sys.path[: len(extra)]
        reset_host()
        cli_module.cli.commands.clear()
        cli_module.cli.commands.update(commands)
        cli_module._plugin_commands_added = added
        for name in set(sys.modules) - before:
            where = getattr(sys.modules[name], "__file__", None) or ""
            if any(where.startswith(p) for p in extra):
                del sys.modules[name]
        importlib.invalidate_caches()


def _shadows_a_loaded_module(folder: Path) -> bool:
    if not folder.is_dir():
        return False
    names = {p.name.removesuffix(".py") for p in folder.iterdir() if p.suffix in ("", ".py")}
    return bool(names & set(sys.modules))


def _run_in_process(args: list[str], cwd: Path | None, env: dict, input: str | None):
    import io

    from qcrules.cli import main
    from qcrules.cli.base import err_console
    from qcrules.i18n import language

    wanted = {"QCRULES_LANG": "en", "NO_COLOR": "1", "COLUMNS": "200"}
    wanted |= {"QCRULES_CONFIG": None, "QCRULES_DATABASE_URL": None} | env
    saved_env = {k: os.environ.get(k) for k in wanted}
    saved_cwd = os.getcwd()
    saved_streams = sys.stdin, sys.stdout, sys.stderr
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", newline="")
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", newline="")
    code = 0
    try:
        for key, value in wanted.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = str(value)
        if cwd is not None:
            os.chdir(cwd)
        sys.stdin, sys.stdout, sys.stderr = io.StringIO(input or ""), out, err
        language.cache_clear()  # read from the environment of this call
        err_console.cache_clear()  # bound to this call's stderr
        try:
            main(args)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if isinstance(exc.code, str):
                print(exc.code, file=sys.stderr)
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        os.chdir(saved_cwd)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        language.cache_clear()
        err_console.cache_clear()
    out.flush()
    err.flush()
    return subprocess.CompletedProcess(
        ["qcrules", *args],
        code,
        out.buffer.getvalue().decode("utf-8"),
        err.buffer.getvalue().decode("utf-8"),
    )


def run_cli_process(
    *args: str, cwd: Path | None = None, env: dict | None = None, input: str | None = None
):
    """Run the real `qcrules` CLI in a subprocess, as a user or a CI job would."""
    full_env = {**os.environ, "QCRULES_LANG": "en", "NO_COLOR": "1", "COLUMNS": "200"}
    full_env.pop("QCRULES_CONFIG", None)
    full_env.pop("QCRULES_DATABASE_URL", None)
    if env:
        full_env.update(env)
    full_env = {k: v for k, v in full_env.items() if v is not None}  # None: unset it
    return subprocess.run(
        [sys.executable, "-m", "qcrules", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        input=input,
        timeout=600,
    )


@pytest.fixture
def cli():
    return run_cli


DEMO_DAY = date(2026, 11, 27)


@pytest.fixture(scope="session")
def demo_folder(tmp_path_factory) -> Path:
    """A generated demo workspace (seed 7, as of 2026-11-27), made once per run and read by
    many tests: a test that changes records works on `demo_copy` instead."""
    from qcrules.demo import generate
    from qcrules.workspace import init_workspace

    folder = tmp_path_factory.getbasetemp() / "demo-workspace"
    workspace = init_workspace(folder)
    generate(workspace.db, size="demo", seed=7, today=DEMO_DAY)
    _remember_the_dashboard_backtest(workspace)
    workspace.close()
    return folder


def _remember_the_dashboard_backtest(workspace) -> None:
    """The TUI's 30-day backtest of the demo remembered in both languages, worked out here
    in-process, as the app finds it when it opens the demo again (qcrules.remembered): the
    TUI tests then spend no child process on it. Tests of the child process itself remove
    it first (`tests/test_tui_whatif.py`, `tests/test_remembered.py`)."""
    from qcrules import service
    from qcrules.i18n import language
    from qcrules.remembered import remember
    from qcrules.tui.present import BACKTEST_DAYS

    start = DEMO_DAY - timedelta(days=BACKTEST_DAYS - 1)
    before = os.environ.get("QCRULES_LANG")
    try:
        for lang in ("en", "zh"):
            os.environ["QCRULES_LANG"] = lang
            language.cache_clear()
            remember(workspace, start, DEMO_DAY, service.backtest(workspace, start, DEMO_DAY))
    finally:
        if before is None:
            os.environ.pop("QCRULES_LANG", None)
        else:
            os.environ["QCRULES_LANG"] = before
        language.cache_clear()


@pytest.fixture
def demo_copy(demo_folder, tmp_path) -> Path:
    """A private copy of the demo workspace, free to change."""
    folder = tmp_path / "ws"
    shutil.copytree(demo_folder, folder)
    return folder


async def settle_app(app, pilot, rounds: int = 1) -> None:
    """Every worker of a Textual app done, and the screen updated. A worker replaced by a
    newer one of its group (exclusive workers: the stored run, then the new one) counts as
    done, as it does for the app. `rounds`: at least that many waits and pauses, for a screen
    whose message handlers start workers of their own (the grant form's live check)."""
    from textual.worker import WorkerCancelled

    for done in range(1, max(20, rounds) + 1):
        try:
            await app.workers.wait_for_complete()
        except WorkerCancelled:
            continue
        await pilot.pause()
        for _ in range(50):  # table fills waiting for their screen refresh
            if not getattr(getattr(app, "in_turn", None), "pending", 0):
                break
            await pilot.pause()
        if done >= rounds and not any(worker.is_running for worker in app.workers):
            return


# --- the TUI test files' shared fixtures -----------------------------------------------------


@pytest.fixture
def english(monkeypatch):
    """English labels whatever the machine's locale: the TUI tests and snapshots read English
    (each TUI test file uses it for all its tests, `pytest.mark.usefixtures`)."""
    from qcrules.i18n import language

    monkeypatch.setenv("QCRULES_LANG", "en")
    language.cache_clear()
    yield
    language.cache_clear()


async def settle_whatif(app, pilot) -> None:
    """The Packs tab's what-if shown: it starts once typing pauses, then runs in a worker."""
    from qcrules.tui.widgets.packs import PacksTab

    tab = app.query_one(PacksTab)
    for _ in range(1200):
        await pilot.pause(0.05)
        if tab.whatif_settled:
            break
    await settle_app(app, pilot)


@pytest.fixture
def workspace(demo_folder):
    """The shared demo workspace opened, for a TUI test that only looks (never changes it)."""
    from qcrules.workspace import Workspace

    workspace = Workspace.discover(demo_folder / "qcrules.toml")
    yield workspace
    workspace.close()


@pytest.fixture
def writable(demo_copy):
    """A private copy of the demo workspace opened, for a TUI test that changes records."""
    from qcrules.workspace import Workspace

    workspace = Workspace.discover(demo_copy / "qcrules.toml")
    yield workspace
    workspace.close()


@pytest.fixture
def stored_demo(db_url, tmp_path):
    """The demo generated on the `db_url` backend, its workspace and one stored run's report:
    for tests that read a stored run back (TUI) or race two processes on it (concurrency)."""
    from qcrules import service
    from qcrules.demo import generate
    from qcrules.evaluation import EvaluateOptions
    from qcrules.workspace import Workspace

    folder = tmp_path / "stored"
    folder.mkdir()
    config = folder / "qcrules.toml"
    config.write_text(f'[database]\nurl = "{db_url}"\n', encoding="utf-8")
    db = open_database(db_url)
    generate(db, size="demo", seed=7, today=DEMO_DAY)
    db.close()
    workspace = Workspace.discover(config)
    result = service.evaluate(workspace, EvaluateOptions(fail_on="never", as_of=DEMO_DAY))
    yield workspace, result.report
    workspace.close()
