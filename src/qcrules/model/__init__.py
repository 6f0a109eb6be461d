"""Records: tables and database setup. The bottom layer; it imports nothing above it."""

from qcrules.model.db import Database, open_database
from qcrules.model.tables import (
    AUTH_TYPES,
    CHANNELS,
    GRANT_STATUSES,
    PERMANENT_END,
    POOL_STATUSES,
    SCOPES,
    AuditEntry,
    Creator,
    DailyMetric,
    EvaluationRun,
    Finding,
    Grant,
    Hold,
    Merchant,
    PoolMember,
    is_permanent_end,
)

__all__ = [
    "AUTH_TYPES",
    "CHANNELS",
    "GRANT_STATUSES",
    "PERMANENT_END",
    "POOL_STATUSES",
    "SCOPES",
    "AuditEntry",
    "Creator",
    "DailyMetric",
    "Database",
    "EvaluationRun",
    "Finding",
    "Grant",
    "Hold",
    "Merchant",
    "PoolMember",
    "is_permanent_end",
    "open_database",
]
