"""Suggested actions: their kinds, conflict planning (holds, waivers, priorities), apply/undo."""
