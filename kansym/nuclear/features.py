"""Pure functions from (Z, N) to named input features.

Definitions (all dimensionless):

* ``A = Z + N``; ``N-Z``; ``A^(2/3)``.
* ``Z_EO = Z mod 2``, ``N_EO = N mod 2`` (0 for even, 1 for odd).
* Magic numbers: protons 8, 20, 28, 50, 82, 126; neutrons the same plus 184.
* ``v_Z``, ``v_N``: distance of Z (N) to the nearest magic number, |Z - M| minimised over M.
* Shell index ``Z_shell``: the number of magic numbers <= Z (0 below 8, 1 for 8 <= Z < 20, ...).
* Shell filling ``mu_Z = (Z - M_lo) / (M_hi - M_lo)`` in [0, 1), where M_lo <= Z < M_hi are the
  magic numbers enclosing Z (M_lo = 0 below the first magic number; above the last one,
  M_hi is taken as 184 for protons and 258 for neutrons). Same for N.
* Shell occupancy (Duflo-Zuker-like): ``s_Z = (Z - M_lo)(M_hi - Z) / (M_hi - M_lo)`` with M_lo <= Z < M_hi
  the enclosing magic numbers as for ``mu_Z``: the product of valence particles and holes over the shell's
  degeneracy, 0 at a closure and (M_hi - M_lo)/4 at mid-shell (the quantity whose square and products make
  Duflo-Zuker's shell energy); 0 from the assumed closure 184 (protons) or 258 (neutrons) on, where no further
  shell is known. Same for ``s_N``.
* Three-body (particle-hole asymmetric) occupancy ``t_Z = s_Z (2 mu_Z - 1)``: negative in the lower half of a
  shell, positive in the upper half, 0 at closures and mid-shell (the valence factor of Duflo-Zuker's spherical
  three-body term). Same for ``t_N``.
* Casten's valence factor ``P_NZ = v_N v_Z / (v_N + v_Z)`` (0 when both are magic): the proton-neutron
  interactions per valence nucleon, which drive deformation.
* KAN-WS4 inputs (Lu et al.): ``Delta = [(-1)^N + (-1)^Z] / 2``;
  ``P = 12/sqrt(A) + Delta`` (even-even), ``-12/sqrt(A) + Delta`` (odd-odd), ``Delta`` (odd A);
  ``S = v_Z * v_N``.
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np
import pandas as pd

from kansym.errors import KansymError, choose

PROTON_MAGIC = (8, 20, 28, 50, 82, 126)
NEUTRON_MAGIC = (8, 20, 28, 50, 82, 126, 184)
_NEXT_SHELL = {"Z": 184, "N": 258}  # assumed closure above the last listed magic number


def magic_distance(x, magic) -> np.ndarray:
    """Distance of each x to the nearest magic number."""
    x = np.asarray(x, dtype=np.int64)
    return np.min(np.abs(x[:, None] - np.asarray(magic)[None, :]), axis=1)


def shell_index(x, magic) -> np.ndarray:
    """Number of magic numbers <= x."""
    return np.searchsorted(np.asarray(magic), np.asarray(x), side="right")


def shell_filling(x, magic, next_closure: int) -> np.ndarray:
    """Fraction (x - M_lo) / (M_hi - M_lo) of the major shell that x sits in."""
    x = np.asarray(x, dtype=np.float64)
    bounds = np.concatenate([[0], magic, [next_closure]]).astype(np.float64)
    i = np.clip(np.searchsorted(bounds, x, side="right") - 1, 0, len(bounds) - 2)
    lo, hi = bounds[i], bounds[i + 1]
    return (x - lo) / (hi - lo)


def shell_occupancy(x, magic, next_closure: int) -> np.ndarray:
    """(x - M_lo)(M_hi - x) / (M_hi - M_lo) of the major shell that x sits in (particles); 0 from the assumed
    closure ``next_closure`` on, where no further shell is known (the parabola of the last shell would turn
    negative and grow without bound there: beyond N = 258 a formula in s_N would depart from the drop by tens of MeV)."""
    x = np.asarray(x, dtype=np.float64)
    mu = shell_filling(x, magic, next_closure)
    bounds = np.concatenate([[0], magic, [next_closure]]).astype(np.float64)
    i = np.clip(np.searchsorted(bounds, x, side="right") - 1, 0, len(bounds) - 2)
    return np.where(x >= next_closure, 0.0, (bounds[i + 1] - bounds[i]) * mu * (1.0 - mu))


def casten_p(z, n) -> np.ndarray:
    """P_NZ = v_N v_Z / (v_N + v_Z), 0 where both are magic."""
    vz = magic_distance(z, PROTON_MAGIC).astype(np.float64)
    vn = magic_distance(n, NEUTRON_MAGIC).astype(np.float64)
    total = vz + vn
    return np.divide(vz * vn, total, out=np.zeros_like(total), where=total > 0)


def pairing_delta(z, n) -> np.ndarray:
    """Delta = [(-1)^N + (-1)^Z] / 2: +1 even-even, -1 odd-odd, 0 odd-A."""
    z, n = np.asarray(z), np.asarray(n)
    return (np.where(n % 2 == 0, 1.0, -1.0) + np.where(z % 2 == 0, 1.0, -1.0)) / 2.0


def pairing_p(z, n) -> np.ndarray:
    """The P input of KAN-WS4: 12/sqrt(A) + Delta (e-e), -12/sqrt(A) + Delta (o-o), Delta (odd A)."""
    delta = pairing_delta(z, n)
    a = np.asarray(z, dtype=np.float64) + np.asarray(n, dtype=np.float64)
    return delta * 12.0 / np.sqrt(a) + delta


def shell_s(z, n) -> np.ndarray:
    """The S input of KAN-WS4: v_Z * v_N."""
    return (magic_distance(z, PROTON_MAGIC) * magic_distance(n, NEUTRON_MAGIC)).astype(np.float64)


def all_features(z, n) -> pd.DataFrame:
    """Every named feature for the nuclei (z, n), as float64 columns."""
    z = np.asarray(z, dtype=np.int64)
    n = np.asarray(n, dtype=np.int64)
    a = z + n
    cols = {
        "Z": z, "N": n, "A": a, "N-Z": n - z,
        "A^(2/3)": np.cbrt(a.astype(np.float64)) ** 2,
        "Z_EO": z % 2, "N_EO": n % 2,
        "mu_Z": shell_filling(z, PROTON_MAGIC, _NEXT_SHELL["Z"]),
        "mu_N": shell_filling(n, NEUTRON_MAGIC, _NEXT_SHELL["N"]),
        "Z_shell": shell_index(z, PROTON_MAGIC), "N_shell": shell_index(n, NEUTRON_MAGIC),
        "v_Z": magic_distance(z, PROTON_MAGIC), "v_N": magic_distance(n, NEUTRON_MAGIC),
        "P": pairing_p(z, n), "S": shell_s(z, n),
        "s_Z": shell_occupancy(z, PROTON_MAGIC, _NEXT_SHELL["Z"]),
        "s_N": shell_occupancy(n, NEUTRON_MAGIC, _NEXT_SHELL["N"]),
        "P_NZ": casten_p(z, n),
    }
    cols["t_Z"] = cols["s_Z"] * (2.0 * cols["mu_Z"] - 1.0)
    cols["t_N"] = cols["s_N"] * (2.0 * cols["mu_N"] - 1.0)
    return pd.DataFrame({k: np.asarray(v, dtype=np.float64) for k, v in cols.items()})


FEATURE_SETS = MappingProxyType({
    "zn": ("Z", "N"),
    "znv": ("Z", "N", "v_Z", "v_N"),
    "kan4": ("N", "Z", "A", "N-Z"),
    "kan9": ("N", "Z", "A", "N-Z", "A^(2/3)", "Z_EO", "N_EO", "mu_Z", "mu_N"),
    "kan11": ("N", "Z", "A", "N-Z", "A^(2/3)", "Z_EO", "N_EO", "mu_Z", "mu_N", "Z_shell", "N_shell"),
    "znps": ("Z", "N", "P", "S"),
    "zns": ("Z", "N", "s_Z", "s_N"),
    "znsp": ("Z", "N", "s_Z", "s_N", "P_NZ"),
    "znst": ("Z", "N", "s_Z", "s_N", "t_Z", "t_N"),
})


def check_derived(X: np.ndarray, names: tuple[str, ...]) -> None:
    """Columns of a kansym feature set other than Z and N (v_N, P, A, ...) are functions of Z and N: a row that is
    no nucleus (whole Z >= 1, N >= 0) beside such columns, or whose derived columns say otherwise, is refused, naming
    the column and the row. (Z, N) alone may be evaluated anywhere."""
    if names not in FEATURE_SETS.values() or not {"Z", "N"} <= set(names) or not len(X):
        return
    z, n = X[:, names.index("Z")], X[:, names.index("N")]
    nuclear = (z == np.round(z)) & (n == np.round(n)) & (z >= 1) & (n >= 0) & (z <= 1000) & (n <= 1000)
    if set(names) - {"Z", "N"} and not nuclear.all():  # derived inputs exist only for nuclei
        row = int(np.flatnonzero(~nuclear)[0])
        raise KansymError(f"row {row} has Z = {z[row]:g}, N = {n[row]:g}: the inputs {', '.join(names)} are derived "
                          "from a nucleus (whole Z >= 1, N >= 0); give nuclei, or fit on Z and N alone to evaluate elsewhere")
    if not nuclear.any():
        return
    want = all_features(z[nuclear].astype(np.int64), n[nuclear].astype(np.int64))
    for k, name in enumerate(names):
        off = np.flatnonzero(~np.isclose(X[nuclear, k], want[name].to_numpy(), rtol=1e-6, atol=1e-6))  # float32 too
        if off.size:
            row = int(np.flatnonzero(nuclear)[off[0]])
            raise KansymError(f"X's column {name} is {X[row, k]:g} in row {row}, but Z = {z[row]:g}, N = {n[row]:g} "
                              f"give {want[name].to_numpy()[off[0]]:g}: a derived input must be the one of its nucleus")


def feature_names(feature_set: str) -> tuple[str, ...]:
    """Column names of a feature set; unknown names list the choices."""
    return FEATURE_SETS[choose("feature set", feature_set, FEATURE_SETS)]


def features(z, n, feature_set: str) -> pd.DataFrame:
    """The columns of ``feature_set`` for nuclei (z, n)."""
    return all_features(z, n)[list(feature_names(feature_set))]
