"""The plugin host: pluggy hooks through which built-ins and third parties contribute."""
