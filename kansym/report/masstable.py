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
    N, Z, A, element, each predicted quantity and its 1-sigma uncertainty (MeV, a space and 12 characters each; a
    column holding a wider value, e.g. an ME below -9999.999999 MeV, is widened on every line, so that each column
    starts at the same place on every line; blank where not given) and the source (kan or formula). The measured
    AME2020 values are in the CSV form only."""
    cols = [c for q in SHORT for c in (q, f"{q}_sigma")]
    labels = [SHORT[c] if c in SHORT else "d" + SHORT[c[:-6]] for c in cols]
    cells = [[_cell(float(v)).strip() for v in frame[c].tolist()] for c in cols]
    widths = [max([12, *map(len, col)]) for col in cells]
    lines = ["# " + _CONTROL.sub("?", h) for h in header]  # a run folder's name may hold a newline
    lines.append("# energies in MeV (blank: not given); dX: predictive 1-sigma uncertainty of X; Sn = S_n, S2n = S_2n, "
                 "Sp = S_p, S2p = S_2p, Qa = Q_alpha, Qb- = Q_beta_minus")
    lines.append("#   N    Z    A  El " + "".join(lab.rjust(w + 1) for lab, w in zip(labels, widths)) + "  source")
    symbols = {}
    for k, row in enumerate(frame[["N", "Z", "A", "source"]].itertuples(index=False)):
        z = int(row[1])
        if z not in symbols:
            symbols[z] = element_symbol(z)
        el = symbols[z]
        values = "".join(" " + col[k].rjust(w) for col, w in zip(cells, widths))
        lines.append(f"{int(row[0]):5d}{z:5d}{int(row[2]):5d}  {el[:3]:<3}{values}  {row[-1]}")
    return "\n".join(lines) + "\n"
