"""Text of a predicted mass table: CSV, or a fixed-width table in the style of the AME and FRDM files. Energies in
MeV to 1 eV (6 decimals); an empty cell (CSV) or blanks (fixed width) where a value is not given."""

from __future__ import annotations

import math
import re

import pandas as pd

from kansym.nuclear.nuclides import element_symbol

INTEGER = ("Z", "N", "A")


def _cell(value, width: int = 0) -> str:
    if isinstance(value, str):
        return value.rjust(width)
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return " " * width
    return f"{value:{width}.6f}" if isinstance(value, float) else f"{value:{width}d}"


def csv_text(frame: pd.DataFrame) -> str:
    """CSV with a header row; integers as integers, energies with 6 decimals, empty cells for missing values."""
    cols = list(frame.columns)
    lines = [",".join(cols)]
    values = [frame[c].tolist() if c not in INTEGER else [int(v) for v in frame[c]] for c in cols]
    for row in zip(*values):
        lines.append(",".join(_cell(v) for v in row))
    return "\n".join(lines) + "\n"


SHORT = {"BE": "BE", "ME": "ME", "S_n": "Sn", "S_2n": "S2n", "S_p": "Sp", "S_2p": "S2p", "Q_alpha": "Qa",
         "Q_beta_minus": "Qb-"}
"""Column labels of the fixed-width table (d before a label: its 1-sigma uncertainty)."""


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def ame_text(frame: pd.DataFrame, header: list[str]) -> str:
    """Fixed-width table: '#' header lines (``header``, the units, the column labels), then one line per nucleus:
    N, Z, A, element, each predicted quantity and its 1-sigma uncertainty (MeV, a space and 12 characters each, wider
    only for values beyond +-99999; blank where not given) and the source (kan or formula). The measured AME2020 values are in the CSV form only."""
    cols = [c for q in SHORT for c in (q, f"{q}_sigma")]
    labels = [SHORT[c] if c in SHORT else "d" + SHORT[c[:-6]] for c in cols]
    lines = ["# " + _CONTROL.sub("?", h) for h in header]  # a run folder's name may hold a newline
    lines.append("# energies in MeV (blank: not given); dX: predictive 1-sigma uncertainty of X; Sn = S_n, S2n = S_2n, "
                 "Sp = S_p, S2p = S_2p, Qa = Q_alpha, Qb- = Q_beta_minus")
    lines.append("#   N    Z    A  El " + "".join(lab.rjust(13) for lab in labels) + "  source")
    symbols = {}
    for row in frame[["N", "Z", "A", *cols, "source"]].itertuples(index=False):
        z = int(row[1])
        if z not in symbols:
            symbols[z] = element_symbol(z)
        el = symbols[z]
        cells = "".join(" " + _cell(float(v), 12) for v in row[3:-1])  # a space between cells, however wide
        lines.append(f"{int(row[0]):5d}{z:5d}{int(row[2]):5d}  {el[:3]:<3}{cells}  {row[-1]}")
    return "\n".join(lines) + "\n"
