"""The TUI's tabs as widgets: each loads through the service in a worker and owns its keys."""
