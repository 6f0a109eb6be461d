"""Benchmark `backtest` against `evaluate`, in one process, on the M and L workspaces.

    python benchmarks/bench_backtest.py [--sizes M,L] [--days 30] [--jobs N] [--out benchmarks/out]

For each size (generated once into --out by bench_evaluate's helper, reused afterwards) it
times one `evaluate` (nothing stored; the best of three, after a warm-up) and one backtest
of the last --days days (nothing stored), and prints the ratio: the backtest's cost in
evaluations. The contract asks for at most 5× for 30 days of M. With --jobs N it also times
the backtest split over N processes (`qcrules backtest --jobs N`).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from datetime import timedelta
from pathlib import Path

from bench_evaluate import TODAY, ensure_workspace

from qcrules import service
from qcrules.evaluation import EvaluateOptions
from qcrules.workspace import Workspace

REPEAT = 3


def bench(size: str, out: Path, days: int, jobs: int = 1) -> dict:
    folder = ensure_workspace(size, out)
    workspace = Workspace.discover(folder / "qcrules.toml")
    options = EvaluateOptions(as_of=TODAY, store=False, fail_on="never")
    result = service.evaluate(workspace, options)  # warm-up: imports, caches, page cache
    timings = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        service.evaluate(workspace, options)
        timings.append(time.perf_counter() - start)
    evaluate_s = min(timings)
    start = time.perf_counter()
    backtest = service.backtest(workspace, TODAY - timedelta(days=days - 1), TODAY)
    backtest_s = time.perf_counter() - start
    jobs_s = None
    if jobs > 1:
        start = time.perf_counter()
        split = service.backtest(workspace, TODAY - timedelta(days=days - 1), TODAY, jobs=jobs)
        jobs_s = time.perf_counter() - start
        assert split.to_json() == backtest.to_json()
    workspace.close()
    return {
        "size": size,
        "facts": result.accounting.facts,
        "evaluate_s": evaluate_s,
        "backtest_s": backtest_s,
        "days": len(backtest.days),
        "ratio": backtest_s / evaluate_s,
        "jobs": jobs,
        "jobs_s": jobs_s,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="M,L")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=1, help="also time it split over N processes")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    args = parser.parse_args()
    rows = []
    for size in (s.strip() for s in args.sizes.split(",") if s.strip()):
        row = bench(size, args.out, args.days, args.jobs)
        rows.append(row)
        print(
            f"[{size}] evaluate {row['evaluate_s']:.2f} s, backtest of {row['days']} days "
            f"{row['backtest_s']:.1f} s: {row['ratio']:.1f}× one evaluate",
            flush=True,
        )
        if row["jobs_s"] is not None:
            print(
                f"[{size}] --jobs {row['jobs']}: {row['jobs_s']:.1f} s, "
                f"{row['jobs_s'] / row['evaluate_s']:.1f}× one evaluate "
                f"({row['backtest_s'] / row['jobs_s']:.2f}× faster than one process)",
                flush=True,
            )
    print()
    print(
        f"{'size':<5}{'facts':>9}{'evaluate s':>12}{'days':>6}{'backtest s':>12}"
        f"{'per day s':>11}{'÷ evaluate':>12}{'peak MB':>9}"
    )
    for r in rows:
        print(
            f"{r['size']:<5}{r['facts']:>9,}{r['evaluate_s']:>12.2f}{r['days']:>6}"
            f"{r['backtest_s']:>12.1f}{r['backtest_s'] / r['days']:>11.2f}{r['ratio']:>11.1f}×"
            f"{r['peak_mb']:>9.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
