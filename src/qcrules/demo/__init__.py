"""A generated workspace: the demo that triggers every built-in rule, and the benchmark sizes."""

from qcrules.demo.generator import (
    SCENARIOS,
    SIZES,
    GenerationSummary,
    Scenario,
    SizeSpec,
    generate,
    merchant_roles,
)

__all__ = [
    "SCENARIOS",
    "SIZES",
    "GenerationSummary",
    "Scenario",
    "SizeSpec",
    "generate",
    "merchant_roles",
]
