"""Benchmark how evaluation scales (issue: speed at L and beyond), as ratios to a floor.

    python benchmarks/bench_scale.py [--sizes S,M,L] [--out benchmarks/out] [--jobs 2]

The floor is reading the data once: the raw SQLite aggregate of the 30-day window over the
metrics table (sum of every metric per merchant and creator), measured in the same run.
Against it, for each size: a full `qcrules evaluate` (a child process, as a user runs it,
with its peak memory), the same with `--jobs N`, and `qcrules explain` of one grant and of
one creator (in-process: the build of that entity alone). Each figure is the best of three.

With QCRULES_BENCH_DATABASE_URL naming a PostgreSQL database, XL (10× L: 200 merchants, 18M
metric rows) is generated there once (about 25 minutes) and measured too, once: its floor is
the same aggregate on PostgreSQL. L is generated on the same server too (a database named
after the URL's, with `_l`), so XL's time is compared with L's on the same database — the
scaling, not SQLite's speed against PostgreSQL's.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_evaluate import REPEAT, TODAY, ensure_workspace

from qcrules import service
from qcrules.workspace import Workspace

FLOOR_SQL = (
    "SELECT merchant_id, aweme_id, sum(spend), sum(impressions), sum(clicks), "
    "sum(orders), sum(gmv), sum(add_to_cart), count(*) FROM metrics "
    "WHERE date BETWEEN {0} AND {0} GROUP BY merchant_id, aweme_id"
)


def floor_seconds(db_file: Path) -> float:
    start = (TODAY - timedelta(days=29)).isoformat()
    with sqlite3.connect(db_file) as conn:
        began = time.perf_counter()
        conn.execute(FLOOR_SQL.format("?"), (start, TODAY.isoformat())).fetchall()
        return time.perf_counter() - began


def floor_seconds_pg(url: str) -> float:
    import psycopg

    start = TODAY - timedelta(days=29)
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        began = time.perf_counter()
        conn.execute(FLOOR_SQL.format("%s"), (start, TODAY)).fetchall()
        return time.perf_counter() - began


def sibling_database(url: str, suffix: str) -> str:
    """The URL of a database next to `url`'s on the same server, created if missing."""
    import psycopg

    base, _, name = url.rpartition("/")
    other = f"{name}{suffix}"
    admin = f"{base}/postgres".replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (other,)).fetchone():
            conn.execute(f'CREATE DATABASE "{other}"')
    return f"{base}/{other}"


def pg_workspace(size: str, url: str, out: Path) -> Path:
    """A workspace of `size` on the PostgreSQL database `url`, generated there once."""
    import psycopg

    folder = out / f"{size}-pg"
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain) as conn:
        exists = conn.execute("SELECT to_regclass('metrics') IS NOT NULL").fetchone()[0]
        filled = exists and conn.execute("SELECT count(*) FROM merchants").fetchone()[0] > 0
    if not filled:
        print(f"[{size}] generating the workspace in {url} …", flush=True)
        subprocess.run(
            [
                sys.executable,
                str(Path(__file__).parent / "generate.py"),
                "--size",
                size,
                "--today",
                TODAY.isoformat(),
                "--database-url",
                url,
                str(folder),
            ],
            check=True,
        )
    elif not (folder / "qcrules.toml").exists():  # generated elsewhere: point a folder at it
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "qcrules.toml").write_text(f'[database]\nurl = "{url}"\n', encoding="utf-8")
    return folder


def evaluate_run(folder: Path, *extra: str) -> tuple[float, float]:
    """(wall seconds, peak MB of the process and its children) of one `qcrules evaluate`."""
    code = (
        "import resource, sys\n"
        "from qcrules.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(max(own, kids), file=sys.stderr)\n"
    )
    args = ["evaluate", "--as-of", TODAY.isoformat(), "--format", "json", "--no-store", *extra]
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - began
    peak_kb = int(done.stderr.strip().splitlines()[-1])
    return wall, peak_kb / 1024


def explain_seconds(workspace: Workspace, rule: str, entity: str) -> float:
    began = time.perf_counter()
    service.explain(workspace, rule, entity, as_of=TODAY)
    return time.perf_counter() - began


def pick_entities(workspace: Workspace) -> tuple[str, str]:
    """A grant and a pool creator of the largest merchant."""
    grants = service.list_grants(workspace)
    grant = sorted(g.grant_id for g in grants)[len(grants) // 2]
    with sqlite3.connect(workspace.db.url.split("///", 1)[1]) as conn:
        (creator,) = conn.execute(
            "SELECT aweme_id FROM pool WHERE status = 'in_pool' ORDER BY aweme_id LIMIT 1 OFFSET 7"
        ).fetchone()
    return grant, creator


def bench(size: str, out: Path, jobs: int) -> dict:
    folder = ensure_workspace(size, out)
    db_file = folder / "qcrules.db"
    floor = min(floor_seconds(db_file) for _ in range(REPEAT))
    serial = min((evaluate_run(folder) for _ in range(REPEAT)), key=lambda r: r[0])
    parallel = min(
        (evaluate_run(folder, "--jobs", str(jobs)) for _ in range(REPEAT)), key=lambda r: r[0]
    )
    workspace = Workspace.discover(folder / "qcrules.toml")
    try:
        grant, creator = pick_entities(workspace)
        explain_grant = min(explain_seconds(workspace, "MON001", grant) for _ in range(REPEAT))
        explain_creator = min(explain_seconds(workspace, "SCR001", creator) for _ in range(REPEAT))
    finally:
        workspace.close()
    return {
        "size": size,
        "floor_s": floor,
        "evaluate_s": serial[0],
        "evaluate_mb": serial[1],
        "jobs_s": parallel[0],
        "jobs_mb": parallel[1],
        "explain_grant_s": explain_grant,
        "explain_creator_s": explain_creator,
    }


def bench_pg(size: str, url: str, out: Path) -> dict:
    folder = pg_workspace(size, url, out)
    wall, peak = evaluate_run(folder)
    return {"size": size, "floor_s": floor_seconds_pg(url), "evaluate_s": wall, "evaluate_mb": peak}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="S,M,L")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    rows = [bench(s.strip(), args.out, args.jobs) for s in args.sizes.split(",") if s.strip()]
    print()
    print(
        f"{'size':<5}{'floor s':>9}{'evaluate s':>12}{'÷floor':>8}{'MB':>6}"
        f"{f'--jobs {args.jobs} s':>13}{'÷floor':>8}{'MB':>6}"
        f"{'explain grant s':>17}{'÷floor':>8}{'explain creator s':>19}{'÷floor':>8}"
    )
    for r in rows:
        f = r["floor_s"]
        print(
            f"{r['size']:<5}{f:>9.2f}{r['evaluate_s']:>12.2f}{r['evaluate_s'] / f:>7.1f}x"
            f"{r['evaluate_mb']:>6.0f}{r['jobs_s']:>13.2f}{r['jobs_s'] / f:>7.1f}x{r['jobs_mb']:>6.0f}"
            f"{r['explain_grant_s']:>17.2f}{r['explain_grant_s'] / f:>7.2f}x"
            f"{r['explain_creator_s']:>19.2f}{r['explain_creator_s'] / f:>7.2f}x"
        )
    url = os.environ.get("QCRULES_BENCH_DATABASE_URL")
    if url:
        large = bench_pg("L", sibling_database(url, "_l"), args.out)
        xl = bench_pg("XL", url, args.out)
        for r in (large, xl):
            versus = (
                f", {xl['evaluate_s'] / large['evaluate_s']:.1f}× L on PostgreSQL"
                if r is xl
                else ""
            )
            print(
                f"{r['size']:<5}{r['floor_s']:>9.2f}{r['evaluate_s']:>12.2f}"
                f"{r['evaluate_s'] / r['floor_s']:>7.1f}x{r['evaluate_mb']:>6.0f}"
                f"   (PostgreSQL, once{versus})"
            )
    print(
        "floor: the raw aggregate of the 30-day window over the metrics table (SQLite; XL: "
        "PostgreSQL); evaluate includes starting Python and writing the JSON"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
