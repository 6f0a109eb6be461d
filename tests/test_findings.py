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
