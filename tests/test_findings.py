"""Typed findings: the JSON of the README is written and read in one place, and a stored run
reads back as the findings its evaluation reported."""

from __future__ import annotations

from conftest import DEMO_DAY
from qcrules import service
from qcrules.findings import Finding


def test_every_finding_of_the_demo_round_trips_through_its_json(stored_demo):
    _workspace, report = stored_demo
    assert len(report["findings"]) > 20
    for finding in report["findings"]:
        assert Finding.from_json(finding).to_json() == finding


def test_a_stored_run_reads_back_as_the_findings_it_reported(stored_demo):
    workspace, report = stored_demo
    stored = service.stored_report(workspace).to_json()
    assert stored["run"]["id"] == report["run"]["id"]
    assert stored["run"]["as_of"] == DEMO_DAY.isoformat()

    def comparable(finding: dict) -> tuple:
        action = finding["action"]
        return (
            finding["rule"],
            finding["level"],
            finding["entity"]["type"],
            finding["entity"]["id"],
            finding["entity"].get("merchant"),
            finding["entity"].get("name"),
            finding["message"],
            (action["kind"], action["params"]) if action else None,
            finding["evidence"] == {} or tuple(sorted(map(str, finding["evidence"]))),
            finding["fingerprint"],
            bool(finding["superseded_by"]),
        )

    assert sorted(map(comparable, stored["findings"])) == sorted(
        map(comparable, report["findings"])
    )


def test_a_report_round_trips_through_its_typed_form(demo_copy):
    """`RunReport` is what the TUI shows: its JSON is the document `--format json` prints,
    waived findings, insufficient-data notes and run details included."""
    from qcrules.evaluation import EvaluateOptions
    from qcrules.findings import RunReport
    from qcrules.workspace import Workspace

    options = EvaluateOptions(as_of=DEMO_DAY, store=False, fail_on="never")
    workspace = Workspace.discover(demo_copy / "qcrules.toml")
    try:
        first = service.evaluate(workspace, options).findings[0]
    finally:
        workspace.close()
    config = demo_copy / "qcrules.toml"
    config.write_text(
        config.read_text(encoding="utf-8")
        + f'\n[[waivers]]\nrule = "{first.rule}"\nentity = "{first.subject.id}"\n'
        'reason = "agreed with the brand"\nexpires = 2027-01-31\n',
        encoding="utf-8",
    )
    workspace = Workspace.discover(config)
    try:
        result = service.evaluate(workspace, options)
    finally:
        workspace.close()
    assert result.report["waived"] and result.report["insufficient_data"]
    typed = result.run_report
    assert typed.findings is result.findings  # shared, not copied
    assert typed.run.as_of == DEMO_DAY and not typed.run.stored
    assert typed.to_json() == result.report
    back = RunReport.from_json(result.report)
    assert back.to_json() == result.report
    by_entity = back.by_entity()
    first = back.findings[0]
    assert first in by_entity[(first.subject.type, first.subject.id, None)]
    assert first in by_entity[first.subject.key]


def test_every_service_function_names_its_response_type():
    """The service is the one API of the faces: each function says what it takes and gives,
    and every type it names exists (checked the way a type checker reads them)."""
    import importlib
    import inspect
    import re
    import typing

    source = inspect.getsource(service)
    block = source[source.index("if TYPE_CHECKING:") :].split("\n\n\n")[0]
    names: dict[str, object] = {}
    for module, imported in re.findall(r"from (\S+) import (.+)", block):
        for name in imported.split(","):
            names[name.strip()] = getattr(importlib.import_module(module), name.strip())
    functions = [
        f
        for name, f in vars(service).items()
        if inspect.isfunction(f) and f.__module__ == service.__name__ and not name.startswith("_")
    ]
    assert len(functions) > 40
    for function in functions:
        hints = typing.get_type_hints(function, localns=names)
        assert "return" in hints, f"service.{function.__name__} names no response type"
