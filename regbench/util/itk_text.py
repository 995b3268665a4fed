"""Texts that come from ITK (exceptions, stop descriptions), made comparable. Imports nothing of regbench."""

from __future__ import annotations

import re

_ADDRESS = re.compile(r"\(?0x[0-9a-fA-F]{4,}\)?")
# "Exception thrown in SimpleITK WriteTransform: /build/.../itkTransformIOBase.cxx:88:" before ITK's sentence
_SOURCE = re.compile(r"^(Exception thrown in SimpleITK \w+: )?\S+\.(cxx|hxx|h|cpp):\d+:\s*", re.MULTILINE)


def without_addresses(text: str) -> str:
    """``text`` without object addresses (ITK writes ``MattesMutualInformation...v4(0x55b8eb472520)`` into its
    exceptions, which reach stop texts and errors): identical failures get identical texts, and the same run the
    same record."""
    return _ADDRESS.sub("", text)


def itk_message(error: object, width: int = 300) -> str:
    """ITK's own sentence from an exception (or its text), on one line: without the C++ source file and line
    SimpleITK puts first, and without object addresses."""
    text = _SOURCE.sub("", str(error))
    for marker in ("sitk::ERROR:", "ITK ERROR:"):
        if marker in text:
            text = text.split(marker, 1)[1]
    text = " ".join(without_addresses(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"
