"""Texts that come from ITK (exceptions, stop descriptions), made comparable. Imports nothing of regbench."""

from __future__ import annotations

import re

_ADDRESS = re.compile(r"\(?0x[0-9a-fA-F]{4,}\)?")


def without_addresses(text: str) -> str:
    """``text`` without object addresses (ITK writes ``MattesMutualInformation...v4(0x55b8eb472520)`` into its
    exceptions, which reach stop texts and errors): identical failures get identical texts, and the same run the
    same record."""
    return _ADDRESS.sub("", text)
