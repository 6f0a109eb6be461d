"""The engine choice: durable-rules where it imports, the plain-Python reading on Python
3.13+ (said once per run), and never a silent fallback when durable-rules is broken."""

from __future__ import annotations

import json
import sys

import pytest

from conftest import ENGINE, run_cli_process
from qcrules.engine import durable_available


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from conftest import run_cli

    folder = tmp_path_factory.mktemp("demo") / "ws"
    assert run_cli("init", "--demo", str(folder)).returncode == 0
    return folder


def report(cli, demo, **env):
    # `init --demo` dates its data up to today, so the run is as of today too.
    result = cli("evaluate", "--format", "json", "--no-store", cwd=demo, env=env)
    assert result.returncode in (0, 1), result.stderr
    return result, json.loads(result.stdout)


def test_version_names_the_engine(cli):
    result = cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("qcrules 0.1.0 (engine: ")
    expected = "durable-rules 2.0.28" if ENGINE == "durable-rules" else "python (plain-Python"
    assert expected in result.stdout


def test_the_python_reading_gives_the_same_findings(cli, demo):
    _, default = report(cli, demo)
    result, python = report(cli, demo, QCRULES_ENGINE="python")
    assert default["run"]["engine"] == ENGINE
    assert python["run"]["engine"] == "python"
    assert [f["fingerprint"] for f in python["findings"]] == [
        f["fingerprint"] for f in default["findings"]
    ]
    assert python["summary"]["checks"] == default["summary"]["checks"]
    assert "notice:" not in result.stderr  # chosen on purpose: no notice


def test_a_broken_durable_rules_is_an_error_not_a_fallback(cli, demo, tmp_path):
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "durable_rules_engine.py").write_text(
        "raise ImportError('undefined symbol: PyEval_CallObject')\n", encoding="utf-8"
    )
    result = cli("evaluate", "--no-store", cwd=demo, env={"PYTHONPATH": str(fake)})
    assert result.returncode == 2
    assert "durable-rules engine cannot be used" in result.stderr
    assert "undefined symbol: PyEval_CallObject" in result.stderr
    assert "QCRULES_ENGINE=python" in result.stderr
    assert result.stdout == ""


def test_an_unknown_engine_name_is_refused(cli, demo):
    result = cli("evaluate", "--no-store", cwd=demo, env={"QCRULES_ENGINE": "drools"})
    assert result.returncode == 2 and "not an engine" in result.stderr


@pytest.mark.skipif(
    durable_available()[0] or sys.version_info < (3, 13),
    reason="the automatic fallback happens where durable-rules is not installed (3.13+)",
)
def test_on_313_the_fallback_is_announced_once(demo):
    # the notice is once per process: this contract needs a process of its own
    result, data = report(run_cli_process, demo)
    assert data["run"]["engine"] == "python"
    assert result.stderr.count("notice: durable-rules cannot run on Python 3.") == 1
    rules = {f["rule"] for f in data["findings"]}
    assert len({r for r in rules if not r.startswith("QCR")}) == 37


def test_durable_rules_is_present_where_it_can_run():
    if sys.version_info < (3, 13):
        assert durable_available() == (True, None)
    else:
        assert durable_available()[0] is False
