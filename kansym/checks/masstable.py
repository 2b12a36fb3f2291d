"""Mass tables predicted by a run: binding energies, mass excesses, separation energies and Q values with
predictive uncertainties, for any nuclei (Z, N).

Definitions (MeV; BE > 0 for bound nuclei; atomic masses, AME2020 constants):
  S_n = BE(Z,N) - BE(Z,N-1),  S_2n = BE(Z,N) - BE(Z,N-2),  S_p = BE(Z,N) - BE(Z-1,N),  S_2p = BE(Z,N) - BE(Z-2,N),
  Q_alpha = BE(Z-2,N-2) + BE(4He) - BE(Z,N),  Q_beta_minus = BE(Z+1,N-1) - BE(Z,N) + ME(n) - ME(1H).
A derived quantity is given only where its neighbour is among the predicted nuclei (never from a default).

Predictive uncertainty, per quantity q: sigma_q = sqrt(sigma_param,q^2 + s_q^2), where
  sigma_param is the spread of the kept ensemble members' q (the KAN; each member's q is formed from its own
  masses, so neighbours' shared errors cancel as they should) or sqrt(J_q C J_q^T) with J_q the derivatives of q
  with respect to the formula's constants and C their covariance (the formula), and
  s_q, the model-error term, is the value that brings the fractions of residuals |r_q| (r_q = AME2020 -
  prediction, on nuclei the predictor was not fitted to) within 1 and 2 sigma_q closest to the Gaussian 0.683 and
  0.954: least squares with each fraction weighted by its binomial variance p(1 - p), so that the rarer 2-sigma
  excursions count as much as their sampling noise allows. The residuals it is calibrated on:
  - formula: the out-of-fold residuals of the run's cross-validation (the formula refitted without each of the
    ``cv_folds`` folds of the training nuclei, as the choice rule does, and evaluated on that fold); a derived
    quantity's value when both of its nuclei are training nuclei. Its coverage is then counted on the held-out
    (test) nuclei, which take no part in the calibration.
  - KAN (retraining it per fold would cost the ensemble's training five times): the held-out (test) nuclei, a
    derived quantity's value when both of its nuclei are held out; its coverage is cross-calibrated: the held-out
    values are split in two halves, s_q calibrated on one half and the fractions counted on the other, and the
    other way round.
The model-error term is calibrated where masses are measured; far beyond them only the parameter part grows, so
there the band is a lower bound (compare the chains with FRDM2012 and WS4, ``kansym extrapolate``).
Runs written before this rule (``rule`` absent, "kansym-1") were calibrated on the held-out nuclei for both
predictors with the two fractions weighted equally; ``kansym show`` checks them by that rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from kansym.errors import KansymError
from kansym.nuclear import features as feat
from kansym.nuclear import tables
from kansym.nuclear.nuclides import ME_H, ME_N, be_from_me
from kansym.nuclear.nuclides import z_label
from kansym.checks.farcheck import BE_PER_A_BAND
from kansym.nuclear.targets import SUBSETS, TARGET_KINDS
from kansym.network.ensemble import spread
from kansym.symbolic.search import fold_indices, refit_on

BE_HE4 = float(be_from_me(2, 2, 2424.91587 / 1000.0))
"""Binding energy of 4He [MeV] (AME2020 mass excess 2424.91587 keV)."""

DERIVED = {  # q(Z, N) = sign * (BE(Z, N) - BE(Z + dZ, N + dN)) + constant [MeV]
    "S_n": (1.0, 0, -1, 0.0),
    "S_2n": (1.0, 0, -2, 0.0),
    "S_p": (1.0, -1, 0, 0.0),
    "S_2p": (1.0, -2, 0, 0.0),
    "Q_alpha": (-1.0, -2, -2, BE_HE4),
    "Q_beta_minus": (-1.0, 1, -1, ME_N - ME_H),
}
QUANTITIES = ("BE", "ME", *DERIVED)
COLUMNS = ("Z", "N", "A", *(c for q in QUANTITIES for c in (q, f"{q}_sigma")), "source")
MEASURED_COLUMNS = tuple(f"{q}_ame2020" for q in QUANTITIES)
MAX_N = 400
"""Largest neutron number scanned or predicted."""
RULE = "kansym-2"
"""The calibration rule of this version (module docstring); "kansym-1" is the rule of earlier runs."""
RULES = ("kansym-1", RULE)
MIN_HELD_OUT = 10
"""Fewest held-out values that calibrate a model-error term; with fewer, all the run's nuclei are used (stated)."""
ZIGZAG_MEV = 0.5
"""S_2n zig-zag flag: consecutive steps along a chain of opposite sign, both larger than this [MeV]."""


@dataclass(frozen=True)
class Surface:
    """BE [MeV] of one predictor ('kan' or 'formula') on nuclei (Z, N), with what its parameter uncertainty comes
    from: the kept ensemble members' BE (members x nuclei) or the formula's derivatives (nuclei x constants) and
    covariance. A single network has neither (its uncertainty is the model-error term alone)."""

    source: str
    Z: np.ndarray
    N: np.ndarray
    be: np.ndarray
    members: np.ndarray | None = None
    jac: np.ndarray | None = None
    cov: np.ndarray | None = None

    def neighbour(self, dz: int, dn: int) -> np.ndarray:
        """Row of (Z + dz, N + dn) for every nucleus, -1 where it is not among the nuclei."""
        index = {(int(z), int(n)): i for i, (z, n) in enumerate(zip(self.Z, self.N))}
        return np.array([index.get((int(z) + dz, int(n) + dn), -1) for z, n in zip(self.Z, self.N)], dtype=int)

    def quantity(self, q: str) -> tuple[np.ndarray, np.ndarray]:
        """(value, parameter sigma) of BE, ME or a derived quantity on every nucleus [MeV]; NaN where a
        neighbour is missing or the parameter uncertainty is undetermined."""
        if q in ("BE", "ME"):
            value = self.be if q == "BE" else be_from_me(self.Z, self.N, self.be)
            return np.asarray(value, dtype=np.float64), self._param_sigma(np.arange(len(self.be)), None, 1.0)
        sign, dz, dn, const = DERIVED[q]
        j = self.neighbour(dz, dn)
        i = np.arange(len(self.be))
        value = np.where(j >= 0, sign * (self.be - self.be[np.maximum(j, 0)]) + const, np.nan)
        return value, np.where(j >= 0, self._param_sigma(i, j, sign), np.nan)

    def _param_sigma(self, i: np.ndarray, j: np.ndarray | None, sign: float) -> np.ndarray:
        jj = i if j is None else np.maximum(j, 0)
        if self.members is not None:
            M = self.members[:, i] - (0.0 if j is None else self.members[:, jj])
            return spread(sign * M)
        if self.jac is not None:
            J = self.jac[i] - (0.0 if j is None else self.jac[jj])
            with np.errstate(all="ignore"):
                var = np.einsum("ij,jk,ik->i", J, self.cov, J)
            return np.sqrt(np.where(var >= 0, var, np.nan))
        return np.zeros(len(i))


def surfaces(cfg, stage, formula, nuclei: pd.DataFrame, use=("kan", "formula"),
             what: str = "nuclei predicted") -> tuple[dict[str, Surface], list[str]]:
    """The run's predictors on ``nuclei`` (columns Z, N): {source: Surface} and notes (members left out; ``what``
    names the nuclei in them)."""
    z, n = nuclei["Z"].to_numpy(dtype=int), nuclei["N"].to_numpy(dtype=int)
    X = feat.features(z, n, cfg.features).to_numpy()
    to_be = _to_be(cfg, nuclei)

    out, notes = {}, []
    if "kan" in use:
        pred, _, cons = stage.predict(X)
        members = None
        if len(stage.members) > 1:
            kept = list(cons.kept if cons is not None else range(len(stage.members)))
            why = stage.left_out(cons)
            if why:
                notes.append(f"KAN members diverging over the {len(X)} {what}, left out: {why}")
            if cons is not None and not cons.agrees:
                notes.append(f"the KAN members do not agree over the {len(X)} {what} ({cons.reason(stage.seeds)}): "
                             "where they depart (a large KAN sigma) the ensemble's prediction is not reliable")
            if len(kept) > 1:
                members = np.array([to_be(stage.members[k].predict(X)) for k in kept])
            else:
                notes.append("one KAN member is kept on these nuclei: no ensemble spread, the sigma is the model-error "
                             "term alone")
        out["kan"] = Surface("kan", z, n, to_be(pred), members=members)
    if "formula" in use:
        if formula is None:
            raise KansymError("the run has no formula (no candidate qualified); use the KAN (--use kan, use='kan')")
        slope = to_be(np.ones(len(z))) - to_be(np.zeros(len(z)))  # +1 or -1: d BE / d prediction
        jac = formula.jacobian(X) * slope[:, None]
        out["formula"] = Surface("formula", z, n, to_be(formula.evaluate(X)), jac=jac, cov=formula.covariance())
    return out, notes


def _to_be(cfg, nuclei: pd.DataFrame):
    """The function from a run's predictions of its target on ``nuclei`` to their BE [MeV]."""
    z, n = nuclei["Z"].to_numpy(dtype=int), nuclei["N"].to_numpy(dtype=int)
    kind = TARGET_KINDS[cfg.target]
    model_me = None
    if kind.needs_model:
        model_me = nuclei[["Z", "N"]].merge(tables.load_model(cfg.model), on=["Z", "N"], how="left")["ME_model"].to_numpy()

    def to_be(pred):
        return np.asarray(kind.to_be(z, n, np.asarray(pred, dtype=np.float64), model_me)[0], dtype=np.float64)
    return to_be


def cv_surface(cfg, dataset, formula) -> Surface:
    """The formula's out-of-fold BE on the run's nuclei: each fold of the training nuclei (the choice rule's
    ``cv_folds`` folds, seeded by the run's seed) predicted by the formula refitted without it (weighted as the run
    is); NaN on the held-out nuclei and on a fold whose refit fails."""
    X, y, w, train = dataset.X, dataset.y, dataset.w, dataset.mask("train")
    folds = fold_indices(np.flatnonzero(train), cfg.cv_folds, cfg.seed)
    every = np.concatenate(folds)
    pred = np.full(len(y), np.nan)
    for f in folds:
        try:
            pred[f] = refit_on(formula, X, y, np.setdiff1d(every, f), w).evaluate(X[f])
        except KansymError:
            continue
    nuclei = dataset.frame[["Z", "N"]]
    return Surface("formula-cv", nuclei["Z"].to_numpy(dtype=int), nuclei["N"].to_numpy(dtype=int),
                   _to_be(cfg, nuclei)(pred))


def measured(nuclei: pd.DataFrame) -> pd.DataFrame:
    """AME2020's measured (not estimated) BE, ME and derived quantities on ``nuclei``: NaN where a mass it needs
    is estimated or absent."""
    return nuclei[["Z", "N"]].merge(_measured_table(), on=["Z", "N"], how="left")


@lru_cache(maxsize=1)
def _measured_table() -> pd.DataFrame:
    ame = tables.load_experiment()
    exp = ame.loc[~ame["estimated"]]
    s = Surface("ame2020", exp["Z"].to_numpy(dtype=int), exp["N"].to_numpy(dtype=int), exp["BE"].to_numpy())
    return pd.DataFrame({"Z": s.Z, "N": s.N, **{f"{q}_ame2020": s.quantity(q)[0] for q in QUANTITIES}})


@dataclass(frozen=True)
class Calibration:
    """Model-error terms s_q [MeV] of one predictor (None where they cannot be calibrated), the number of
    values each was calibrated on, the cross-calibrated coverage, and what they were calibrated on."""

    model_error: dict
    n: dict
    coverage: dict
    basis: str
    rule: str = RULE

    def to_dict(self) -> dict:
        out = {"model_error_mev": self.model_error, "n_calibrated": self.n, "coverage": self.coverage,
               "calibrated_on": self.basis}
        return out if self.rule == "kansym-1" else {**out, "rule": self.rule}


GAUSSIAN = (0.683, 0.954)
"""Fractions of a normal distribution within 1 and 2 standard deviations."""

def _model_term(r: np.ndarray, s_par: np.ndarray, rule: str = RULE) -> float:
    """The model-error term s [MeV] whose sigma = sqrt(s_par^2 + s^2) puts the fractions of |r| within 1 and 2 sigma
    closest to the Gaussian ones (least squares over a grid of 601 values from 0 to 3 RMS(r), each fraction weighted
    by 1/(p(1 - p)), equally by ``rule`` kansym-1; the smallest of equals)."""
    grid = np.linspace(0.0, 3.0 * float(np.sqrt(np.mean(r**2))), 601)
    sig = np.sqrt(s_par[None, :] ** 2 + grid[:, None] ** 2)
    a = np.abs(r)[None, :]
    w = (1.0, 1.0) if rule == "kansym-1" else tuple(1.0 / (p * (1 - p)) for p in GAUSSIAN)
    loss = w[0] * (np.mean(a <= sig, axis=1) - GAUSSIAN[0]) ** 2 + \
        w[1] * (np.mean(a <= 2 * sig, axis=1) - GAUSSIAN[1]) ** 2
    return float(grid[int(np.argmin(loss))])


def _within(r: np.ndarray, sigma: np.ndarray) -> dict:
    return {"n": int(len(r)), "within_1_sigma": float(np.mean(np.abs(r) <= sigma)),
            "within_2_sigma": float(np.mean(np.abs(r) <= 2 * sigma)), "gaussian": list(GAUSSIAN)}


def _coverage(r: np.ndarray, s_par: np.ndarray, rule: str = RULE) -> dict:
    """Fractions within 1 and 2 sigma, the model-error term calibrated on the other half of the values."""
    halves = (np.arange(len(r)) % 2 == 0, np.arange(len(r)) % 2 == 1)
    within1, within2 = [], []
    for cal, use in (halves, halves[::-1]):
        s = np.sqrt(s_par[use] ** 2 + _model_term(r[cal], s_par[cal], rule) ** 2)
        within1.append(np.abs(r[use]) <= s)
        within2.append(np.abs(r[use]) <= 2 * s)
    return {"n": int(len(r)), "within_1_sigma": float(np.mean(np.concatenate(within1))),
            "within_2_sigma": float(np.mean(np.concatenate(within2))), "gaussian": list(GAUSSIAN)}


def calibrate(surface: Surface, held_out: np.ndarray, rule: str = RULE, cv: Surface | None = None) -> Calibration:
    """Model-error terms of ``surface`` (a predictor on the run's own nuclei) and their coverage on the
    ``held_out`` nuclei; a derived quantity's value is held out when both of its nuclei are (as for masses not yet
    measured). With fewer than MIN_HELD_OUT such values, those with one held-out nucleus are used, and with fewer
    still all values (an underestimate): the basis says for which quantities. Without ``cv`` the terms are
    calibrated on the held-out values and the coverage is cross-calibrated; with ``cv`` (the formula's out-of-fold
    BE, NaN on held-out nuclei) they are calibrated on its residuals and the coverage is counted on the held-out
    values (module docstring)."""
    exp = measured(pd.DataFrame({"Z": surface.Z, "N": surface.N}))
    model_error, counts, coverage, fell = {}, {}, {}, {"one": [], "all": []}
    for q in QUANTITIES:
        value, s_par = surface.quantity(q)
        r = exp[f"{q}_ame2020"].to_numpy() - value
        ok = np.isfinite(r) & np.isfinite(s_par)
        tiers = [("held", held_out)]
        if q in DERIVED:
            _, dz, dn, _ = DERIVED[q]
            j = surface.neighbour(dz, dn)
            other = np.where(j >= 0, held_out[np.maximum(j, 0)], False)
            tiers = [("both", held_out & other), ("one", held_out | other)]
        tier, use = next(((name, ok & t) for name, t in tiers if (ok & t).sum() >= MIN_HELD_OUT), ("all", ok))
        if tier in fell and ok.sum() >= MIN_HELD_OUT:
            fell[tier].append(q)
        if cv is not None:  # calibrated on the out-of-fold residuals (training nuclei only: NaN elsewhere)
            rc = exp[f"{q}_ame2020"].to_numpy() - cv.quantity(q)[0]
            cal = np.isfinite(rc) & np.isfinite(s_par)
            counts[q] = int(cal.sum())
            if cal.sum() < MIN_HELD_OUT or use.sum() < MIN_HELD_OUT:
                model_error[q] = None
                continue
            model_error[q] = _model_term(rc[cal], s_par[cal], rule)
            coverage[q] = _within(r[use], np.sqrt(s_par[use] ** 2 + model_error[q] ** 2))
            continue
        counts[q] = int(use.sum())
        if use.sum() < MIN_HELD_OUT:  # the quantity is not defined on these nuclei (no neighbours in the subset)
            model_error[q] = None
            continue
        model_error[q] = _model_term(r[use], s_par[use], rule)
        coverage[q] = _coverage(r[use], s_par[use], rule)
    none_out = "all the run's nuclei (the run holds none out, so the error on new nuclei is underestimated)"
    if cv is None:
        basis = "the run's held-out (test) nuclei" if held_out.any() else none_out
    else:
        basis = ("the out-of-fold residuals of the cross-validation on the training nuclei; coverage on "
                 + ("the held-out (test) nuclei" if held_out.any() else none_out))
    if fell["one"]:
        basis += f"; pairs with one held-out nucleus for {', '.join(fell['one'])} (too few with both)"
    if fell["all"] and held_out.any():
        basis += f"; all the run's nuclei for {', '.join(fell['all'])} (too few held out: an underestimate)"
    return Calibration(model_error, counts, coverage, basis, rule)


def table(surface: Surface, calibration: Calibration) -> pd.DataFrame:
    """One row per nucleus: the COLUMNS (value and predictive sigma of every quantity, source) and the
    measured AME2020 values (MEASURED_COLUMNS, empty where not measured)."""
    out = {"Z": surface.Z, "N": surface.N, "A": surface.Z + surface.N}
    for q in QUANTITIES:
        value, s_par = surface.quantity(q)
        s = calibration.model_error.get(q)
        out[q] = value
        out[f"{q}_sigma"] = np.where(np.isfinite(value), np.sqrt(s_par**2 + s**2), np.nan) if s is not None \
            else np.full(len(value), np.nan)
    frame = pd.DataFrame(out)
    frame["source"] = surface.source
    return frame.merge(measured(frame), on=["Z", "N"], how="left")[[*COLUMNS, *MEASURED_COLUMNS]]


def drip_line(frame: pd.DataFrame) -> pd.DataFrame:
    """Per element (Z) of a predicted table: the two-neutron drip line, the last nucleus before S_2n first turns
    negative scanning N upward (S_n of odd-N isotopes may turn negative earlier; it is not used, so every subset
    gives the same line). Columns Z, N_drip, N_first_unbound (None: not reached), by ('S_2n', or 'end' where the
    predictions stop, non-finite, before any unbound nucleus: the drip line is then not determined, N_drip None)."""
    rows = []
    for z, f in frame.sort_values(["Z", "N"]).groupby("Z"):
        n, s2n = f["N"].to_numpy(), f["S_2n"].to_numpy(dtype=float)
        finite = np.isfinite(s2n)
        start = int(np.argmax(finite)) if finite.any() else len(s2n)  # the first nuclei may lack their neighbour
        last, first, by = None, None, None
        for k in range(start, len(s2n)):
            if not finite[k]:
                by = "end"
                break
            if s2n[k] < 0:
                first, by = int(n[k]), "S_2n"
                break
            last = int(n[k])
        rows.append({"Z": int(z), "N_drip": last if by != "end" else None, "N_first_unbound": first, "by": by})
    return pd.DataFrame(rows, columns=["Z", "N_drip", "N_first_unbound", "by"])


def implausible(frame: pd.DataFrame, shown: int = 5) -> list[str]:
    """Warnings, one line per source, for predicted nuclei whose BE/A lies outside the far check's sanity band
    (``kansym.checks.farcheck.BE_PER_A_BAND``): no bound nucleus has such a binding energy per nucleon, so the
    source is used beyond where it can be trusted there (the first ``shown`` nuclei named)."""
    lo, hi = BE_PER_A_BAND
    out = []
    for source, f in frame.groupby("source", sort=False):
        per_a = f["BE"].to_numpy() / (f["Z"].to_numpy() + f["N"].to_numpy())
        bad = f[np.isfinite(per_a) & ((per_a < lo) | (per_a > hi))]
        if len(bad):
            names = "; ".join(f"Z = {int(z)} N = {int(n)}" for z, n in zip(bad["Z"][:shown], bad["N"][:shown]))
            out.append(f"{source}: BE/A outside {lo:g}-{hi:g} MeV for {len(bad)} nuclei ({names}"
                       f"{'; ...' if len(bad) > shown else ''}): beyond where it can be trusted")
    return out


def staggering(frame: pd.DataFrame, limit: float = ZIGZAG_MEV, shown: int = 6) -> list[str]:
    """Warnings (not failures), one line per source and kind, for the isotopic chains of a predicted table whose S_2n
    turns positive again after turning negative, or zig-zags: consecutive steps of opposite sign both larger than
    ``limit`` MeV (the nuclei named for the first ``shown`` chains)."""
    found = {}
    for (source, z), f in frame.dropna(subset=["S_2n"]).sort_values("N").groupby(["source", "Z"]):
        n, s = f["N"].to_numpy(), f["S_2n"].to_numpy()
        back = [int(n[k]) for k in range(1, len(s)) if s[k] > 0 and (s[:k] < 0).any()]
        step = np.diff(s)
        zig = [int(n[k + 1]) for k in range(len(step) - 1)
               if step[k] * step[k + 1] < 0 and min(abs(step[k]), abs(step[k + 1])) > limit]
        for kind, hits in (("turns positive again after turning negative", back),
                           (f"zig-zags by more than {limit} MeV between neighbours", zig)):
            if hits:
                found.setdefault((source, kind), []).append(
                    f"Z = {int(z)} (N = {', '.join(map(str, hits[:5]))}{', ...' if len(hits) > 5 else ''})")
    return [f"{source}: S_2n {kind} on {len(chains)} chain{'s' if len(chains) > 1 else ''}: "
            f"{'; '.join(chains[:shown])}{'; ...' if len(chains) > shown else ''}"
            for (source, kind), chains in found.items()]


def differential_rms(surface: Surface, split: np.ndarray) -> dict:
    """RMS [MeV] of predicted minus AME2020 S_n, S_2n, S_p, S_2p, Q_alpha, Q_beta_minus over the pairs of nuclei
    whose both masses are in each part ('train', 'test'; 'all': both among the nuclei of ``surface``), with the
    number of pairs; quantities without any pair (no neighbours in the subset) are left out."""
    exp = measured(pd.DataFrame({"Z": surface.Z, "N": surface.N}))
    split = np.asarray(split).astype(str)
    out = {}
    for q in DERIVED:
        value, _ = surface.quantity(q)
        _, dz, dn, _ = DERIVED[q]
        j = surface.neighbour(dz, dn)
        r = exp[f"{q}_ame2020"].to_numpy() - value
        ok = np.isfinite(r) & (j >= 0)
        if not ok.any():
            continue
        rec = {}
        for part in ("train", "test", "all"):
            both = ok if part == "all" else ok & (split == part) & (split[np.maximum(j, 0)] == part)
            rec[part] = float(np.sqrt(np.mean(r[both] ** 2))) if both.any() else None
            rec[f"n_{part}"] = int(both.sum())
        out[q] = rec
    return out


def _calibration(cfg, dataset, own: Surface, formula, rule: str) -> Calibration:
    cv = cv_surface(cfg, dataset, formula) if own.source == "formula" and rule != "kansym-1" else None
    return calibrate(own, dataset.mask("test"), rule, cv)


def run_calibrations(cfg, stage, formula, sources) -> dict:
    """{source: Calibration} of the run's predictors from its own nuclei and its split (``calibrate``)."""
    own, _ = surfaces(cfg, stage, formula, stage.dataset.frame[["Z", "N"]], sources)
    return {s: _calibration(cfg, stage.dataset, own[s], formula, RULE) for s in sources}


def predictive_be_sigma(cfg, stage, formula, nuclei: pd.DataFrame, sources) -> pd.DataFrame:
    """Z, N and the predictive 1-sigma uncertainty of BE (= of ME) of each source on ``nuclei``, as column
    ``sigma_pred_<source>`` [MeV]: the figures' band (the model-error term calibrated on the run's held-out nuclei)."""
    out = nuclei[["Z", "N"]].reset_index(drop=True).copy()
    found, _ = surfaces(cfg, stage, formula, out, sources)
    calibration = run_calibrations(cfg, stage, formula, sources)
    for s in sources:
        term = calibration[s].model_error["BE"]
        s_par = found[s].quantity("BE")[1]
        out[f"sigma_pred_{s}"] = np.sqrt(s_par**2 + term**2) if term is not None else np.nan
    return out


def source_summary(cfg, dataset, stage, formula, source: str, rule: str = RULE) -> tuple[dict, dict]:
    """(predictive uncertainty, differential RMS) of one source ('kan': ``stage``; 'formula': ``formula``) on the
    nuclei of ``dataset`` (a run's data, with its split), calibrated by ``rule``."""
    own, _ = surfaces(cfg, stage, formula, dataset.frame[["Z", "N"]], (source,))
    return (_calibration(cfg, dataset, own[source], formula, rule).to_dict(),
            differential_rms(own[source], dataset.frame["split"].to_numpy()))


def run_summary(cfg, stage, formula) -> dict:
    """What metrics.json keeps of a run's predictions on its own nuclei: the predictive uncertainty of the KAN and
    the formula (model-error terms and cross-calibrated coverage, see the module docstring) under
    ``predictive_uncertainty`` and their differential RMS under ``differential_rms_mev``."""
    parts = {s: source_summary(cfg, stage.dataset, stage, formula, s)
             for s in (("kan",) if formula is None else ("kan", "formula"))}
    return {"predictive_uncertainty": {s: v[0] for s, v in parts.items()},
            "differential_rms_mev": {s: v[1] for s, v in parts.items()}}


def cap_n(z: int) -> int:
    """Largest N scanned for a drip line of element z (far past any predicted neutron drip line)."""
    return min(MAX_N, 3 * z + 50)


def scan_nuclei(subset: str, min_n: int, zs) -> pd.DataFrame:
    """Every nucleus of ``subset`` from the lightest measured isotope (N >= min_n) of each element in ``zs`` (two
    neutrons lighter, so the first one has its neighbours; column ``shown`` false there) up to ``cap_n``."""
    ame = tables.load_experiment()
    rows = []
    for z in zs:
        have = ame.loc[(ame["Z"] == z) & ~ame["estimated"], "N"]
        have = have[SUBSETS[subset](np.full(len(have), z), have.to_numpy()) & (have >= min_n)]
        if have.empty:
            raise KansymError(f"no measured nucleus of {z_label(z)} in the selection to start "
                              "its chain from")
        start = int(have.min())
        rows += [(z, m, m >= start) for m in range(max(1, start - 2), cap_n(z) + 1)]
    frame = pd.DataFrame(rows, columns=["Z", "N", "shown"])
    keep = SUBSETS[subset](frame["Z"].to_numpy(), frame["N"].to_numpy())
    return frame[keep].reset_index(drop=True)


DRIP_REFERENCES = ("frdm12", "ws4")
"""Mass models whose drip lines are shown beside a run's."""


def surface_drip_lines(surface: Surface, shown: np.ndarray) -> pd.DataFrame:
    """``drip_line`` of a predictor on the chains it was evaluated on (``scan_nuclei``; ``shown`` its column)."""
    frame = pd.DataFrame({"Z": surface.Z, "N": surface.N, "S_n": surface.quantity("S_n")[0],
                          "S_2n": surface.quantity("S_2n")[0]})
    return drip_line(frame[np.asarray(shown, dtype=bool)])


def reference_drip_lines(scan: pd.DataFrame, reference: str) -> pd.DataFrame:
    """``drip_line`` of a mass model's own table on the chains of ``scan`` (its nuclei in the run's subset, from the
    same first nucleus)."""
    nuclei = scan.merge(tables.load_model(reference), on=["Z", "N"], how="inner")
    surface = Surface(reference, nuclei["Z"].to_numpy(), nuclei["N"].to_numpy(),
                      np.asarray(be_from_me(nuclei["Z"], nuclei["N"], nuclei["ME_model"]), dtype=np.float64))
    return surface_drip_lines(surface, nuclei["shown"].to_numpy())


def chain_drip_lines(cfg, stage, formula, zs, sources) -> dict:
    """{Z: {source or reference model: last bound N}} for elements ``zs``; None where a prediction stays bound up to
    ``cap_n`` (a reference model's last tabulated bound nucleus counts: the tables end at their drip lines)."""
    scan = scan_nuclei(cfg.subset, cfg.min_n, zs)
    found, _ = surfaces(cfg, stage, formula, scan, sources)
    lines = {s: surface_drip_lines(found[s], scan["shown"].to_numpy()) for s in sources}
    lines.update({ref: reference_drip_lines(scan, ref) for ref in DRIP_REFERENCES})
    out = {}
    for name, d in lines.items():
        for z, n_drip, first in zip(d["Z"], d["N_drip"], d["N_first_unbound"]):
            # a mass model tabulates to its drip line: the end of its table counts as reached
            reached = (name in DRIP_REFERENCES or first is not None and not pd.isna(first)) and \
                n_drip is not None and not pd.isna(n_drip)
            out.setdefault(int(z), {})[name] = int(n_drip) if reached else None
    return out
