"""Predicted mass tables of a run (``kansym predict`` and ``predict_nuclei``): the nuclei of a domain, the run's
KAN and formula on them with calibrated predictive uncertainties (``kansym.checks.masstable``), drip lines and
staggering warnings. Nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kansym.checks import masstable as mt
from kansym.checks.farcheck import domain as model_domain
from kansym.errors import KansymError, unmasked
from kansym.nuclear import tables
from kansym.nuclear.nuclides import element_z, z_label
from kansym.nuclear.targets import SUBSETS
from kansym.pipeline.config import run_config
from kansym.pipeline.discovery import no_formula
from kansym.pipeline.registry import check_run
from kansym.runs.store import RunDir

DOMAINS = ("frdm12", "ws4", "hfb27", "ame2020")
MAX_Z, MAX_N = 200, mt.MAX_N
"""Largest proton and neutron numbers a predicted table may ask for."""


@dataclass(frozen=True)
class MassPrediction:
    """A predicted mass table: ``table`` (one row per nucleus and source, columns ``masstable.COLUMNS`` then the
    measured AME2020 values), the model-error calibration of each source, drip lines (Z, N_drip, ... per source;
    None unless asked), notes (staggering warnings, members left out, clipped ranges) and the domain in words."""

    table: pd.DataFrame
    calibration: dict
    drip_lines: dict | None
    notes: tuple[str, ...]
    domain: str


def parse_range(text, what: str, top: int, bottom: int = 1) -> tuple[int, int]:
    """'lo:hi' or a single number (ASCII digits) inside bottom .. top, lo <= hi (Z from 1, N from 0, as
    :func:`nuclei_frame` takes them)."""
    raw = str(text).strip()
    parts = raw.split(":")
    if len(parts) not in (1, 2) or not all(p.isascii() and p.isdecimal() for p in parts):
        raise KansymError(f"{what} {raw[:30]!r}: give a range lo:hi (or one value) of whole numbers, e.g. 20:120")
    if any(len(p) > 4 for p in parts):
        raise KansymError(f"{what} {raw[:30]!r} must lie inside {bottom} .. {top}")
    lo, hi = int(parts[0]), int(parts[-1])
    if lo > hi:
        raise KansymError(f"{what} {raw[:30]!r} is inverted (empty); give lo:hi with lo <= hi")
    if not bottom <= lo <= hi <= top:
        raise KansymError(f"{what} {raw[:30]!r} must lie inside {bottom} .. {top}")
    return lo, hi


def nuclei_frame(Z, N) -> pd.DataFrame:
    """Columns Z, N of nuclei given as whole numbers or equal-length sequences of them (one may be a single number),
    each Z in 1 .. MAX_Z and N in 0 .. MAX_N."""
    Z, N = unmasked(Z, "Z"), unmasked(N, "N")
    if isinstance(Z, pd.Series) and isinstance(N, pd.Series) and not Z.index.equals(N.index):
        raise KansymError("Z and N are pandas Series with different indexes: their rows would be paired by position, "
                          "not by index; pass them from one frame (df['Z'], df['N']) or as arrays")
    try:
        if np.ndim(Z) and np.ndim(N) and np.size(Z) != np.size(N):  # [50, 52] with [70] is a slip, not a broadcast
            raise ValueError
        z, n = np.broadcast_arrays(np.atleast_1d(np.asarray(Z)), np.atleast_1d(np.asarray(N)))
    except ValueError:
        raise KansymError(f"Z and N must have the same length (or one be a single number), got {np.size(Z)} and "
                          f"{np.size(N)}") from None
    if z.ndim != 1:
        raise KansymError(f"Z and N must be whole numbers or one-dimensional sequences of them, got a {z.ndim}-D array")
    if z.size == 0:
        raise KansymError("Z and N are empty: give at least one nucleus")
    out = []
    for name, v, lo, hi in (("Z", z, 1, MAX_Z), ("N", n, 0, MAX_N)):
        given = str(v.tolist())[:60]  # as given (a float beyond int64 would wrap around when converted)
        if v.dtype.kind == "f" and np.all(np.isfinite(v)) and np.all(v == np.round(v)) \
                and np.all(np.abs(v) <= hi):
            v = v.astype(np.int64)
        if v.dtype.kind not in "iu" or v.min() < lo or v.max() > hi:
            raise KansymError(f"{name} must hold whole numbers in {lo} .. {hi}, got {given}")
        out.append(v.astype(np.int64))
    frame = pd.DataFrame({"Z": out[0], "N": out[1]})
    if frame.duplicated().any():
        raise KansymError("a nucleus (Z, N) is asked for twice")
    return frame


def _in_selection(frame: pd.DataFrame, selection) -> pd.DataFrame:
    z, n = frame["Z"].to_numpy(), frame["N"].to_numpy()
    keep = SUBSETS[selection.subset](z, n) & (z >= selection.min_z) & (n >= selection.min_n)
    return frame.loc[keep, ["Z", "N"]].sort_values(["Z", "N"]).reset_index(drop=True)


def domain_nuclei(cfg, domain: str | None = None, z=None, n=None) -> tuple[pd.DataFrame, str]:
    """(Z, N of the nuclei, the domain in words): a table's nuclei (``domain``) or the rectangle ``z`` x ``n``
    ((lo, hi) each), in the run's subset and Z, N cuts."""
    sel = cfg.selection()
    cut = f"{sel.subset}, Z >= {sel.min_z}, N >= {sel.min_n}"
    if domain is not None:
        if domain not in DOMAINS:
            raise KansymError(f"unknown domain {str(domain)[:30]!r}; choose one of {', '.join(DOMAINS)}")
        if domain == "ame2020":
            nuclei, label = _in_selection(tables.load_experiment(), sel), "AME2020 (measured and estimated)"
        else:
            nuclei, label = model_domain(sel, domain)[["Z", "N"]], tables.MODELS[domain].label
        what = f"the {label} nuclei ({cut})"
    else:
        (z0, z1), (n0, n1) = z or (1, MAX_Z), n or (1, MAX_N)
        grid = pd.DataFrame([(a, b) for a in range(z0, z1 + 1) for b in range(n0, n1 + 1)], columns=["Z", "N"])
        nuclei, what = _in_selection(grid, sel), f"Z {z0}..{z1} x N {n0}..{n1} ({cut})"
    if nuclei.empty:
        raise KansymError(f"no nucleus in {what}")
    return nuclei, what


def chain_elements(cfg, z=None, elements=()) -> list[int]:
    """Proton numbers of the chains to follow: ``elements`` (symbols or Z), else the elements of the range ``z`` that
    the run's selection has nuclei of, else every element measured in the run's selection."""
    has = measured_elements(cfg)
    if elements:
        given = [element_z(e) for e in elements]
        twice = sorted({z for z in given if given.count(z) > 1})
        if twice:
            raise KansymError(f"--elements names Z = {', '.join(map(str, twice))} twice (by symbol and by Z, or "
                              "repeated); name each once")
        zs = sorted(set(given))
        low = [v for v in zs if v < cfg.min_z]
        if low:
            raise KansymError(f"Z = {', '.join(map(str, low))} lies below the run's selection (Z >= {cfg.min_z}); "
                              "its formula and networks were not fitted there")
        odd = [v for v in zs if not SUBSETS[cfg.subset](np.array([v, v]), np.array([v, v + 1])).any()]
        if odd:
            raise KansymError(f"the run's subset ({cfg.subset}) has no nucleus with Z = {', '.join(map(str, odd))}")
        unmeasured = [v for v in zs if v not in has]
        if unmeasured:
            raise KansymError(f"no measured nucleus of {z_label(unmeasured[0])} in the "
                              "run's selection to start its chain from")
        return zs
    zs = [v for v in has if z is None or z[0] <= v <= z[1]]
    if not zs:
        raise KansymError("no element of the run's selection with measured nuclei in that range of Z")
    return zs


def measured_elements(cfg) -> list[int]:
    """Proton numbers with a measured AME2020 nucleus in the run's subset and Z, N cuts."""
    ame = tables.load_experiment()
    return sorted(set(_in_selection(ame[~ame["estimated"]], cfg.selection())["Z"].astype(int)))


def predict_table(cfg, stage, formula, nuclei: pd.DataFrame, use=("kan", "formula"), what: str = "") -> MassPrediction:
    """The run's predictions on ``nuclei`` (Z, N) for each source in ``use``, with calibrated uncertainties."""
    calibration = mt.run_calibrations(cfg, stage, formula, use)
    found, notes = mt.surfaces(cfg, stage, formula, nuclei, use)
    frame = pd.concat([mt.table(found[s], calibration[s]) for s in use], ignore_index=True)
    notes += mt.staggering(frame) + mt.implausible(frame)
    return MassPrediction(frame, calibration, None, tuple(notes), what or f"{len(nuclei)} nuclei")


def predict_to_drip_line(cfg, stage, formula, zs, use=("kan", "formula")) -> MassPrediction:
    """Each element's chain from its lightest measured isotope to the two-neutron drip line of each source (see
    ``masstable.drip_line``)."""
    scan = mt.scan_nuclei(cfg.subset, cfg.min_n, zs)
    calibration = mt.run_calibrations(cfg, stage, formula, use)
    found, notes = mt.surfaces(cfg, stage, formula, scan, use,
                               what="nuclei scanned along the chains (out to N = 3Z + 50, past the drip lines)")
    frames, drips = [], {}
    for s in use:
        shown = mt.table(found[s], calibration[s])[scan["shown"].to_numpy()]
        drip = mt.surface_drip_lines(found[s], scan["shown"].to_numpy())
        drips[s] = drip
        last = dict(zip(drip["Z"], drip["N_drip"]))
        keep = [last.get(z) is not None and not pd.isna(last.get(z)) and n <= last[z]
                for z, n in zip(shown["Z"], shown["N"])]
        frames.append(shown[keep])
        open_ = drip.loc[drip["N_first_unbound"].isna(), "Z"].tolist()
        ends = drip.loc[drip["by"] == "end", "Z"].tolist()
        if ends:
            notes.append(f"{s}: predictions stop (non-finite) before the drip line for Z = "
                         f"{', '.join(map(str, ends[:10]))}{' ...' if len(ends) > 10 else ''}")
            open_ = [z for z in open_ if z not in ends]
        if open_:
            notes.append(f"{s}: no drip line before N = min(3Z + 50, {mt.MAX_N}) or before the predictions stop "
                         f"for Z = {', '.join(map(str, open_[:10]))}{' ...' if len(open_) > 10 else ''}")
    for ref in mt.DRIP_REFERENCES:
        drips[ref] = mt.reference_drip_lines(scan, ref)
    frame = pd.concat(frames, ignore_index=True)
    notes += mt.staggering(frame) + mt.implausible(frame)
    what = (f"{len(zs)} isotopic chain{'s' if len(zs) > 1 else ''} to the two-neutron drip line (the last nucleus "
            "before S_2n first turns negative)")
    return MassPrediction(frame, calibration, drips, tuple(notes), what)


def load_run(run_dir: Path):
    """(config, KanStage, formula or None) of a run directory after every check ``kansym show`` makes
    (``registry.check_run``): a table is never predicted from networks or a formula that show would refuse."""
    return check_run(Path(run_dir))


def predict_run(run_dir: Path, domain: str | None = None, z=None, n=None, to_drip_line: bool = False,
                use=("kan", "formula"), elements=()) -> MassPrediction:
    """The predicted table of a run over a domain: a table's nuclei (``domain``), the rectangle ``z`` x ``n``
    ((lo, hi) each), or with ``to_drip_line`` each element's chain (``elements``, else the range ``z``, else every
    element of the run) to the neutron drip line. ``use``: 'kan', 'formula' or both. The request is checked against
    the run's configuration before its networks are loaded."""
    rd, use = RunDir(Path(run_dir)), tuple(use)
    if to_drip_line and (domain is not None or n is not None):
        raise KansymError("--to-drip-line follows each chain from its lightest measured isotope; it takes --z "
                          "or --elements, not --domain or --n")
    if not to_drip_line and domain is not None and (z is not None or n is not None):
        raise KansymError("give either --domain or --z/--n ranges, not both")
    if not to_drip_line and domain is None and z is None and n is None:
        raise KansymError("say which nuclei: --domain frdm12|ws4|hfb27|ame2020, --z lo:hi --n lo:hi, or --to-drip-line")
    cfg = run_config(rd.config, f"run {rd.id}: config.json")
    if "formula" in use and not rd.file("formula.json").exists():
        raise KansymError(f"{no_formula(rd)}; or use --use kan")
    if to_drip_line:
        zs = chain_elements(cfg, z, elements)
    else:
        nuclei, what = domain_nuclei(cfg, domain, z, n)
    cfg, stage, formula = load_run(rd.path)
    if to_drip_line:
        return predict_to_drip_line(cfg, stage, formula, zs, use)
    return predict_table(cfg, stage, formula, nuclei, use, what)


def chain(element, to="drip-line", subset: str = "even-even", reference: str = "frdm12") -> pd.DataFrame:
    """Z, N of an isotopic chain, for ``predict_nuclei``: from the element's lightest isotope measured in AME2020
    (in ``subset``) to the two-neutron drip line of the mass model ``reference`` (``to='drip-line'``: its last
    nucleus before S_2n first turns negative, or the end of its table) or to the neutron number ``to``."""
    z = element_z(element)
    if subset not in SUBSETS:
        raise KansymError(f"unknown subset {str(subset)[:20]!r}; choose one of {', '.join(SUBSETS)}")
    if not SUBSETS[subset](np.array([z, z]), np.array([z, z + 1])).any():
        raise KansymError(f"the subset {subset} has no nucleus with Z = {z}")
    scan = mt.scan_nuclei(subset, 0, [z])
    if isinstance(to, str):
        if to != "drip-line":
            raise KansymError(f"to must be 'drip-line' or a neutron number, got {to[:20]!r}")
        drip = mt.reference_drip_lines(scan, tables.check_model(reference).name)
        last = drip["N_drip"].iloc[0] if len(drip) else None
        if last is None or pd.isna(last):
            raise KansymError(f"the {tables.check_model(reference).label} table gives no bound nucleus of Z = {z}")
    elif isinstance(to, (int, np.integer)) and not isinstance(to, bool) and 0 <= to <= MAX_N:
        last = int(to)
    else:
        raise KansymError(f"to must be 'drip-line' or a whole neutron number in 0 .. {MAX_N}, got {str(to)[:20]!r}")
    shown = scan[scan["shown"] & (scan["N"] <= last)]
    if shown.empty:
        raise KansymError(f"no nucleus of Z = {z} between its lightest measured isotope and N = {last}")
    return shown[["Z", "N"]].reset_index(drop=True)
