"""Run the `[[tests]]` inside packs through the real engine (`qcrules packs test`)."""

from __future__ import annotations

from dataclasses import dataclass

from qcrules.engine import select_engine
from qcrules.engine.run import judge
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
            fired: list[str] = []
            insufficient: list[str] = []
            fact = Fact(test.entity, f"test:{test.name}", None, None, dict(test.fact))
            for _, _, outcome in judge(
                test.entity, [pack], [fact], factory, params_for=lambda p, _m, t=test: t.params
            ):
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
