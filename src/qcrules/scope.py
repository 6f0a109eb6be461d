"""Splitting a workspace by merchant: batches (memory), `--jobs` parts (cores) and `--shard`
shares (machines). Every split is exact because a merchant's facts never depend on the other
merchants built with it (tests/test_partial_builds.py), and findings, notes and counts of
disjoint merchants add up (`evaluation.Judged.add`)."""

from __future__ import annotations

import re
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from qcrules.errors import UsageError
from qcrules.i18n import tr
from qcrules.model.db import table
from qcrules.model.tables import Grant, Merchant, PoolMember
from qcrules.workspace import Workspace

if TYPE_CHECKING:
    from qcrules.evaluation import EvaluateOptions, Judged

# Entities (pool members + grants) whose facts are built and judged at once: about 250 MB
# of facts. An L workspace (20 merchants, ~96k) is two batches; XL's 200 merchants about
# twenty, so the facts in memory stay those of one batch however many merchants there are.
BATCH_ENTITIES = 50_000
_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def parse_shard(text: str) -> tuple[int, int]:
    """`K/N` (1 ≤ K ≤ N) → (K, N)."""
    match = _SHARD.match(text or "")
    if match is None or not (1 <= int(match[1]) <= int(match[2])):
        raise UsageError(
            tr(f"--shard {text!r} 不是 K/N", f"--shard {text!r} is not K/N"),
            hint=tr(
                "写成 1/4 … 4/4：第 K 份，共 N 份（1 ≤ K ≤ N）",
                "write it as 1/4 … 4/4: share K of N (1 ≤ K ≤ N)",
            ),
        )
    return int(match[1]), int(match[2])


def shard_of(merchant_id: str, n: int) -> int:
    """The share (1…n) a merchant belongs to: a stable hash of its id, so adding a merchant
    never moves another to a different share, and every machine computes the same split."""
    return zlib.crc32(merchant_id.encode("utf-8")) % n + 1


def merchant_sizes(workspace: Workspace, merchants: list[str] | None = None) -> dict[str, int]:
    """Per merchant, the pool members and grants its facts hold (every merchant, even one
    with neither, is listed)."""
    mer, pool, grants = table(Merchant), table(PoolMember), table(Grant)
    sizes: dict[str, int] = {}
    with workspace.db.connect() as conn:
        ids = select(mer.c.merchant_id)
        if merchants is not None:
            ids = ids.where(mer.c.merchant_id.in_(merchants))
        sizes = {mid: 0 for (mid,) in conn.execute(ids)}
        for tbl in (pool, grants):
            stmt = select(tbl.c.merchant_id, func.count()).group_by(tbl.c.merchant_id)
            for mid, count in conn.execute(stmt):
                if mid in sizes:
                    sizes[mid] += count
    return sizes


def shard_merchants(workspace: Workspace, shard: tuple[int, int]) -> list[str]:
    k, n = shard
    mer = table(Merchant)
    with workspace.db.connect() as conn:
        ids = conn.execute(select(mer.c.merchant_id)).scalars()
        return sorted(m for m in ids if shard_of(m, n) == k)


def _packed(sizes: dict[str, int], limit: int) -> list[list[str]]:
    """Merchants in id order, cut into runs of at most `limit` entities (a bigger merchant
    alone)."""
    out: list[list[str]] = []
    current: list[str] = []
    held = 0
    for mid in sorted(sizes):
        if current and held + sizes[mid] > limit:
            out.append(current)
            current, held = [], 0
        current.append(mid)
        held += sizes[mid]
    if current:
        out.append(current)
    return out


def batches(
    workspace: Workspace,
    merchant: str | None,
    merchants: list[str] | None,
    limit: int | None = None,
) -> list[list[str] | None]:
    """The merchant batches one evaluation builds in turn; [None] (everything in one build,
    no merchant filter: the fastest plan) when the scope fits one batch."""
    if merchant is not None:
        return [None]
    limit = limit or BATCH_ENTITIES
    sizes = merchant_sizes(workspace, merchants)
    if sum(sizes.values()) <= limit:
        return [None if merchants is None else sorted(sizes)]
    return list(_packed(sizes, limit))


def balanced(sizes: dict[str, int], parts: int) -> list[list[str]]:
    """`parts` groups of merchants with sizes as even as they come (largest first, each to
    the lightest group); empty groups dropped."""
    groups: list[tuple[int, list[str]]] = [(0, []) for _ in range(parts)]
    for mid in sorted(sizes, key=lambda m: (-sizes[m], m)):
        index = min(range(parts), key=lambda i: groups[i][0])
        held, members = groups[index]
        groups[index] = (held + sizes[mid], [*members, mid])
    return [sorted(members) for _, members in groups if members]


def judge_in_parts(workspace: Workspace, options: EvaluateOptions, as_of: date) -> Judged:
    """`evaluate --jobs N`: the scope's merchants in N balanced parts, each judged in a child
    process at once (threads only wait for the children), then added up."""
    from dataclasses import replace

    from qcrules.apart import call_apart
    from qcrules.evaluation import Judged

    scope = (
        [options.merchant]
        if options.merchant is not None
        else options.merchants
        if options.merchants is not None
        else None
    )
    parts = balanced(merchant_sizes(workspace, scope), options.jobs)
    child_options = replace(options, jobs=1, keep_facts=False, merchant=None)

    def run(part: list[str]) -> Any:
        return call_apart(workspace, "judge_scope", replace(child_options, merchants=part), as_of)

    out = Judged()
    with ThreadPoolExecutor(max(1, len(parts))) as pool:
        for judged in pool.map(run, parts):
            out.add(judged)
    return out
