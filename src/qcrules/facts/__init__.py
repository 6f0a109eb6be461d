"""Facts: the flat records rules see, their schema, and the set-based builders."""

from qcrules.facts.builders import build_facts
from qcrules.facts.core import Fact, FactSet
from qcrules.facts.schema import (
    BUILTIN_FIELDS,
    ENTITIES,
    FIELD_TYPES,
    PYTHON_TYPES,
    DuplicateFieldError,
    FactSchema,
    FieldSpec,
    builtin_schema,
)
from qcrules.facts.values import percentile

__all__ = [
    "BUILTIN_FIELDS",
    "ENTITIES",
    "FIELD_TYPES",
    "PYTHON_TYPES",
    "DuplicateFieldError",
    "Fact",
    "FactSchema",
    "FactSet",
    "FieldSpec",
    "build_facts",
    "builtin_schema",
    "percentile",
]
