"""Adapters: other protocols' encodings of the same run log (DESIGN.md, "Adapters")."""
