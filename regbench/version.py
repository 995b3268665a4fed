"""The version of regbench: one source, which setuptools reads without importing (pyproject.toml) and every record
stores. A module of its own so the core can read it without importing the package root, which imports the core."""

__version__ = "0.1.0"
