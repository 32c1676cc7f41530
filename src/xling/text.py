"""Text as it enters xling (model outputs, benchmark rows, run files), made safe to keep.

A lone UTF-16 surrogate (a JSON "\\ud800" from an API server, or a file edited by hand)
is a valid Python str but cannot be written as UTF-8: left in, it crashes the write of
every batch holding it, and every resume crashes at the same batch. A NUL byte breaks
C-level consumers (tokenizers, terminals). Both are replaced once, where text comes in,
so nothing later has to care.
"""

from __future__ import annotations

import re

_UNWRITABLE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def sanitize(text: str) -> str:
    """`text` with lone surrogates replaced by U+FFFD and NUL characters removed."""
    if text.isascii():
        return text.replace("\x00", "")
    return _UNWRITABLE.sub(REPLACEMENT, text).replace("\x00", "")
