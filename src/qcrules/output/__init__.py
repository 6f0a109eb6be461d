"""Output formats for `qcrules evaluate`; plugins add more through `qcrules_register_formats`."""
