"""The TUI's collector timing: survivors frozen (the collector's own passes skip them), one
deliberate full collection when it is due and the user is idle, and back to normal on exit."""

from __future__ import annotations

import gc
import weakref

import pytest

from conftest import DEMO_DAY, settle_app
from qcrules.tui.app import QcrulesApp
from qcrules.tui.memory import QuietCollector


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def frozen_cycle() -> weakref.ref:
    """A two-object reference cycle, frozen, with no reference left from outside."""
    a, b = Node(), Node()
    a.other, b.other = b, a
    gc.freeze()
    return weakref.ref(a)


@pytest.fixture(autouse=True)
def thawed():
    yield
    gc.unfreeze()


def test_frozen_garbage_waits_for_the_deliberate_collection():
    collector = QuietCollector(every=0, idle_s=0)
    cycle = frozen_cycle()
    gc.collect()
    assert cycle() is not None  # the collector's own passes no longer walk it
    collector.tick()  # nothing was loaded: no full collection is due
    assert cycle() is not None and collector.collections == 0
    collector.loaded()
    collector.tick()
    assert cycle() is None and collector.collections == 1


def test_no_full_collection_while_the_user_is_at_the_keyboard():
    collector = QuietCollector(every=0, idle_s=60)
    collector.loaded()
    collector.touched()
    cycle = frozen_cycle()
    collector.tick()
    assert cycle() is not None and collector.collections == 0
    collector.idle_s = 0  # the same later, after a pause
    collector.tick()
    assert cycle() is None and collector.collections == 1


def test_collections_come_every_few_evaluations():
    collector = QuietCollector(every=2, idle_s=0)
    for _ in range(2):
        collector.loaded()
        collector.tick()
    assert collector.collections == 0
    collector.loaded()
    collector.tick()
    assert collector.collections == 1 and collector.loads == 0


def test_a_full_collection_comes_with_time_too_without_evaluations():
    collector = QuietCollector(every=10, at_most_s=0, idle_s=0)  # applies only, no evaluation
    cycle = frozen_cycle()
    collector.tick()
    assert cycle() is None and collector.collections == 1


def test_no_collection_while_a_worker_allocates_then_its_survivors_are_frozen():
    """Two works at once (an evaluation, a what-if): the collector waits until both end,
    even when one fails, and a full collection that falls due meanwhile waits too."""
    collector = QuietCollector(every=0, idle_s=0)
    collector.loaded()
    cycle = frozen_cycle()
    first = collector.working()
    first.__enter__()
    assert not gc.isenabled()
    with pytest.raises(RuntimeError), collector.working():
        assert not gc.isenabled()
        raise RuntimeError("the what-if failed")
    assert not gc.isenabled()  # the evaluation still works
    collector.tick()
    assert cycle() is not None and collector.collections == 0
    kept = [Node() for _ in range(100)]
    before = gc.get_freeze_count()
    first.__exit__(None, None, None)
    assert gc.isenabled()
    assert gc.get_freeze_count() >= before + len(kept)  # what the work kept: frozen
    collector.tick()
    assert cycle() is None and collector.collections == 1


def test_an_app_closing_while_a_worker_works_gets_the_collector_back_when_it_ends():
    """Quitting during an evaluation: the worker thread runs on; when it ends the collector
    is on again and nothing is frozen for an app that is gone."""
    collector = QuietCollector()
    work = collector.working()
    work.__enter__()
    gc.freeze()  # the app froze its survivors meanwhile
    collector.stop()
    assert gc.get_freeze_count() == 0
    work.__exit__(None, None, None)
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_a_collector_left_disabled_by_its_host_stays_disabled():
    gc.disable()
    try:
        with QuietCollector().working():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.usefixtures("english")
async def test_the_app_freezes_its_data_and_thaws_on_exit(workspace):
    app = QcrulesApp(workspace, as_of=DEMO_DAY, store=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle_app(app, pilot)
        assert app.collector.loads == 1  # the evaluation shown
        assert gc.isenabled() and app.collector.workers == 0  # its work let the collector go
        app.collector.tick()
        assert gc.get_freeze_count() > 0
        await pilot.press("c")  # a key: the user is here
        assert not app.collector.due()
    assert gc.get_freeze_count() == 0
