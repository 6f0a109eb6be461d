"""Rule packs: the TOML loader, the expression language, diagnostics and the registry."""
