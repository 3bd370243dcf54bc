"""How the command line's ``--set KEY=VALUE`` values are read, for tracker settings and training
configs alike."""

from __future__ import annotations

import ast
import json
from typing import Any


def parse_value(text: str) -> Any:
    """A Python literal (``3``, ``0.5``, ``None``, ``True``, ``(0.8, 1.2)``, ``[2, 4]``), else JSON
    (``null``, ``true``, ``{"a": 1}``), else a float (``-inf``), else the text itself (``replicate``).

    The field's type is checked afterwards, so ``epochs=abc`` is an error, not the string "abc".
    """
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    try:
        return float(text)
    except ValueError:
        return text
