"""Benchmark importing metrics (issue: speed at L and beyond), as a ratio to a floor.

    python benchmarks/bench_import.py [--rows 300000] [--scratch DIR]

It writes a 千川-style export (Chinese headers, money with two decimals) of --rows metric rows
(creators × days for 20 merchants) and imports it, in one process, into a fresh SQLite
workspace that holds the merchants and creators: a first import (inserts), then the same
file again (every row an update of a day already there, as overlapping daily exports are).
The floor is SQLite's own `executemany` of the same rows, already parsed, into the same
table of another fresh workspace, measured in the same run. With QCRULES_BENCH_DATABASE_URL
naming a PostgreSQL database, the same import runs there too (COPY).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import sqlite3
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from qcrules import service
from qcrules.workspace import Workspace, init_workspace

MERCHANTS = 20
DAYS = 30
HEADER = [
    "日期",
    "商家ID",
    "达人UID",
    "整体消耗",
    "整体展示次数",
    "整体点击次数",
    "整体成交订单数",
    "整体成交金额",
]


def write_inputs(folder: Path, rows: int) -> tuple[Path, Path, Path, list[tuple]]:
    """merchants.csv, creators.csv, metrics.csv and the metric rows as the floor inserts them."""
    rng = random.Random(7)
    creators = max(1, rows // (DAYS * MERCHANTS))
    merchants = folder / "merchants.csv"
    with merchants.open("w", newline="", encoding="utf-8") as out:
        w = csv.writer(out)
        w.writerow(["merchant_id", "name", "break_even_roi"])
        w.writerows([f"M{m}", f"商家{m}", "2"] for m in range(MERCHANTS))
    people = folder / "creators.csv"
    with people.open("w", newline="", encoding="utf-8") as out:
        w = csv.writer(out)
        w.writerow(["aweme_id", "nickname"])
        w.writerows([str(70_000_000 + c), f"达人{c}"] for c in range(creators))
    metrics = folder / "metrics.csv"
    parsed: list[tuple] = []
    start = date(2026, 11, 27) - timedelta(days=DAYS)
    with metrics.open("w", newline="", encoding="utf-8") as out:
        w = csv.writer(out)
        w.writerow(HEADER)
        for m in range(MERCHANTS):
            for c in range(creators):
                for d in range(DAYS):
                    shown = rng.randint(100, 50_000)
                    row = [
                        (start + timedelta(days=d)).isoformat(),
                        f"M{m}",
                        str(70_000_000 + c),
                        f"{rng.random() * 500:.2f}",
                        shown,
                        rng.randint(0, shown // 10),
                        rng.randint(0, 9),
                        f"{rng.random() * 900:.2f}",
                    ]
                    w.writerow(row)
                    parsed.append(tuple(row))
    return merchants, people, metrics, parsed


def fresh(folder: Path, merchants: Path, people: Path, url: str | None = None) -> Workspace:
    workspace = init_workspace(folder, database_url=url) if url else init_workspace(folder)
    service.import_files(workspace, "merchants", [merchants])
    service.import_files(workspace, "creators", [people])
    return workspace


def floor_seconds(folder: Path, merchants: Path, people: Path, parsed: list[tuple]) -> float:
    fresh(folder, merchants, people).close()
    with sqlite3.connect(folder / "qcrules.db") as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        began = time.perf_counter()
        conn.executemany(
            "INSERT INTO metrics (date, merchant_id, aweme_id, spend, impressions, clicks, "
            "orders, gmv) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            parsed,
        )
        conn.commit()
        return time.perf_counter() - began


def import_seconds(workspace: Workspace, metrics: Path) -> tuple[float, float]:
    began = time.perf_counter()
    first = service.import_files(workspace, "metrics", [metrics])
    middle = time.perf_counter()
    again = service.import_files(workspace, "metrics", [metrics])
    end = time.perf_counter()
    assert first.ok and again.ok, (first, again)
    return middle - began, end - middle


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--scratch", type=Path, help="folder for the workspaces (default: temp)")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-import-", dir=args.scratch))
    merchants, people, metrics, parsed = write_inputs(scratch, args.rows)
    rows = len(parsed)
    floor = floor_seconds(scratch / "floor", merchants, people, parsed)
    workspace = fresh(scratch / "sqlite", merchants, people)
    try:
        first, again = import_seconds(workspace, metrics)
    finally:
        workspace.close()
    print(f"{rows:,} metric rows ({metrics.stat().st_size / 1e6:.0f} MB of CSV, Chinese headers)")
    print(f"{'':<28}{'seconds':>9}{'rows/s':>10}{'÷ floor':>9}")
    print(f"{'floor: executemany (SQLite)':<28}{floor:>9.2f}{rows / floor:>10,.0f}{1:>8.1f}x")
    for name, took in (("import, first (SQLite)", first), ("import, again (SQLite)", again)):
        print(f"{name:<28}{took:>9.2f}{rows / took:>10,.0f}{took / floor:>8.1f}x")
    url = os.environ.get("QCRULES_BENCH_DATABASE_URL")
    if url:
        workspace = fresh(scratch / "pg", merchants, people, url)
        try:
            first, again = import_seconds(workspace, metrics)
        finally:
            workspace.close()
        for name, took in (
            ("import, first (PostgreSQL)", first),
            ("import, again (PostgreSQL)", again),
        ):
            print(f"{name:<28}{took:>9.2f}{rows / took:>10,.0f}{took / floor:>8.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
