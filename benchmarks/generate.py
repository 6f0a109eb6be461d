"""Create a workspace filled with generated data, and time it.

    python benchmarks/generate.py --size {S,M,L,XL,demo} [--seed N] [--today YYYY-MM-DD]
                                  [--database-url URL] DIR

The workspace's database is `DIR/qcrules.db` (SQLite), or the server named by
--database-url or QCRULES_DATABASE_URL (XL, 18M metric rows, is meant for PostgreSQL). Sizes are those of architecture.md § Performance; the same seed and
--today always give the same rows, so benchmark runs compare like with like.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

from qcrules.demo import SIZES, generate
from qcrules.errors import UsageError
from qcrules.workspace import init_workspace


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=list(SIZES), default="demo")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--today",
        type=date.fromisoformat,
        default=None,
        help="the last day of metrics (default: today)",
    )
    parser.add_argument(
        "--database-url",
        help="keep the records in this database (e.g. postgresql+psycopg://…; default: an "
        "SQLite file in the folder); PostgreSQL is loaded with COPY",
    )
    parser.add_argument("dir", type=Path, help="folder for the new workspace")
    args = parser.parse_args(argv)
    try:
        workspace = init_workspace(args.dir, database_url=args.database_url)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    try:
        summary = generate(workspace.db, size=args.size, seed=args.seed, today=args.today)
    finally:
        workspace.close()
    elapsed = time.perf_counter() - started
    rows = sum(summary.counts.values())
    print(f"workspace {workspace.root} ({workspace.config.database_url})")
    print("\n".join(summary.lines()))
    print(f"generated {rows:,} rows in {elapsed:.1f} s ({rows / elapsed:,.0f} rows/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
