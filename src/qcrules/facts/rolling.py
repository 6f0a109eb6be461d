"""Facts of many consecutive days for a backtest (see qcrules.backtest)."""

from __future__ import annotations

from datetime import date
from typing import Any

from qcrules.engine import select_engine
from qcrules.facts.builders import FactSet, build_facts


class RollingFacts:
    """The facts of every day from `first` to `last`, with the signature of `build_facts`."""

    def __init__(self, db: Any, first: date, last: date) -> None:
        self.db = db
        self.first = first
        self.last = last
        self.factory = select_engine()[1]

    def build_facts(self, db: Any, as_of: date, **options: Any) -> FactSet:
        return build_facts(db, as_of, **options)

    def close(self) -> None:
        pass

    def __enter__(self) -> RollingFacts:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
