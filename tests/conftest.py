import pytest

import regbench


@pytest.fixture
def pm(monkeypatch):
    """A fresh plugin manager with built-ins only (no third-party entry points)."""
    monkeypatch.delenv("REGBENCH_BLOCK_PLUGINS", raising=False)
    return regbench.make_plugin_manager(entrypoints=False)
