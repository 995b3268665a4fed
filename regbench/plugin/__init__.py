"""The plugin manager: built-ins, entry points, validation, provenance and typed hook calls."""
