"""The app's launch in steps: the first screen with the Findings tab, then the other tabs'
widgets one per screen refresh, then the workers (the stored run, the evaluation).

Composing, styling and drawing all seven tabs before the first screen blocked the UI thread
for ~90 ms (a bare Textual app of the same frame: ~35 ms); the Findings tab alone takes
about what the bare app does. Keys typed before every tab is there are kept and replayed
in order once it is, so none is lost or lands in a tab that is not there yet."""

from __future__ import annotations

from typing import Any

from textual import events

from qcrules.tui.widgets import RunTab

QUIT_KEYS = ("ctrl+q", "ctrl+c")


class LaunchMixin:
    """Mixed into the app: `launch()` from `on_mount`, `held_key()` from `on_event`."""

    ready = False  # every tab has its widgets, and the workers have started
    early_keys: list[events.Key] | None = None  # keys typed before then, in order
    early_actions: list[str] | None = None  # palette commands picked before then

    def launch(self) -> None:
        app: Any = self
        later = [tab for tab in app.query(RunTab) if tab.deferred]
        app.in_turn.add(*(tab.mount_content for tab in later), self._all_there)

    def held_key(self, event: events.Event) -> bool:
        """A key typed before the app is ready: kept for then (quitting is never held)."""
        if self.ready or not isinstance(event, events.Key) or event.key in QUIT_KEYS:
            return False
        self.early_keys = [*(self.early_keys or []), event]
        return True

    def held_action(self, action: str) -> bool:
        """A palette command picked (with the mouse) before the app is ready: run then."""
        if self.ready:
            return False
        self.early_actions = [*(self.early_actions or []), action]
        return True

    async def _all_there(self) -> None:
        app: Any = self
        if app._exit:  # closed while launching: nothing to start
            return
        self.ready = True
        keys, self.early_keys = self.early_keys or [], None
        for key in keys:  # in order, before any key typed since (those wait in the queue)
            await app.on_event(key)
        actions, self.early_actions = self.early_actions or [], None
        for action in actions:
            await app.run_action(action)
        app.start_work()
