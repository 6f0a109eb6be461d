"""The expression language of `when`, `guard` and `applies` — parsed, never `eval`ed.

    ctr_7d > params.ctr_broad and not (creator.fans_count < 1000 or status in ["revoked"])

One syntax tree serves three readers: the type checker (against the fact schema), the
compiler to durable-rules JSON (`qcrules.engine.compiler`), and the plain-Python reading
below, used by `explain` and as the reference the engine is checked against.

Missing values: `not` is pushed down to the comparisons first (`not (x < 5)` is `x >= 5`,
`not flag` is `flag == false`, De Morgan for and/or), and every comparison that reads a
missing value is false — the engine's own semantics — so `a or b` fires when `b` holds and
`a` is unknown.

The package: `nodes` (the tree, limits, errors, arithmetic), `parse` (text to tree and back),
`check` (types against the schema), `run` (the plain-Python reading and explanations); every
name is importable from `qcrules.packs.expr` as before.
"""

from __future__ import annotations

from qcrules.packs.expr.check import *  # noqa: F403
from qcrules.packs.expr.nodes import *  # noqa: F403
from qcrules.packs.expr.parse import *  # noqa: F403
from qcrules.packs.expr.run import *  # noqa: F403
