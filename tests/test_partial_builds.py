"""Facts built for part of a workspace — some merchants (a batch, a shard, a `--jobs` part) or
one entity (explain) — equal the whole build's facts for those entities. Everything that splits
a workspace rests on this."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from conftest import DEMO_DAY
from qcrules.demo import generate
from qcrules.facts.builders import build_facts
from qcrules.facts.single import merchants_of
from qcrules.model.db import open_database


@pytest.fixture
def demo_db(db_url):
    db = open_database(db_url)
    generate(db, size="demo", seed=7, today=DEMO_DAY)
    yield db
    db.close()


def _by_key(facts):
    return {(f.entity_type, f.entity_id, f.merchant_id): f.values for f in facts}


@pytest.mark.parametrize("days_back", [0, 3, 9])
def test_each_merchant_built_alone_gives_the_whole_builds_facts(demo_db, days_back):
    as_of = DEMO_DAY - timedelta(days=days_back)
    whole = build_facts(demo_db, as_of)
    merchants = sorted({f.merchant_id for f in whole.merchant})
    assert len(merchants) >= 3
    parts: dict = {}
    for mid in merchants:
        part = build_facts(demo_db, as_of, merchants=[mid])
        assert {f.merchant_id for f in part} <= {mid}
        parts.update(_by_key(part))
    expected = _by_key(whole)
    assert parts.keys() == expected.keys()
    differing = [k for k in expected if parts[k] != expected[k]]
    assert differing == []


def test_a_batch_of_merchants_equals_the_whole_build_on_them(demo_db):
    whole = _by_key(build_facts(demo_db, DEMO_DAY))
    merchants = sorted({k[2] for k in whole})
    batch = merchants[1:3]
    part = _by_key(build_facts(demo_db, DEMO_DAY, merchants=batch))
    assert part == {k: v for k, v in whole.items() if k[2] in batch}


def test_one_entity_built_alone_has_the_whole_builds_values(demo_db):
    whole = build_facts(demo_db, DEMO_DAY)
    rng = random.Random(3)
    for entity in ("grant", "creator", "merchant"):
        facts = whole[entity]
        for fact in rng.sample(facts, min(15, len(facts))):
            merchants = merchants_of(demo_db, entity, fact.entity_id)
            assert fact.merchant_id in merchants
            alone = build_facts(
                demo_db, DEMO_DAY, entities=[entity], merchants=merchants, only=[fact.entity_id]
            )
            got = {f.merchant_id: f.values for f in alone[entity]}
            assert {f.entity_id for f in alone[entity]} == {fact.entity_id}
            assert got[fact.merchant_id] == fact.values, (entity, fact.entity_id)


def test_no_merchant_builds_nothing(demo_db):
    assert len(build_facts(demo_db, DEMO_DAY, merchants=[])) == 0
