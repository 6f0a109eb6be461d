"""Benchmark `evaluate` on the S, M and L workspaces of architecture.md.

    python benchmarks/bench_evaluate.py [--sizes S,M,L] [--out benchmarks/out]

For each size (generated once into --out, reused afterwards) it reports, in one process:
facts built per second; the engine step (qcrules' C-core evaluator with exactly-once
accounting) against a naive loop of one durable-rules `Host.post` per fact (the fact posted
as it is, and again trimmed to the fields the rules read), and against the plain-Python
reading of the same syntax trees, on the same facts; and the end-to-end `qcrules evaluate`
wall time and peak memory (a child process, as a user runs it). Each contender's time
includes setting up its engine, and is the best of three runs. The engine is printed as
ratios to both naive loops measured in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from qcrules.engine.compiler import anchored, compile_condition, engine_field
from qcrules.engine.evaluator import PythonEvaluator, RuleEvaluator
from qcrules.engine.run import evaluate_plan, plan_entity
from qcrules.facts.builders import build_facts
from qcrules.packs.registry import load_packs
from qcrules.workspace import Workspace

TODAY = date(2026, 11, 27)
REPEAT = 3  # each figure is the best of this many runs


def ensure_workspace(size: str, out: Path) -> Path:
    folder = out / size
    if not (folder / "qcrules.toml").exists():
        print(f"[{size}] generating the workspace in {folder} …", flush=True)
        subprocess.run(
            [
                sys.executable,
                str(Path(__file__).parent / "generate.py"),
                "--size",
                size,
                "--today",
                TODAY.isoformat(),
                str(folder),
            ],
            check=True,
        )
    return folder


def naive_post_seconds(plan, facts, whole: bool) -> float:
    """One durable-rules `Host.post` per fact, each match running its Python action: the
    textbook loop, as the baseline. `whole`: the fact is posted as it is, every field (as
    a first program posts it); otherwise only the fields the rules read (a stronger
    baseline that borrows one of our own optimisations)."""
    from durable import engine

    class SyncHost(engine.Host):
        def _run(self):  # no background dispatcher threads (field guide gotcha 1)
            pass

    start = time.perf_counter()  # setting up the engine counts, as it does for ours
    host = SyncHost()
    fired: list[str] = []

    def action(key):
        # one parameter: durable-rules takes a two-parameter function for an asynchronous
        # action that completes later, and then holds every later action of the sid
        return lambda c: fired.append(key)

    rules = {}
    fields: dict[str, None] = {}
    for index, (key, node) in enumerate(plan.conditions.items()):
        compiled = compile_condition(node, prefix=str(index))
        fields.update(dict.fromkeys(compiled.fields))
        rules[f"r{index}"] = {"all": [{"m": anchored(compiled.condition)}], "run": action(key)}
    name = f"naive_{plan.entity}_{time.monotonic_ns()}"
    host.register_rulesets({name: rules})
    for number, fact in enumerate(facts):
        record = {"id": number, "__rec": 1}
        for field in fact.values if whole else fields:
            value = fact.values.get(field)
            if value is not None:
                record[engine_field(field)] = value
        with contextlib.suppress(engine.MessageNotHandledException):
            host.post(name, record)
    return time.perf_counter() - start


def engine_seconds(factory, entity, packs, facts) -> float:
    """One engine step as `evaluate` runs it: the evaluator set up, every fact judged."""
    plan = plan_entity(entity, packs)  # fresh: no verdicts remembered from an earlier run
    start = time.perf_counter()
    for _ in evaluate_plan(plan, facts, factory):
        pass
    return time.perf_counter() - start


def best(run, *args, **kwargs) -> float:
    """The fastest of REPEAT runs: the figure least disturbed by the rest of the machine."""
    return min(run(*args, **kwargs) for _ in range(REPEAT))


def bench(size: str, out: Path) -> dict:
    folder = ensure_workspace(size, out)
    workspace = Workspace.discover(folder / "qcrules.toml")
    packset = load_packs(workspace.config)
    start = time.perf_counter()
    facts = build_facts(workspace.db, TODAY, merchant_defaults=workspace.config.merchants)
    facts_seconds = time.perf_counter() - start
    total = len(facts)
    engine_s = whole_s = trimmed_s = python_s = 0.0
    for entity in ("creator", "grant", "merchant"):
        plan = plan_entity(entity, packset.packs)
        if plan is None or not facts[entity]:
            continue
        some = facts[entity]
        engine_s += best(engine_seconds, RuleEvaluator, entity, packset.packs, some)
        python_s += best(engine_seconds, PythonEvaluator, entity, packset.packs, some)
        whole_s += best(naive_post_seconds, plan, some, whole=True)
        trimmed_s += best(naive_post_seconds, plan, some, whole=False)
    workspace.close()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "qcrules",
            "evaluate",
            "--as-of",
            TODAY.isoformat(),
            "--format",
            "json",
            "--no-store",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    peak_kb = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before)
    report = json.loads(result.stdout)
    return {
        "size": size,
        "facts": total,
        "facts_built_per_s": total / facts_seconds,
        "engine_facts_per_s": total / engine_s,
        "naive_post_facts_per_s": total / whole_s,
        "naive_read_fields_facts_per_s": total / trimmed_s,
        "python_facts_per_s": total / python_s,
        "engine_vs_naive": whole_s / engine_s,
        "engine_vs_naive_read_fields": trimmed_s / engine_s,
        "python_vs_naive": whole_s / python_s,
        "evaluate_wall_s": wall,
        "evaluate_peak_mb": peak_kb / 1024,
        "findings": len(report["findings"]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="S,M,L")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    args = parser.parse_args()
    rows = [bench(size.strip(), args.out) for size in args.sizes.split(",") if size.strip()]
    print()
    print(
        f"{'size':<5}{'facts':>9}{'built/s':>10}{'engine/s':>10}{'python/s':>10}"
        f"{'naive/s':>10}{'naive*/s':>10}{'engine÷naive':>14}{'engine÷naive*':>15}"
        f"{'evaluate s':>12}{'peak MB':>9}"
    )
    for r in rows:
        print(
            f"{r['size']:<5}{r['facts']:>9,}{r['facts_built_per_s']:>10,.0f}"
            f"{r['engine_facts_per_s']:>10,.0f}{r['python_facts_per_s']:>10,.0f}"
            f"{r['naive_post_facts_per_s']:>10,.0f}{r['naive_read_fields_facts_per_s']:>10,.0f}"
            f"{r['engine_vs_naive']:>13.1f}x{r['engine_vs_naive_read_fields']:>14.1f}x"
            f"{r['evaluate_wall_s']:>12.1f}{r['evaluate_peak_mb']:>9.0f}"
        )
    print(
        "naive: one Host.post per fact, the fact as it is; naive*: the same, trimmed to the "
        "fields the rules read"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
