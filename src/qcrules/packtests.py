"""Run the `[[tests]]` inside packs through the real engine (`qcrules packs test`)."""

from __future__ import annotations

from dataclasses import dataclass

from qcrules.engine import select_engine
from qcrules.engine.run import evaluate_plan, plan_entity
from qcrules.facts.core import Fact
from qcrules.packs.model import Pack, PackTest


@dataclass
class PackTestResult:
    pack: str
    test: PackTest
    fired: list[str]
    missing: list[str]  # expected but did not fire
    unexpected: list[str]  # fired but not expected
    insufficient: list[str]

    @property
    def passed(self) -> bool:
        return not self.missing and not self.unexpected


def run_pack_tests(packs: list[Pack]) -> list[PackTestResult]:
    _, factory = select_engine()
    results: list[PackTestResult] = []
    for pack in packs:
        for test in pack.tests:
            bound = pack.with_params(test.params)
            plan = plan_entity(test.entity, [bound])
            fired: list[str] = []
            insufficient: list[str] = []
            if plan is not None:
                fact = Fact(test.entity, f"test:{test.name}", None, None, dict(test.fact))
                for _, outcome in evaluate_plan(plan, [fact], factory):
                    fired = sorted(c.rule.id for c in outcome.matched)
                    insufficient = sorted(c.rule.id for c, _, _ in outcome.insufficient)
            expected = set(test.expect)
            results.append(
                PackTestResult(
                    pack.id,
                    test,
                    fired,
                    sorted(expected - set(fired)),
                    sorted(set(fired) - expected),
                    insufficient,
                )
            )
    return results
