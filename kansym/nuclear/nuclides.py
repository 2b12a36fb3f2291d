"""Nuclide helpers shared by the stages: element symbols, binding energy from mass excess, separation
energies and the nuclei of an isotopic or isotonic chain. Energies in MeV (AME2020 constants)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kansym.nuclear import tables
from kansym.errors import KansymError
from kansym.metrics import rms

_ED = tables.AME_EDITIONS["ame2020"]
ME_H, ME_N = _ED.me_h_kev / 1000.0, _ED.me_n_kev / 1000.0


def be_from_me(z, n, me):
    return np.asarray(z) * ME_H + np.asarray(n) * ME_N - np.asarray(me)


MAX_CHAINS = 120
"""Most chains one extrapolation compares (there are about 120 elements)."""


def element_z(symbol: str) -> int:
    """Proton number of an element symbol (as in AME2020), or of a plain integer string."""
    text = str(symbol).strip()
    if not text.isascii() or not text:
        raise KansymError(f"chain {text[:20]!r}: use an element symbol such as Zr or a proton number in ASCII digits")
    if text.isdecimal():
        if not 1 <= len(text) <= 3 or not 1 <= int(text) <= 200:
            raise KansymError(f"chain {text[:20]!r}: a proton number must lie in 1 .. 200")
        return int(text)
    ame = tables.load_experiment()
    hits = ame.loc[ame["element"] == text, "Z"].unique()  # as written first: 'N' is nitrogen, 'n' the neutron
    if len(hits) != 1:
        hits = ame.loc[ame["element"].str.lower() == text.lower(), "Z"].unique()
    if len(hits) != 1:
        raise KansymError(f"unknown element symbol {symbol!r}; use a symbol such as Zr, Nd, Hg, Fm or a proton number")
    return int(hits[0])


def element_symbol(z: int) -> str:
    ame = tables.load_experiment()
    hit = ame.loc[ame["Z"] == z, "element"]
    return str(hit.iloc[0]) if len(hit) else str(z)


def z_label(z: int) -> str:
    """'Z = 50 (Sn)', or 'Z = 200' for an element without a symbol in AME2020."""
    symbol = element_symbol(z)
    return f"Z = {z}" if symbol == str(z) else f"Z = {z} ({symbol})"


# --------------------------------------------------------------------------- separation energies

def separation_energies(surface: pd.DataFrame, column: str = "BE") -> pd.DataFrame:
    """S_n, S_2n, S_p, S_2p [MeV] for every nucleus of a BE surface (columns Z, N, ``column``)."""
    be = {(int(z), int(n)): float(b) for z, n, b in zip(surface["Z"], surface["N"], surface[column])}
    out = surface[["Z", "N"]].copy()
    for name, dz, dn in (("S_n", 0, 1), ("S_2n", 0, 2), ("S_p", 1, 0), ("S_2p", 2, 0)):
        out[name] = [be[(z, n)] - be[(z - dz, n - dn)] if (z - dz, n - dn) in be else np.nan
                     for z, n in zip(out["Z"], out["N"])]
    return out


def separation_rms(pred: pd.DataFrame, exp: pd.DataFrame) -> dict:
    """RMS of predicted minus AME2020 separation energies on the nuclei where both exist."""
    m = pred.merge(exp, on=["Z", "N"], suffixes=("_pred", "_exp"))
    out = {}
    for s in ("S_n", "S_2n", "S_p", "S_2p"):
        d = (m[f"{s}_pred"] - m[f"{s}_exp"]).dropna()
        out[s] = {"rms_mev": rms(d), "n": int(len(d))}
    return out


# --------------------------------------------------------------------------- chains

def chain_nuclei(z: int, measured: pd.DataFrame, beyond: int, step: int, both_sides: bool = False,
                 fixed: str = "Z") -> pd.DataFrame:
    """An isotopic chain (``fixed='Z'``, value z) or isotonic chain (``fixed='N'``, value z): the measured
    members (with the run's parity) and ``beyond`` steps toward the neutron-rich side (larger N on an
    isotopic chain, smaller Z on an isotonic one; both sides with ``both_sides``); ``distance`` counts
    steps past the measured range on the neutron-rich side (negative on the other side)."""
    free = "N" if fixed == "Z" else "Z"
    vals = sorted(measured.loc[measured[fixed] == z, free])
    if not vals:
        what = z_label(z) if fixed == "Z" else f"N = {z}"
        raise KansymError(f"no measured nuclei with {what} in the run's selection")
    lo, hi = vals[0], vals[-1]
    rich, poor = (1, -1) if fixed == "Z" else (-1, 1)  # direction of the neutron-rich side in the free variable
    start = {1: hi, -1: lo}
    rows = [(v, 0) for v in range(lo, hi + 1, step)]
    rows += [(start[rich] + rich * step * k, k) for k in range(1, beyond + 1)]
    if both_sides:
        rows += [(start[poor] + poor * step * k, -k) for k in range(1, beyond + 1)]
    rows = sorted((v, d) for v, d in rows if v > 0)
    return pd.DataFrame({fixed: z, free: [v for v, _ in rows], "distance": [d for _, d in rows]})[["Z", "N", "distance"]]
