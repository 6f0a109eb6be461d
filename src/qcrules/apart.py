"""Running one of qcrules' own functions in a child process: a backtest or a what-if for the
TUI (its CPU and memory stay out of the app, and quitting kills it), or a part of `evaluate --jobs` / `backtest --jobs` (parts on
all cores; the GIL keeps threads on one).

The child opens the same workspace (its qcrules.toml and database URL) afresh and talks
through pipes only — multiprocessing would hand it the parent's stderr, which Textual has
replaced — and an error comes back as a `UsageError` with the child's message and hint."""

from __future__ import annotations

import importlib
import pickle
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from qcrules.errors import UsageError
from qcrules.i18n import tr
from qcrules.workspace import Workspace

# the functions a child may be asked to run (never a name read from elsewhere), each with
# what to do when its process dies (zh, en)
TARGETS = {
    "backtest": (
        "qcrules.backtest:backtest",
        ("在命令行运行 qcrules backtest 查看详情", "run `qcrules backtest` to see it"),
    ),
    "whatif": (
        "qcrules.backtest:whatif",
        ("在命令行运行 qcrules whatif 查看详情", "run `qcrules whatif` to see it"),
    ),
    "judge_scope": (
        "qcrules.evaluation:judge_scope",
        ("不加 --jobs 再运行一次可看到详情", "run the command again without --jobs to see it"),
    ),
}


def call_apart(
    workspace: Workspace,
    target: str,
    *args: Any,
    started: Callable[[subprocess.Popen], None] | None = None,
    **kwargs: Any,
) -> Any:
    """`target(workspace, *args, **kwargs)` in a child process; its result, pickled back.
    `started(process)` is told the child as it starts, so an app that closes can kill it."""
    config = workspace.config
    path = str(config.path) if config.path is not None else None
    child = subprocess.Popen(
        [sys.executable, "-c", "from qcrules.apart import _child; _child()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    if started is not None:
        started(child)
    try:
        answer, errors = child.communicate(
            pickle.dumps((path, config.database_url, target, args, kwargs))
        )
    finally:
        if child.poll() is None:  # interrupted: the child must not outlive the call
            child.kill()
            child.wait()
    if child.returncode != 0:
        tail = errors.decode("utf-8", "replace").strip().splitlines()[-1:] or ["?"]
        raise UsageError(
            tr(f"子进程失败：{tail[0]}", f"a child process failed: {tail[0]}"),
            hint=tr(*TARGETS[target][1]),
        )
    result, error = pickle.loads(answer)  # our own child's bytes, from our own pipe
    if error is not None:
        raise UsageError(error[0], hint=error[1])
    return result


def _child() -> None:
    """The child of `call_apart`: arguments in on stdin, (result, error) out on stdout;
    anything else the run prints goes to stderr."""
    import os

    from qcrules.errors import QcrulesError

    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print cannot corrupt the answer
    path, database_url, target, args, kwargs = pickle.loads(sys.stdin.buffer.read())
    module, name = TARGETS[target][0].split(":")
    function = getattr(importlib.import_module(module), name)
    workspace = None
    try:  # a qcrules.toml broken since the parent opened it is an error in words, too
        workspace = Workspace.discover(path, database_url, require=False)
        answer: tuple[Any, Any] = (function(workspace, *args, **kwargs), None)
    except QcrulesError as exc:  # its own attributes may not survive pickling: the words
        answer = (None, (exc.message, exc.hint))
    finally:
        if workspace is not None:
            workspace.close()
    out.write(pickle.dumps(answer))
    out.close()
