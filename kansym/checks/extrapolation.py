"""Extrapolation: a run's KAN and formula beyond the measured masses, against FRDM2012 and WS4.

All comparisons are on atomic mass excesses ME and binding energies BE in MeV. A binding-energy
prediction becomes ME = Z ME(1H) + N ME(n) - BE (AME2020 constants); a residual prediction becomes
ME = ME(model) + correction. Separation energies: S_n(Z,N) = BE(Z,N) - BE(Z,N-1),
S_2n = BE(Z,N) - BE(Z,N-2), S_p = BE(Z,N) - BE(Z-1,N), S_2p = BE(Z,N) - BE(Z-2,N).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kansym.nuclear import features as feat
from kansym.nuclear import tables
from kansym.errors import KansymError
from kansym.nuclear.targets import TARGET_KINDS
from kansym.metrics import rms

DEFAULT_CHAINS = ("Zr", "Nd", "Hg", "Fm")
from kansym.checks.farcheck import make_judge, prediction_be
from kansym.checks.masstable import chain_drip_lines, predictive_be_sigma
from kansym.nuclear.nuclides import (
    be_from_me,
    chain_nuclei,
    element_symbol,
    element_z,
    separation_energies,
    separation_rms,
)


def predict_surface(cfg, stage, formula, nuclei: pd.DataFrame, notes: list | None = None) -> pd.DataFrame:
    """ME and BE from the KAN (ensemble consensus, with its spread ``sigma_ens_kan``) and the formula
    for arbitrary (Z, N). Members that diverge on these nuclei are left out and named in ``notes``."""
    z, n = nuclei["Z"].to_numpy(), nuclei["N"].to_numpy()
    X = feat.features(z, n, cfg.features).to_numpy()
    out = nuclei.copy()
    model_me = None
    if TARGET_KINDS[cfg.target].needs_model:
        mm = nuclei[["Z", "N"]].merge(tables.load_model(cfg.model), on=["Z", "N"], how="left")
        model_me = mm["ME_model"].to_numpy()
    kan, sigma, cons = stage.predict(X)
    out["ME_kan"] = TARGET_KINDS[cfg.target].to_me(z, n, kan, model_me)
    if len(stage.members) > 1:
        out["sigma_ens_kan"] = sigma  # the same in ME and BE [MeV]
        out["sigma_kan"] = stage.total_sigma(sigma)
    why = stage.left_out(cons)
    if notes is not None and why:
        notes.append(f"KAN members diverging on the {len(X)} extrapolated nuclei, left out: {why}")
    if formula is not None:
        out["ME_formula"] = TARGET_KINDS[cfg.target].to_me(z, n, formula.evaluate(X), model_me)
        out["sigma_fit_formula"] = formula.eval_uncertainty(X)  # from the constants' covariance [MeV]
    for col in [c for c in out.columns if c.startswith("ME_")]:
        out["BE" + col[2:]] = be_from_me(z, n, out[col])
    return out


def attach_references(frame: pd.DataFrame, against=("frdm12", "ws4")) -> pd.DataFrame:
    out = frame.copy()
    ame = tables.load_experiment()
    exp = ame.loc[~ame["estimated"], ["Z", "N", "ME"]].rename(columns={"ME": "ME_exp"})
    out = out.merge(exp, on=["Z", "N"], how="left")
    for name in against:
        m = tables.load_model(name).rename(columns={"ME_model": f"ME_{name}"})
        out = out.merge(m, on=["Z", "N"], how="left")
    for col in [c for c in out.columns if c.startswith("ME_") and "BE" + c[2:] not in out]:
        out["BE" + col[2:]] = be_from_me(out["Z"], out["N"], out[col])
    return out


def stability(frame: pd.DataFrame, preds=("kan", "formula"), against=("frdm12", "ws4")) -> dict:
    """Per-prediction deviations from the references over the extrapolated nuclei (RMS, max, RMS by
    distance) and the number of non-finite predictions."""
    ext = frame[frame["distance"] > 0]
    out = {}
    for p in preds:
        col = f"ME_{p}"
        if col not in frame:
            continue
        rec = {"non_finite": int((~np.isfinite(frame[col])).sum())}
        for ref in against:
            d = (ext[col] - ext[f"ME_{ref}"]).replace([np.inf, -np.inf], np.nan).dropna()
            rec[f"rms_vs_{ref}_mev"] = rms(d)
            rec[f"max_abs_vs_{ref}_mev"] = float(d.abs().max()) if len(d) else float("nan")
            by = ext.assign(d=ext[col] - ext[f"ME_{ref}"]).groupby("distance")["d"].apply(lambda s: rms(s.dropna()))
            rec[f"rms_vs_{ref}_by_distance"] = {int(k): float(v) for k, v in by.items()}
        out[p] = rec
    return out


def s2n_smoothness(frame: pd.DataFrame, column: str) -> float:
    """RMS of the second difference of S_2n along an isotopic chain (MeV): small for a smooth mass surface."""
    f = frame.sort_values("N")
    be = dict(zip(f["N"], f[column]))
    s2n = [be[n] - be[n - 2] for n in f["N"] if n - 2 in be]
    if len(s2n) < 3:
        return float("nan")
    return rms(np.diff(np.asarray(s2n), 2))


@dataclass(frozen=True)
class Extrapolation:
    """Predictions beyond the measured masses: ``surface`` (one row per chain nucleus: ME/BE of the KAN, the
    formula and the references, spreads), ``report`` (plain data, see :func:`extrapolate`), and the
    far-extrapolation ``judge`` with each prediction's BE over its domain (``far_values``)."""

    surface: pd.DataFrame
    report: dict
    far_values: dict
    judge: object
    preds: tuple[str, ...]
    against: tuple[str, ...]
    bands: pd.DataFrame | None = None  # Z, N, sigma_pred_<prediction>: the predictive BE sigma for the figures [MeV]
    splits: pd.DataFrame | None = None  # Z, N, split ("train"/"test") of the run's nuclei, for the figures

MAX_BEYOND = 100
"""Most chain steps past the last measured nucleus (100 steps of 2 neutrons is far past any drip line)."""


def chain_domain(subset: str, measured: pd.DataFrame, chains, isotones, beyond: int, both_sides: bool,
                 reference: str) -> pd.DataFrame:
    """The nuclei (Z, N, distance, chain) of isotopic ``chains`` and isotonic ``isotones`` around the ``measured``
    ones, ``beyond`` steps past the last measured (2 in Z or N where the subset keeps only even ones), each inside
    the ``reference`` table (else a KansymError naming where the chain leaves it)."""
    step = 2 if subset in ("even-even", "even-n") else 1
    zstep = 2 if subset in ("even-even", "even-z") else 1
    check_options(chains, isotones, 1, ())
    specs = [("Z", element_z(c), element_symbol(element_z(c)), step) for c in chains]
    specs += [("N", n, f"N={n}", zstep) for n in (int(str(text).strip()) for text in isotones)]
    labels = [label for _, _, label, _ in specs]
    twice = sorted({label for label in labels if labels.count(label) > 1})
    if twice:
        why = "by symbol and by Z, or repeated" if any(not t.startswith("N=") for t in twice) else "repeated"
        raise KansymError(f"chain {', '.join(twice)} is named twice ({why}); name each once")
    ref = tables.load_model(reference)
    frames = []
    for fixed, value, label, stp in specs:
        nuc = chain_nuclei(value, measured, beyond, stp, both_sides, fixed)
        covered = nuc.merge(ref, on=["Z", "N"], how="inner")
        if len(covered) < len(nuc):
            free = "N" if fixed == "Z" else "Z"
            outside = sorted(set(nuc[free]) - set(covered[free]))
            raise KansymError(f"chain {label} leaves the {tables.MODELS[reference].label} table at {free} = "
                              f"{', '.join(map(str, outside[:5]))}; use a smaller --beyond")
        frames.append(nuc.assign(chain=label))
    return pd.concat(frames, ignore_index=True)


DEFAULT_BEYOND = 10
"""Chain steps past the last measured nucleus that the extrapolation stage of ``discover`` predicts."""
DEFAULT_AGAINST = ("frdm12", "ws4")
"""The mass tables the extrapolation stage compares with (the first also bounds the chains)."""


def check_options(chains, isotones, beyond, against) -> tuple[str, ...]:
    """The options of an extrapolation, checked before any work: known elements and neutron numbers, a number of
    steps in 1 .. MAX_BEYOND, known reference tables (returned by their registry names), each named once."""
    if isinstance(beyond, bool) or not isinstance(beyond, (int, np.integer)) or not 1 <= beyond <= MAX_BEYOND:
        raise KansymError(f"--beyond must be a whole number of chain steps in 1 .. {MAX_BEYOND} (past any drip "
                          f"line), got {str(beyond)[:40]}")
    models = [tables.check_model(a).name for a in against]
    twice = sorted({m for m in models if models.count(m) > 1})
    if twice:
        raise KansymError(f"--against names {', '.join(twice)} twice (names are case-insensitive); name each once")
    for c in chains:
        element_z(c)
    for n in isotones:
        text = str(n).strip()
        if not (text.isascii() and text.isdecimal() and len(text) <= 3 and 1 <= int(text) <= 400):
            raise KansymError(f"isotone {text[:20]!r} is not a neutron number in 1 .. 400 (ASCII digits)")
    return tuple(models)


def chain_check(cfg, dataset) -> None:
    """The extrapolation stage of ``discover`` can run on the dataset's nuclei: every chain of ``cfg.chains`` has
    measured nuclei and stays inside the reference table (a KansymError now, before any training); a default chain
    that does not fit the selection (an even-Z element in an odd-odd run) is named as one."""
    try:
        chain_domain(cfg.subset, dataset.frame[["Z", "N"]], cfg.chains, (), DEFAULT_BEYOND, False, DEFAULT_AGAINST[0])
    except KansymError as exc:
        if tuple(cfg.chains) != DEFAULT_CHAINS:
            raise
        raise KansymError(f"{exc} (a chain of the default --chains {','.join(DEFAULT_CHAINS)}): name chains the "
                          "selection holds with --chains, or skip the extrapolation with --chains ''") from None


def extrapolate(cfg, stage, formula, chains=DEFAULT_CHAINS, beyond: int = DEFAULT_BEYOND, against=DEFAULT_AGAINST,
                both_sides: bool = False, isotones=(), run_id: str = "") -> Extrapolation:
    """Chain predictions, stability metrics and the far check of a KAN stage and its formula (None: KAN only).

    ``chains`` are isotopic chains (element symbols or Z); ``isotones`` are isotonic chains (N values).
    Nothing is written."""
    against = check_options(chains, isotones, beyond, against)
    notes = []
    if formula is None:
        notes.append("the run has no formula: KAN-only comparison")
    ds = stage.dataset.frame
    step = 2 if cfg.subset in ("even-even", "even-n") else 1
    nuclei = chain_domain(cfg.subset, ds[["Z", "N"]], chains, isotones, beyond, both_sides, against[0])
    surface = attach_references(predict_surface(cfg, stage, formula, nuclei, notes), against)
    preds = ("kan", "formula") if formula is not None else ("kan",)
    bad = {p: int((~np.isfinite(surface[f"ME_{p}"])).sum()) for p in preds}
    for p, k in bad.items():
        if k:
            notes.append(f"{p} prediction is NaN/inf on {k} nuclei (flagged in extrapolation.csv)")
    surface["finite"] = np.all([np.isfinite(surface[f"ME_{p}"]) for p in preds], axis=0)
    per_chain = {}
    for ch, f in surface.groupby("chain", sort=False):
        per_chain[ch] = stability(f, preds, against)
        if not ch.startswith("N="):  # S_2n smoothness along isotopic chains
            per_chain[ch]["s2n_second_difference_rms_mev"] = {
                p: s2n_smoothness(f, f"BE_{p}") for p in (*preds, *against)}
    overall = stability(surface, preds, against)
    # separation energies of the run's predictions on its own nuclei vs AME2020
    own = predict_surface(cfg, stage, formula, ds[["Z", "N"]].assign(distance=0))
    ame = tables.load_experiment()
    exp_sep = separation_energies(ame.loc[~ame["estimated"], ["Z", "N", "BE"]])
    sep = {p: separation_rms(separation_energies(own, f"BE_{p}"), exp_sep) for p in preds}
    report = {"run_id": run_id, "chains": list(per_chain), "beyond": beyond, "step": step, "against": list(against),
              "per_chain": per_chain, "overall": overall, "separation_energy_rms_vs_ame2020": sep,
              "notes": notes}
    mean_rms = {p: float(np.mean([per_chain[c][p][f"rms_vs_{against[0]}_mev"] for c in per_chain])) for p in preds}
    report[f"mean_chain_rms_vs_{against[0]}_mev"] = mean_rms
    isotopic = [element_z(c) for c in chains]
    if isotopic:  # two-neutron drip lines (masstable.drip_line) of the predictions and two mass models
        report["drip_lines"] = {element_symbol(z): d for z, d in
                                chain_drip_lines(cfg, stage, formula, sorted(set(isotopic)), preds).items()}
    far, far_values, judge = far_extrapolation(cfg, stage, formula, against)
    report["far"] = far
    notes.extend(judge.notes)
    bands = predictive_be_sigma(cfg, stage, formula, nuclei.drop_duplicates(["Z", "N"]), preds)
    return Extrapolation(surface, report, far_values, judge, preds, against, bands, ds[["Z", "N", "split"]].copy())


def far_extrapolation(cfg, stage, formula, against=("frdm12",)) -> tuple[dict, dict, object]:
    """The far-extrapolation check (``kansym.checks.farcheck``) of the KAN and the formula over the whole
    range of the reference table (``against[0]`` for be/me, the mass model's own table for a
    residual target): ({prediction: report}, {prediction: BE on the domain}, judge)."""

    reference = None if cfg.target == "residual" else against[0]
    judge = make_judge(stage.dataset, cfg.selection(), cfg.features, reference)
    kan, sigma, cons = stage.predict(judge.X)
    values = {"kan": kan}
    if formula is not None:
        values["formula"] = formula.evaluate(judge.X)
    reports = {p: judge.report(v, against) for p, v in values.items()}
    if cons is not None:  # members diverging over the reference's whole range are left out and named
        reports["kan"]["ensemble"] = {**cons.summary(stage.seeds), "rms_sigma_ens_mev": rms(sigma),
                                      "max_sigma_ens_mev": float(np.nanmax(sigma))}
    bes = {p: prediction_be(cfg.target, judge.dom, v, cfg.model)[0] for p, v in values.items()}
    return reports, bes, judge
