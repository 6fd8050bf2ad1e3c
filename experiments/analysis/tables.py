"""Flat views of nested configs, and spreadsheet-safe cells: shared by exports, uploads, compare and forms."""

from __future__ import annotations

from typing import Any

# A spreadsheet runs a cell starting with these as a formula (CSV injection; OWASP).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def flatten_config(data: dict, *, sep: str = ".", prefix: str = "") -> dict[str, Any]:
    """`{"optimizer": {"lr": 0.1}}` -> `{"optimizer.lr": 0.1}`; lists stay lists."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(flatten_config(value, sep=sep, prefix=f"{prefix}{key}{sep}"))
        else:
            out[f"{prefix}{key}"] = value
    return out


def spreadsheet_safe(cell: str) -> str:
    """A cell a spreadsheet would run as a formula gets a leading quote; numbers like -1.5 stay numbers."""
    if cell.startswith(FORMULA_START):
        try:
            float(cell)
            return cell
        except ValueError:
            return "'" + cell
    return cell
