"""Importing CSV/XLSX exports (千川, 电商罗盘, 蝉妈妈, 星图) into the workspace database.

`run_import(db, kind, paths, **options)` is the API (the service and the CLI call it); the
header map per kind is `KINDS` (printed by `qcrules import --help-columns KIND`).
"""

from qcrules.ingest.columns import KINDS, Column, Kind, header_map, match_key, normalize_header
from qcrules.ingest.importer import kind_spec, run_import
from qcrules.ingest.results import FileReport, ImportResult, Problem

__all__ = [
    "KINDS",
    "Column",
    "FileReport",
    "ImportResult",
    "Kind",
    "Problem",
    "header_map",
    "kind_spec",
    "match_key",
    "normalize_header",
    "run_import",
]
