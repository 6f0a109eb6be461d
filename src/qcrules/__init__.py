"""qcrules: creator-authorization rules for 巨量千川 全域推广."""

__version__ = "0.1.0"

from qcrules.plugins.hookspecs import hookimpl

__all__ = ["__version__", "hookimpl"]
