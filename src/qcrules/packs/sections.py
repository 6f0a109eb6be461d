"""Reading a pack's `[bands]` and `[[tests]]`: the half of the pack reader
(`loader._PackReader`) for the sections beside the rules. It supplies `add` (a diagnostic)
and `unknown_keys`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from qcrules.i18n import did_you_mean
from qcrules.packs.model import ENTITIES, PackTest

TEST_KEYS = {"name", "entity", "fact", "expect", "params"}
# the monitoring sheet's bands a pack may bind to its parameters
BAND_NAMES = ("ctr_low", "ctr_normal_min", "ctr_normal_max", "ctr_broad")


def _did_you_mean(word: str, choices: Iterable[str], fallback: str) -> str:
    return did_you_mean(word, sorted(set(choices)), lead="") or fallback


class _Sections:
    def read_bands(self, raw: Any, params: dict[str, Any]) -> dict[str, str]:
        """[bands] name = "param": every band the pack declares names a number parameter."""
        if not isinstance(raw, dict):
            self.add("bad-type", "[bands] must be a table", ("bands",))
            return {}
        bands: dict[str, str] = {}
        for band, name in raw.items():
            if band not in BAND_NAMES:
                self.add(
                    "unknown-band",
                    f"[bands] has no band {band!r}",
                    ("bands", band),
                    help=_did_you_mean(band, BAND_NAMES, "bands: " + ", ".join(BAND_NAMES)),
                )
            elif not isinstance(name, str) or name not in params:
                self.add(
                    "unknown-param",
                    f"band {band!r} names {name!r}, which is not a parameter of this pack",
                    ("bands", band),
                    help=_did_you_mean(str(name), params, "name one of the pack's [params]"),
                )
            elif isinstance(params[name], bool) or not isinstance(params[name], int | float):
                self.add(
                    "bad-param",
                    f"band {band!r} names {name!r}, which is not a number",
                    ("bands", band),
                )
            else:
                bands[band] = name
        return bands

    def read_tests(self, raw_tests, entity, rule_ids, rules) -> list[PackTest]:
        tests: list[PackTest] = []
        if not isinstance(raw_tests, list):
            self.add("bad-type", "[[tests]] must be an array of tables", ("tests",))
            return tests
        entity_of = {rule.id: rule.entity for rule in rules}
        for index, raw in enumerate(raw_tests):
            path = ("tests", index)
            if not isinstance(raw, dict):
                self.add("bad-type", "each [[tests]] entry must be a table", path)
                continue
            self.unknown_keys(raw, TEST_KEYS, path)
            name = str(raw.get("name", f"test #{index + 1}"))
            test_entity = raw.get("entity", entity)
            if test_entity not in ENTITIES:
                self.add(
                    "bad-entity",
                    f"test {name!r}: unknown entity {test_entity!r}",
                    (*path, "entity"),
                )
                continue
            fact = raw.get("fact", {})
            expect = raw.get("expect")
            if not isinstance(fact, dict):
                self.add("bad-type", f"test {name!r}: fact must be a table", (*path, "fact"))
                continue
            if not isinstance(expect, list) or not all(isinstance(e, str) for e in expect):
                self.add(
                    "bad-type",
                    f"test {name!r}: expect must be a list of rule ids",
                    (*path, "expect"),
                    help='e.g. expect = ["MON001"] or expect = []',
                )
                continue
            fields = self.field_types.get(test_entity, {})
            python_types = {
                "number": (int, float),
                "integer": (int,),
                "bool": (bool,),
                "string": (str,),
            }
            for key, value in fact.items():
                if key not in fields:
                    self.add(
                        "unknown-field",
                        f"test {name!r}: unknown field {key!r} for {test_entity}",
                        (*path, "fact", key),
                        help=_did_you_mean(key, fields, "see `qcrules packs fields`"),
                    )
                    continue
                kind = fields[key]
                if not isinstance(value, python_types[kind]) or (
                    kind != "bool" and isinstance(value, bool)
                ):
                    self.add(
                        "type-mismatch",
                        f"test {name!r}: {key} is a {kind} field, got {value!r}",
                        (*path, "fact", key),
                    )
            for rule_id in expect:
                if rule_id not in rule_ids:
                    self.add(
                        "unknown-rule",
                        f"test {name!r} expects unknown rule {rule_id!r}",
                        (*path, "expect"),
                        help=_did_you_mean(rule_id, rule_ids, "expect ids of this pack"),
                    )
                elif entity_of.get(rule_id, test_entity) != test_entity:
                    self.add(
                        "entity-mismatch",
                        f"test {name!r} is for {test_entity} but "
                        f"{rule_id} judges {entity_of[rule_id]}",
                        (*path, "entity"),
                        help=f'add entity = "{entity_of[rule_id]}" to the test',
                    )
            params = raw.get("params", {})
            tests.append(
                PackTest(
                    name,
                    test_entity,
                    dict(fact),
                    list(expect),
                    dict(params) if isinstance(params, dict) else {},
                    self.pos.of(*path)[0],
                )
            )
        return tests
