"""Test helpers for plugin authors (a pytest plugin: `pytest -p qcrules.testing`, or import it).

    from qcrules.testing import register_plugin

    def test_my_pack(qcrules_plugin):
        qcrules_plugin(MyPlugin(), name="my-plugin")
        ...

`qcrules_plugin` registers plugin objects (modules or objects with @hookimpl methods) with
the process's plugin host for one test and removes them afterwards, so what they register
(packs, fields, actions, importers, formats) is seen by every qcrules API in that test.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from qcrules.plugins.manager import get_host


@contextmanager
def register_plugin(plugin: Any, name: str | None = None) -> Iterator[Any]:
    """Register `plugin` with the plugin host for the duration of the block."""
    host = get_host()
    name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
    host.register(plugin, name=name)
    try:
        yield plugin
    finally:
        host.unregister(name)


@pytest.fixture
def qcrules_plugin():
    """Call it with a plugin object (and a name); it is unregistered after the test."""
    host = get_host()
    names: list[str] = []

    def register(plugin: Any, name: str | None = None) -> Any:
        plugin_name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        host.register(plugin, name=plugin_name)
        names.append(plugin_name)
        return plugin

    yield register
    for name in reversed(names):
        host.unregister(name)
