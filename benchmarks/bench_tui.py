"""Benchmark the TUI (the real `QcrulesApp`, headless at 160×45) on the M and L workspaces.

    python benchmarks/bench_tui.py [--sizes M,L] [--out benchmarks/out] [--repeat 2]
                                   [--trace [--stalls 3]] [--profile DIR] [--scratch DIR]

For each size (generated once into --out by bench_evaluate's helper, reused afterwards) it
copies the workspace into a scratch folder (the app stores runs: the workspace in --out is
only read), stores one run there with `evaluate`, then opens the app --repeat times with
Textual's `run_test` and measures, from a keyboard the way an operator uses it:

- first rows: from app start until the findings table has rows (the stored run, read back
  at once), and until the fresh evaluation replaces it;
- launch: the longest the UI thread did not answer before the first screen was ready
  (composing, styling and mounting the app), next to the same for a bare Textual app (a
  header, seven tabs, an input, a table) measured in the same process: the framework's own
  floor, which no app on it goes under;
- load stall: the longest the UI thread did not answer after that, until every worker
  is done (evaluation, monitoring sheet, creators, grants, action queue, packs);
- filter stall: the same while typing into the Creators filter (`c`, `/`, "xiao", Esc)
  and the Findings filter (`f`, `/`, "G-91", Esc) at one key per 120 ms, until all settle;
  and the slowest keystroke from key to refilled table;
- keys: from a keypress to its effect: `c` until the Creators tab is active (and the
  longest stall from the key until the app settles: the tab drawn), `down` in the
  findings table until the detail pane shows the next finding.

A stall is measured with a heartbeat: an asyncio task on the app's event loop that sleeps
5 ms at a time; the longest gap between its ticks is the longest the UI thread was busy
(or the GIL held by a worker). The target for a stall is 50 ms (a key answered within
the next frames); the table prints stall ÷ 50 ms. Each figure is the best of --repeat
sessions ("settled": every worker done, then 300 ms without a stall over 25 ms).

--trace times the app's UI-thread methods (`_show_result`, `_fill_table`, …) and the
Textual work they bring on (DataTable._update_dimensions, which measures every new cell
on the next idle; Screen._refresh_layout), and names, for the --stalls longest stalls of
the last session, what ran inside them and the key they answered; --profile writes a
cProfile of the UI thread (worker threads are not profiled) per size to DIR: it slows
the UI thread about twofold, so its figures are for where the time goes, not how much.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import functools
import gc
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench_evaluate import TODAY, ensure_workspace

from qcrules import service
from qcrules.evaluation import EvaluateOptions
from qcrules.workspace import Workspace

SIZE = (160, 45)
BEAT = 0.005  # heartbeat period, s
TARGET_MS = 50.0  # a stall the operator does not notice
TYPE_GAP = 0.12  # s between keystrokes: a quick typist
QUIET = 0.3  # s without a stall: the app has settled
CREATOR_TEXT = "xiao"
FINDING_TEXT = "G-91"
# UI-thread methods timed by --trace: (module, class, method) of the app, its tabs and panes
APP_METHODS = (
    ("qcrules.tui.app", "QcrulesApp", ("_show_stored", "_show_result", "_show_records")),
    (
        "qcrules.tui.commands",
        "KeysMixin",
        ("action_show_tab", "action_clear_filter", "action_focus_filter"),
    ),
    ("qcrules.tui.widgets.dashboard", "DashboardTab", ("show_run", "show_expiring")),
    ("qcrules.tui.widgets.findings", "FindingsTab", ("fill", "show_detail", "show_level_filter")),
    ("qcrules.tui.widgets.creators", "CreatorsTab", ("fill", "show_detail")),
    ("qcrules.tui.widgets.grants", "GrantsTab", ("fill", "show_detail")),
    ("qcrules.tui.widgets.monitoring", "MonitoringTab", ("show_sheet", "show_detail")),
    ("qcrules.tui.widgets.packs", "PacksTab", ("_show_packs", "show_rule")),
    ("qcrules.tui.widgets.actions", "ActionsPane", ("_loaded", "_fill", "_show_detail")),
)
# Textual's own deferred work, which the app's table fills bring on
TEXTUAL_METHODS = (
    ("textual.widgets", "DataTable", "_update_dimensions"),  # measures every new cell
    ("textual.screen", "Screen", "_refresh_layout"),  # layout and paint
)


class Heartbeat:
    """Ticks on the app's loop; a long gap between two ticks is a UI-thread stall."""

    def __init__(self) -> None:
        self.gaps: list[tuple[float, float]] = []  # (start, end) of each sleep

    async def run(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(BEAT)
            now = time.perf_counter()
            self.gaps.append((last, now))
            last = now

    def longest_starting(self, start: float, end: float) -> float:
        """The longest gap (s) that starts inside [start, end), less the heartbeat's sleep."""
        inside = [b - a for a, b in self.gaps if start <= a < end]
        return max(inside, default=0.0) - BEAT if inside else 0.0

    def longest(self, start: float, end: float) -> float:
        """The longest gap (s) that ends inside [start, end], less the heartbeat's sleep."""
        inside = [b - a for a, b in self.gaps if start < b <= end]
        return max(inside, default=0.0) - BEAT if inside else 0.0


class Tracer:
    """Times the app's UI-thread methods: (name, start, end, depth) per call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float, float, int]] = []
        self.depth = 0
        self.originals: list[tuple[type, str, Any]] = []

    def install(self) -> None:
        import importlib

        methods = []
        for module, cls_name, names in APP_METHODS:
            cls = getattr(importlib.import_module(module), cls_name)
            methods += [(cls, name, f"{cls_name}.") for name in names]
        for module, cls_name, name in TEXTUAL_METHODS:
            cls = getattr(importlib.import_module(module), cls_name)
            methods.append((cls, name, f"{cls_name}."))
        main = threading.get_ident()
        for cls, name, prefix in methods:
            original = cls.__dict__[name]
            self.originals.append((cls, name, original))
            setattr(cls, name, self._wrap(original, prefix + name, main))

    def uninstall(self) -> None:
        for cls, name, original in self.originals:
            setattr(cls, name, original)
        self.originals.clear()

    def _wrap(self, method, label: str, main: int):
        @functools.wraps(method)
        def timed(*args, **kwargs):
            if threading.get_ident() != main:
                return method(*args, **kwargs)
            self.depth += 1
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.depth -= 1
                name = label
                if label.startswith("DataTable."):  # which table
                    name = f"DataTable#{args[0].id}{label.removeprefix('DataTable')}"
                self.calls.append((name, start, time.perf_counter(), self.depth))

        return timed

    def inside(self, start: float, end: float) -> str:
        """The outermost traced calls inside [start, end], each with its slowest callees."""
        calls = [c for c in self.calls if c[1] >= start - 1e-4 and c[2] <= end + 1e-4]
        if not calls:
            return "no traced app method (Textual's own work, or a worker holding the GIL)"
        top = min(depth for *_, depth in calls)
        parts = []
        for name, a, b, depth in sorted(calls, key=lambda c: c[1]):
            if depth != top:
                continue
            children = sorted(
                (c for c in calls if c[3] == top + 1 and a <= c[1] and c[2] <= b),
                key=lambda c: c[1] - c[2],
            )[:3]
            inner = ", ".join(f"{n} {(e - s) * 1000:.0f}" for n, s, e, _ in children)
            parts.append(f"{name} {(b - a) * 1000:.0f} ms" + (f" ({inner})" if inner else ""))
        return "; ".join(parts)


class Keyboard:
    """Sends keys to the app as the terminal driver does, without waiting (Pilot.press
    waits for the whole process to go idle, workers included), and logs when."""

    def __init__(self, app, beat: Heartbeat) -> None:
        self.app = app
        self.beat = beat
        self.sent: list[tuple[float, str]] = []

    def press(self, key: str) -> None:
        from textual import events
        from textual.keys import _character_to_key

        character = key if len(key) == 1 else {"slash": "/"}.get(key)
        name = _character_to_key(key) if len(key) == 1 and not key.isalnum() else key
        event = events.Key(name, character)
        event.set_sender(self.app)
        self.sent.append((time.perf_counter(), key))
        self.app.post_message(event)

    async def effect(self, key: str, condition, timeout: float = 600.0) -> float:
        """Seconds from the key to its effect (`condition` true)."""
        start = time.perf_counter()
        self.press(key)
        while not condition():
            if time.perf_counter() - start > timeout:
                raise TimeoutError(f"no effect of {key!r} in {timeout:.0f} s")
            await asyncio.sleep(0.001)
        return time.perf_counter() - start

    async def type_into(self, text: str, shown) -> float:
        """Types `text`, then Esc, at a typist's pace; the slowest key to the refilled
        table (s): `shown()` is a new list once the table is refilled."""
        slowest = 0.0
        for key in [*text, "escape"]:
            sent = time.perf_counter()
            before = shown()
            slowest = max(slowest, await self.effect(key, lambda b=before: shown() is not b))
            await asyncio.sleep(max(0.0, sent + TYPE_GAP - time.perf_counter()))
        return slowest

    def last_key(self, at: float) -> str:
        """The last key sent before `at` (the end of a stall: the key it answers)."""
        keys = [key for sent, key in self.sent if sent <= at]
        return f"after {keys[-1]!r}" if keys else "at start"

    async def settle(self) -> float:
        """Every worker done (one replaced by a newer one of its group counts as done),
        then QUIET s without a gap over 25 ms: Textual's deferred work is done too.
        Returns when the quiet began."""
        from textual.worker import WorkerCancelled

        for _ in range(1000):
            try:
                await self.app.workers.wait_for_complete()
            except WorkerCancelled:
                continue
            await asyncio.sleep(QUIET)
            now = time.perf_counter()
            done = all(worker.is_finished for worker in self.app.workers)
            if done and self.beat.longest(now - QUIET, now) < 0.025:
                return now - QUIET
        raise TimeoutError("the app did not settle")


async def bare_launch() -> float:
    """The launch stall (s) of a bare Textual app shaped like qcrules' frame: the floor."""
    from textual.app import App
    from textual.widgets import DataTable, Header, Input, Static, TabbedContent, TabPane

    class Bare(App):
        def compose(self):
            yield Header()
            with TabbedContent(initial="t0"):
                for i in range(7):
                    with TabPane(f"Tab {i}", id=f"t{i}"):
                        yield Input()
                        yield DataTable()
                        yield Static("detail")

    beat = Heartbeat()
    beating = asyncio.create_task(beat.run())
    start = time.perf_counter()
    async with Bare().run_test(size=SIZE):
        ready = time.perf_counter()
        await asyncio.sleep(0.3)
    beating.cancel()
    return beat.longest_starting(start, ready)


async def session(workspace: Workspace) -> dict:
    from textual.widgets import DataTable, Input, Static, TabbedContent

    from qcrules.tui.app import QcrulesApp
    from qcrules.tui.widgets.creators import CreatorsTab
    from qcrules.tui.widgets.findings import FindingsTab

    beat = Heartbeat()
    beating = asyncio.create_task(beat.run())
    app = QcrulesApp(workspace, as_of=TODAY)
    keys = Keyboard(app, beat)
    marks: dict[str, Any] = {}

    async def watch() -> None:  # the first rows, and the fresh run replacing the stored one
        table = None
        while "evaluated" not in marks:
            await asyncio.sleep(0.001)
            if table is None:
                try:
                    table = app.query_one("#findings-table", DataTable)
                except Exception:  # not mounted yet
                    continue
            if "rows" not in marks and table.row_count:
                marks["rows"] = time.perf_counter()
                marks["stored"] = bool(app.report and app.report.run.stored)
            if app.report is not None and not app.report.run.stored:
                marks["evaluated"] = time.perf_counter()

    start = time.perf_counter()
    watching = asyncio.create_task(watch())
    async with app.run_test(size=SIZE):
        ready = time.perf_counter()  # composed, styled, mounted: the first screen
        await asyncio.wait_for(watching, timeout=1800)
        loaded = await keys.settle()
        tabs = app.query_one(TabbedContent)
        # keys: a tab switch (and the tab drawn), then a step down the findings
        key_c = await keys.effect("c", lambda: tabs.active == "creators")
        key_c_at = keys.sent[-1][0]
        tab_stall = beat.longest(key_c_at, await keys.settle() + QUIET)
        await keys.effect("f", lambda: tabs.active == "findings")
        await keys.settle()
        detail = app.query_one("#detail", Static)
        before = detail.content
        key_down = await keys.effect("down", lambda: detail.content is not before)
        key_down_at = keys.sent[-1][0]
        down_stall = beat.longest(key_down_at, await keys.settle() + QUIET)
        # filtering: the Creators filter, then the Findings filter
        filtering = time.perf_counter()
        await keys.effect("c", lambda: tabs.active == "creators")
        box = app.query_one("#creator-filter", Input)
        await keys.effect("slash", lambda: app.focused is box)
        creator_key = await keys.type_into(CREATOR_TEXT, lambda: app.query_one(CreatorsTab).shown)
        await keys.effect("f", lambda: tabs.active == "findings")
        box = app.query_one("#filter", Input)
        await keys.effect("slash", lambda: app.focused is box)
        finding_key = await keys.type_into(FINDING_TEXT, lambda: app.query_one(FindingsTab).shown)
        filtered = await keys.settle() + QUIET
        counts = {
            "findings": len(app.report.findings) if app.report else 0,
            "creators": len(app.creator_facts),
            "grants": len(app.grant_facts),
        }
    beating.cancel()
    phases = (
        (ready, "launch"),
        (loaded + QUIET, "load"),
        (filtering, "keys"),
        (filtered, "filter"),
        (1e18, "end"),
    )
    return {
        **counts,
        "first_rows_s": marks["rows"] - start,
        "first_stored": marks["stored"],
        "evaluated_s": marks["evaluated"] - start,
        "loaded_s": loaded - start,
        "launch_ms": beat.longest_starting(start, ready) * 1000,
        "load_stall_ms": beat.longest_starting(ready, loaded + QUIET) * 1000,
        "filter_stall_ms": beat.longest(filtering, filtered) * 1000,
        "creator_key_ms": creator_key * 1000,
        "finding_key_ms": finding_key * 1000,
        "key_c_ms": key_c * 1000,
        "tab_stall_ms": tab_stall * 1000,
        "key_down_ms": key_down * 1000,
        "down_stall_ms": down_stall * 1000,
        "gaps": [  # (stall, start, end, phase, the key before it)
            (b - a - BEAT, a, b, next(n for end, n in phases if a < end), keys.last_key(b))
            for a, b in beat.gaps
        ],
    }


def scratch_copy(folder: Path, scratch: Path | None) -> Path:
    """The workspace copied into a new scratch folder; its database must be inside it."""
    copy = Path(tempfile.mkdtemp(prefix=f"bench-tui-{folder.name}-", dir=scratch)) / "ws"
    shutil.copytree(folder, copy)
    return copy


def bench(size: str, args: argparse.Namespace) -> tuple[dict, list[tuple]]:
    folder = ensure_workspace(size, args.out)
    copy = scratch_copy(folder, args.scratch)
    tracer = Tracer() if args.trace else None
    try:
        workspace = Workspace.discover(copy / "qcrules.toml")
        url = workspace.config.database_url
        if not url.startswith(f"sqlite:///{copy}"):
            sys.exit(f"{size}: the database {url} is not the scratch copy's own; not writing it")
        started = time.perf_counter()
        service.evaluate(workspace, EvaluateOptions(as_of=TODAY, store=True, fail_on="never"))
        store_s = time.perf_counter() - started
        print(f"[{size}] stored one run in {store_s:.1f} s ({copy})", flush=True)
        if tracer is not None:
            tracer.install()
        profile = cProfile.Profile() if args.profile else None
        runs = []
        for number in range(args.repeat):
            if profile is not None and number == 0:
                profile.enable()  # this thread only: the UI thread, not the workers
            gc.collect()  # the last session's app is garbage: a user starts a fresh process
            runs.append(asyncio.run(session(workspace)))
            runs[-1]["bare_launch_ms"] = asyncio.run(bare_launch()) * 1000
            if profile is not None and number == 0:
                profile.disable()
                args.profile.mkdir(parents=True, exist_ok=True)
                profile.dump_stats(args.profile / f"bench_tui_{size}.prof")
            r = runs[-1]
            print(
                f"[{size}] session {number + 1}: first rows {r['first_rows_s']:.2f} s, "
                f"evaluated {r['evaluated_s']:.1f} s, launch {r['launch_ms']:.0f} ms "
                f"(bare Textual {r['bare_launch_ms']:.0f} ms), "
                f"load stall {r['load_stall_ms']:.0f} ms, "
                f"filter stall {r['filter_stall_ms']:.0f} ms, c {r['key_c_ms']:.0f} ms "
                f"(then {r['tab_stall_ms']:.0f} ms), down {r['key_down_ms']:.0f} ms "
                f"(then {r['down_stall_ms']:.0f} ms)",
                flush=True,
            )
        workspace.close()
    finally:
        if tracer is not None:
            tracer.uninstall()
        if not args.keep:
            shutil.rmtree(copy.parent, ignore_errors=True)
    best = {key: min(r[key] for r in runs) for key in runs[0] if key.endswith(("_s", "_ms"))}
    row = {**runs[0], **best, "size": size, "store_s": store_s}
    stalls = []
    if tracer is not None:  # the longest stalls of the last session, and what ran in them
        gaps = sorted(runs[-1]["gaps"], reverse=True)[: args.stalls]
        stalls = [
            (size, f"{phase} {key}", gap, tracer.inside(a, b)) for gap, a, b, phase, key in gaps
        ]
    return row, stalls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="M,L")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    parser.add_argument("--repeat", type=int, default=2, help="sessions per size (best of)")
    parser.add_argument("--trace", action="store_true", help="name the methods in the stalls")
    parser.add_argument("--stalls", type=int, default=3, help="how many stalls --trace names")
    parser.add_argument("--profile", type=Path, help="write a UI-thread cProfile here")
    parser.add_argument("--scratch", type=Path, help="folder for the copies (default: temp)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch copies")
    args = parser.parse_args()
    rows, stalls = [], []
    for size in (s.strip() for s in args.sizes.split(",") if s.strip()):
        row, top = bench(size, args)
        rows.append(row)
        stalls += top
    print()
    print(
        f"{'size':<5}{'findings':>9}{'creators':>9}{'first rows s':>13}{'evaluated s':>12}"
        f"{'launch ms':>10}{'bare':>6}{'load stall ms':>14}{'÷50ms':>7}{'filter stall ms':>16}{'÷50ms':>7}"
        f"{'filter key ms':>14}{'c ms':>6}{'c stall ms':>11}{'down ms':>8}"
    )
    for r in rows:
        print(
            f"{r['size']:<5}{r['findings']:>9,}{r['creators']:>9,}"
            f"{r['first_rows_s']:>12.2f}{'*' if r['first_stored'] else ' '}{r['evaluated_s']:>12.1f}"
            f"{r['launch_ms']:>10.0f}{r['bare_launch_ms']:>6.0f}{r['load_stall_ms']:>14.0f}{r['load_stall_ms'] / TARGET_MS:>6.1f}×"
            f"{r['filter_stall_ms']:>16.0f}{r['filter_stall_ms'] / TARGET_MS:>6.1f}×"
            f"{max(r['creator_key_ms'], r['finding_key_ms']):>14.0f}{r['key_c_ms']:>6.0f}"
            f"{r['tab_stall_ms']:>11.0f}{r['key_down_ms']:>8.0f}"
        )
    print(
        "*: the first rows are the stored run's; launch: before the first screen (bare: a bare "
        "Textual app's, the floor); stall: the longest the UI thread did not "
        f"answer after it (target {TARGET_MS:.0f} ms); filter key: the slowest keystroke to its "
        "refilled table; c stall: the longest from `c` until settled (the tab drawn)"
    )
    if stalls:
        print()
        print("the longest stalls of the last session (--trace):")
        for size, phase, gap, where in stalls:
            print(f"  {size} {phase:<20}{gap * 1000:>7.0f} ms  {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
