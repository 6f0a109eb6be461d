"""The execute step (seed 二): request grants the safe way and follow each one to its end.

A request is judged **before anything is written**: the proposed grant is turned into the
fact an evaluation would build once it is stored (`facts.single.proposal_facts`), and every
grant rule in effect (the permissions pack, a plugin's pack) is run on it. Rules marked
`gate = true` judge the grant's *terms* — auth type, scope, duration, ownership — and refuse
the request at `warn` or above unless the risk is accepted with a reason (kept in the audit
log and on the grant). The other grant rules are about later steps (the agreement, the 合作码,
a request left pending) and form the request's to-do list. The creator's own findings for
the merchant (screening, 托管授权) are shown as context.

The proposal is judged as it will be once sent (`requested`, today), so the to-do list names
what still stands between it and a clean request. It is stored as `requested` when a 合作码 is
known (given now, or already on the creator), else as a `draft`.

Grant states (rule-catalog.md's statuses; `approved` is the creator's confirmation in the
Douyin app — 千川 then shows 授权成功 — and makes the grant `active`):

    draft ──→ requested ──→ active ──→ expired
      │           ├──→ rejected  │
      └──→ revoked ←──┴──────────┘
              (requested ──→ expired: never confirmed before its end)

Every request and move is written under the workspace's write lock with an audit entry that
`qcrules actions undo` takes back. The 合作码 is a credential: it is kept on the creator and
only ever shown masked (its last 4 characters).
"""

from __future__ import annotations

from qcrules.grants.guards import *  # noqa: F403
from qcrules.grants.listing import *  # noqa: F403
from qcrules.grants.marks import *  # noqa: F403
from qcrules.grants.request import *  # noqa: F403
from qcrules.grants.vocab import *  # noqa: F403
