"""Far-extrapolation check: a prediction over a reference table's whole (Z, N) range.

The domain is every nucleus a reference mass table tabulates within a run's subset and Z, N cuts
(FRDM2012 by default: for even-even nuclei with Z, N >= 30 that is 2027 nuclei, 1308 of them
beyond AME2020). Two kinds of result:

* **Sanity**, which uses the domain only, never the reference's values: the prediction is finite;
  BE/A lies in ``BE_PER_A_BAND``; along every isotopic chain the two-neutron separation energy
  S_2n(Z, N) = BE(Z, N) - BE(Z, N-2) stays above ``S2N_MIN`` and does not rise by more than
  ``S2N_RISE`` over ``S2N_WINDOW`` chain steps (S_2n falls with N; shell closures and onsets of
  deformation make local kinks of a few MeV, a diverging surface keeps rising); binding energies
  stay within ``LD_DEPARTURE_MAX`` of the ``ldx`` liquid drop refitted on the same training nuclei
  (shell and deformation energies are at most ~15 MeV; the 5- and 7-term liquid drops refitted to
  the same nuclei differ by up to ~70 MeV far from stability, a diverging polynomial by hundreds);
  for a residual target the correction
  stays within +-``CORRECTION_MAX``. A candidate formula that fails any of these is never chosen.
  The limits are physical statements, not tuned to any table: the five reference models pass
  them on even-even nuclei with Z, N >= 30; on light drip-line nuclei FRDM2012 and HFB-27 do not.
* **Deviation** from reference models (BE_pred - BE_ref [MeV]): RMS and max inside and beyond
  AME2020, and the fraction of nuclei where the prediction lies outside the min..max spread of the
  five mass models (FRDM2012, WS4, HFB-27, DZ28, KTUY05) that tabulate the nucleus.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kansym.nuclear import features as feat
from kansym.nuclear import tables
from kansym.nuclear.baselines import fit_baseline
from kansym.errors import KansymError
from kansym.metrics import rms
from kansym.nuclear.nuclides import be_from_me
from kansym.nuclear.targets import SUBSETS, TARGET_KINDS

BE_PER_A_BAND = (3.0, 9.0)  # MeV; the most bound nucleus, 62Ni, has 8.79
S2N_MIN = -10.0  # MeV; the reference models reach -5.4 past their heavy-nucleus drip lines
S2N_RISE = 10.0  # MeV over S2N_WINDOW chain steps; the reference models reach 7.7 (superheavy shell gaps)
S2N_WINDOW = 4
LD_DEPARTURE_MAX = 100.0  # MeV; largest |BE - refitted liquid drop|
CORRECTION_MAX = 5.0  # MeV; largest |correction| to a mass model anywhere on its table
SPREAD_MODELS = tables.PAPER_MODELS  # ws4, dz28, frdm12, ktuy05, hfb27


def domain(selection, reference: str = "frdm12") -> pd.DataFrame:
    """Z, N, ``beyond`` (not in AME2020 at all) and ``BE_ref`` for every nucleus ``reference``
    tabulates inside the selection's subset and Z, N cuts."""

    ref = tables.load_model(tables.check_model(reference).name)
    z, n = ref["Z"].to_numpy(), ref["N"].to_numpy()
    keep = SUBSETS[selection.subset](z, n) & (z >= selection.min_z) & (n >= selection.min_n)
    out = ref.loc[keep, ["Z", "N", "ME_model"]].reset_index(drop=True)
    if out.empty:
        raise KansymError(f"the {tables.MODELS[reference].label} table has no nucleus in the selection "
                          f"({selection.subset}, Z >= {selection.min_z}, N >= {selection.min_n})")
    ame = tables.load_experiment()
    known = set(zip(ame["Z"], ame["N"]))
    out["beyond"] = [(a, b) not in known for a, b in zip(out["Z"], out["N"])]
    out["BE_ref"] = be_from_me(out["Z"], out["N"], out.pop("ME_model"))
    return out.sort_values(["Z", "N"]).reset_index(drop=True)


def uncovered(nuclei: pd.DataFrame, dom: pd.DataFrame) -> list[tuple[int, int]]:
    """(Z, N) of ``nuclei`` that the domain's reference table does not tabulate."""
    have = set(zip(dom["Z"], dom["N"]))
    return [(int(a), int(b)) for a, b in zip(nuclei["Z"], nuclei["N"]) if (a, b) not in have]


def _s2n(z: np.ndarray, n: np.ndarray, be: np.ndarray) -> pd.DataFrame:
    """S_2n along isotopic chains, with the rise from the previous chain member."""
    f = pd.DataFrame({"Z": z, "N": n, "BE": be}).sort_values(["Z", "N"])
    prev = f.assign(N=f["N"] + 2).rename(columns={"BE": "BE_m2"})
    m = f.merge(prev, on=["Z", "N"], how="inner")
    m["S_2n"] = m["BE"] - m["BE_m2"]
    m["rise"] = m.groupby("Z")["S_2n"].diff(S2N_WINDOW)
    return m[["Z", "N", "S_2n", "rise"]]


def _where(mask, z, n, values, limit: int = 8) -> list[list]:
    idx = np.flatnonzero(mask)
    order = idx[np.argsort(-np.abs(np.nan_to_num(values[idx], nan=np.inf)), kind="stable")][:limit]
    return [[int(z[i]), int(n[i]), float(values[i])] for i in order]


@dataclass(frozen=True)
class FarCheck:
    """Sanity and deviations of one prediction over a domain (energies in MeV)."""

    n: int
    n_beyond: int
    non_finite: int
    be_per_a_out: int
    s2n_negative: int
    s2n_rising: int
    correction_out: int
    ld_departure_out: int
    departure_rms: float  # RMS of |BE - refitted liquid drop| (be) or of the correction (residual) beyond AME2020
    examples: dict = field(default_factory=dict)  # check -> [[Z, N, value], ...] worst offenders
    deviation: dict = field(default_factory=dict)  # reference -> {rms/max inside/beyond}
    outside_spread: float | None = None

    @property
    def passed(self) -> bool:
        return not (self.non_finite or self.be_per_a_out or self.s2n_negative or self.s2n_rising
                    or self.correction_out or self.ld_departure_out)

    def failures(self) -> list[str]:
        """One sentence per failed check, naming the worst nuclei as (Z, N)."""
        out = []
        what = {"non_finite": "is NaN or infinite", "be_per_a_out": f"has BE/A outside {BE_PER_A_BAND} MeV",
                "s2n_negative": f"has S_2n below {S2N_MIN} MeV",
                "s2n_rising": f"has S_2n rising by more than {S2N_RISE} MeV over {S2N_WINDOW} steps of an "
                              "isotopic chain",
                "correction_out": f"has a correction beyond +-{CORRECTION_MAX} MeV",
                "ld_departure_out": f"departs from the refitted liquid drop by more than {LD_DEPARTURE_MAX} MeV"}
        for key, text in what.items():
            count = getattr(self, key)
            if count:
                worst = ", ".join(f"({z},{n}): {v:.4g}" for z, n, v in self.examples.get(key, []))
                out.append(f"{text} at {count} of {self.n} nuclei, e.g. (Z,N) {worst}")
        return out

    def summary(self) -> dict:
        return {"n_nuclei": self.n, "n_beyond_ame2020": self.n_beyond, "passed": self.passed,
                "non_finite": self.non_finite, "be_per_a_out_of_band": self.be_per_a_out,
                "s2n_below_min": self.s2n_negative, "s2n_rising": self.s2n_rising,
                "correction_out_of_bound": self.correction_out, "ld_departure_out_of_bound": self.ld_departure_out,
                "departure_rms_beyond_mev": self.departure_rms,
                "limits": {"be_per_a_mev": list(BE_PER_A_BAND), "s2n_min_mev": S2N_MIN, "s2n_rise_mev": S2N_RISE,
                           "s2n_window_steps": S2N_WINDOW, "ld_departure_max_mev": LD_DEPARTURE_MAX,
                           "correction_max_mev": CORRECTION_MAX},
                "failures": self.failures(), "deviation_mev": self.deviation,
                "fraction_outside_model_spread": self.outside_spread}


def check(dom: pd.DataFrame, be: np.ndarray, correction: np.ndarray | None = None,
          departure_from: np.ndarray | None = None) -> FarCheck:
    """Sanity of predicted binding energies ``be`` on the domain rows (no reference values used).

    ``correction``: for residual targets, the predicted correction to the mass model;
    ``departure_from``: a smooth reference surface (the refitted liquid drop) for the departure RMS.
    """
    z, n = dom["Z"].to_numpy(), dom["N"].to_numpy()
    be = np.asarray(be, dtype=np.float64)
    beyond = dom["beyond"].to_numpy()
    finite = np.isfinite(be)
    bpa = be / (z + n)
    lo, hi = BE_PER_A_BAND
    band = finite & ((bpa < lo) | (bpa > hi))
    s = _s2n(z, n, np.where(finite, be, np.nan))
    sz, sn, sv, rise = s["Z"].to_numpy(), s["N"].to_numpy(), s["S_2n"].to_numpy(), s["rise"].to_numpy()
    neg = np.isfinite(sv) & (sv < S2N_MIN)
    up = np.isfinite(rise) & (rise > S2N_RISE)
    examples = {"non_finite": _where(~finite, z, n, be), "be_per_a_out": _where(band, z, n, bpa),
                "s2n_negative": _where(neg, sz, sn, sv), "s2n_rising": _where(up, sz, sn, rise)}
    corr_out = ld_out = 0
    if correction is not None:
        c = np.asarray(correction, dtype=np.float64)
        bad = np.isfinite(c) & (np.abs(c) > CORRECTION_MAX)
        corr_out = int(bad.sum())
        examples["correction_out"] = _where(bad, z, n, c)
        departure = rms(c[beyond & np.isfinite(c)]) if (beyond & np.isfinite(c)).any() else float("nan")
    elif departure_from is not None:
        d = be - np.asarray(departure_from)
        ok = beyond & np.isfinite(d)
        departure = rms(d[ok]) if ok.any() else float("nan")
        far = np.isfinite(d) & (np.abs(d) > LD_DEPARTURE_MAX)
        ld_out = int(far.sum())
        examples["ld_departure_out"] = _where(far, z, n, d)
    else:
        departure = float("nan")
    if (~finite).any():
        departure = float("inf")
    return FarCheck(len(dom), int(beyond.sum()), int((~finite).sum()), int(band.sum()), int(neg.sum()),
                    int(up.sum()), corr_out, ld_out, float(departure), examples)


def spread(dom: pd.DataFrame, models=SPREAD_MODELS) -> pd.DataFrame:
    """Min and max BE [MeV] over the mass models tabulating each domain nucleus (NaN where fewer than two)."""
    cols = []
    for m in models:
        t = tables.load_model(m)
        merged = dom[["Z", "N"]].merge(t, on=["Z", "N"], how="left")
        cols.append(be_from_me(merged["Z"], merged["N"], merged["ME_model"]))
    B = np.column_stack(cols)
    count = np.isfinite(B).sum(axis=1)
    B = np.where(count[:, None] >= 2, B, np.nan)
    lo, hi = np.full(len(B), np.nan), np.full(len(B), np.nan)
    rows = count >= 2
    lo[rows], hi[rows] = np.nanmin(B[rows], axis=1), np.nanmax(B[rows], axis=1)
    return pd.DataFrame({"BE_min": lo, "BE_max": hi})


def deviations(dom: pd.DataFrame, be: np.ndarray, against=("frdm12",),
               model_spread: pd.DataFrame | None = None) -> tuple[dict, float | None]:
    """Prediction minus each reference (BE [MeV]) inside and beyond AME2020, and the fraction of
    nuclei outside the model spread (``model_spread``: :func:`spread` of the domain, computed if None)."""
    be = np.asarray(be, dtype=np.float64)
    beyond = dom["beyond"].to_numpy()
    out = {}
    for ref in against:
        t = tables.load_model(tables.check_model(ref).name)
        m = dom[["Z", "N"]].merge(t, on=["Z", "N"], how="left")
        d = be - be_from_me(m["Z"], m["N"], m["ME_model"])
        rec = {"n_compared": int(np.isfinite(d).sum())}
        for part, mask in (("inside", ~beyond), ("beyond", beyond), ("all", np.ones_like(beyond))):
            v = d[mask & np.isfinite(d)]
            rec[f"rms_{part}"] = rms(v) if len(v) else float("nan")
            rec[f"max_abs_{part}"] = float(np.abs(v).max()) if len(v) else float("nan")
        out[ref] = rec
    sp_ = spread(dom) if model_spread is None else model_spread
    ok = np.isfinite(sp_["BE_min"].to_numpy()) & np.isfinite(be)
    outside = ok & ((be < sp_["BE_min"].to_numpy()) | (be > sp_["BE_max"].to_numpy()))
    frac = float(outside.sum() / ok.sum()) if ok.any() else None
    return out, frac


def prediction_be(target: str, dom: pd.DataFrame, values: np.ndarray, model: str | None = None) -> tuple:
    """(BE [MeV], correction or None) on the domain from a prediction of ``target``."""
    z, n = dom["Z"].to_numpy(), dom["N"].to_numpy()
    values = np.asarray(values, dtype=np.float64)
    kind = TARGET_KINDS[target]
    mm = dom[["Z", "N"]].merge(tables.load_model(model), on=["Z", "N"], how="left")["ME_model"].to_numpy() \
        if kind.needs_model else None
    return kind.to_be(z, n, values, mm)


def domain_features(dom: pd.DataFrame, feature_set: str) -> np.ndarray:
    return feat.features(dom["Z"].to_numpy(), dom["N"].to_numpy(), feature_set).to_numpy()


def liquid_drop_surface(train_z, train_n, train_be, dom: pd.DataFrame) -> np.ndarray:
    """The ``ldx`` liquid drop refitted on the training binding energies, on the domain [MeV]."""

    X = np.column_stack([train_z, train_n]).astype(np.float64)
    b = fit_baseline("ldx", X, train_be, ("Z", "N"))
    return b.predict(dom[["Z", "N"]].to_numpy(dtype=np.float64))


@dataclass(frozen=True)
class Judge:
    """Far-extrapolation judge for one run: its domain, the run's features there, and the refitted
    liquid drop the departure is measured from (binding-energy targets)."""

    target: str
    model: str | None
    reference: str
    dom: pd.DataFrame
    X: np.ndarray
    ld: np.ndarray | None
    model_spread: pd.DataFrame
    notes: tuple[str, ...] = ()

    def __call__(self, formula) -> FarCheck:
        return self.values(formula.evaluate(self.X))

    def values(self, values: np.ndarray) -> FarCheck:
        be, corr = prediction_be(self.target, self.dom, values, self.model)
        return check(self.dom, be, corr, None if corr is not None else self.ld)

    def report(self, values: np.ndarray, against=("frdm12",)) -> dict:
        """Sanity plus deviations from the reference models, as plain data."""
        be, corr = prediction_be(self.target, self.dom, values, self.model)
        far = check(self.dom, be, corr, None if corr is not None else self.ld)
        dev, frac = deviations(self.dom, be, against, self.model_spread)
        return {**far.summary(), "domain": self.reference, "deviation_mev": dev, "fraction_outside_model_spread": frac}


def make_judge(dataset, selection, feature_set: str, reference: str | None = None) -> Judge:
    """The judge of a run: FRDM2012's domain for be/me (or ``reference``), the mass model's own
    table for a residual target; the liquid drop is refitted on the training nuclei."""
    target, model = dataset.target, dataset.model
    reference = reference or (model if target == "residual" else "frdm12")
    dom = domain(selection, reference)
    notes = []
    missing = uncovered(dataset.frame[["Z", "N"]], dom)
    if missing:
        shown = ", ".join(f"({z},{n})" for z, n in missing[:10])
        notes.append(f"the {tables.MODELS[reference].label} table does not cover {len(missing)} of the run's nuclei "
                     f"(Z,N) {shown}{' ...' if len(missing) > 10 else ''}; the far-extrapolation check skips them")
    ld = None
    if target in ("be", "me"):
        tr = dataset.mask("train")
        f = dataset.frame[tr]
        ld = liquid_drop_surface(f["Z"].to_numpy(), f["N"].to_numpy(), f["BE"].to_numpy(), dom)
    return Judge(target, model, reference, dom, domain_features(dom, feature_set), ld, spread(dom), tuple(notes))
