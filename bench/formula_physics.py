"""Formulas judged on the data AND over FRDM2012's whole even-even range (Z, N >= 30).

Selection: the default of ``kansym discover --target be --subset even-even`` (538 AME2020 nuclei,
random 80/20 split, seed 0); domain: the 2027 even-even nuclei with Z, N >= 30 that FRDM2012
tabulates, 1308 of them beyond AME2020. For both input sets, (N, Z) and the default (Z, N, v_Z,
v_N), side by side: the refitted liquid drops, the Duflo-Zuker 10-parameter formula with its published constants
and refitted on the training nuclei (``kansym.symbolic.duflo_zuker``), the Eq. 6-type form refitted, every member of a
60 s pyoperon front on the same inputs (refitted in float64), and the formula kansym chooses.
(The committed KAN-WS4 residual formula over WS4's whole table: ``symbolic_ws4.py``.)

Targets: (N, Z) RMSE <= 2.3 MeV with <= 10 constants and RMS vs FRDM2012 beyond AME2020 <= 8 MeV;
default inputs <= 0.9 MeV with <= 12 constants and <= 5 MeV; both pass every sanity check; the
chosen formula at least as good as pyoperon's best member of equal or fewer constants on both
axes; main job under 60 s.
"""

import json
import time
from pathlib import Path

from _common import scratch_runs, write_result

from kansym.checks.crosscheck import PyOperonEngine, _refit_engine
from kansym.symbolic.formula import formula_from_entry
from kansym.checks.farcheck import make_judge
from kansym.symbolic.formula import Formula
from kansym.pipeline.discovery import discover
from kansym.pipeline.config import DiscoverConfig, load_dataset
from kansym.symbolic import duflo_zuker as dz
from kansym.symbolic.reference import fit_eq6, liquid_drop
from kansym.nuclear.survey import rms

ROOT = Path(__file__).resolve().parent.parent


def judged_dz(name, b, n_fitted, ds, masks, judge) -> dict:
    """A Duflo-Zuker 10 row: constants ``b`` (``n_fitted`` of them fitted here: 0 for the published ones)."""
    pred = dz.binding_energy(ds.frame["Z"].to_numpy(), ds.frame["N"].to_numpy(), b)
    rep = judge.report(dz.binding_energy(judge.dom["Z"].to_numpy(), judge.dom["N"].to_numpy(), b))
    dev = rep["deviation_mev"]["frdm12"]
    return {"formula": name, "n_constants": 10, "n_fitted_here": n_fitted,
            **{f"rmse_{p}_mev": rms(pred[m] - ds.y[m]) for p, m in masks.items()},
            "rms_vs_frdm12_beyond_mev": dev["rms_beyond"], "max_vs_frdm12_beyond_mev": dev["max_abs_beyond"],
            "rms_vs_frdm12_inside_mev": dev["rms_inside"], "sane": rep["passed"], "failures": rep["failures"],
            "fraction_outside_model_spread": rep["fraction_outside_model_spread"],
            "constants": dict(zip(dz.NAMES, map(float, b)))}


def judged(name, formula, ds, masks, judge) -> dict:
    pred = formula.evaluate(ds.X)
    rep = judge.report(formula.evaluate(judge.X))
    dev = rep["deviation_mev"]["frdm12"]
    return {"formula": name, "n_constants": formula.n_constants,
            **{f"rmse_{p}_mev": rms(pred[m] - ds.y[m]) for p, m in masks.items()},
            "rms_vs_frdm12_beyond_mev": dev["rms_beyond"], "max_vs_frdm12_beyond_mev": dev["max_abs_beyond"],
            "rms_vs_frdm12_inside_mev": dev["rms_inside"], "sane": rep["passed"], "failures": rep["failures"],
            "fraction_outside_model_spread": rep["fraction_outside_model_spread"], "expression": str(formula.expr)}


out = {}
runs = scratch_runs()
for label, kw in [("zn", dict(features="zn")), ("default", {})]:
    t = time.perf_counter()
    r = discover(DiscoverConfig(target="be", subset="even-even", runs_dir=runs, **kw))
    wall = time.perf_counter() - t
    cfg = DiscoverConfig.from_dict(r.config).resolved()
    ds = load_dataset(cfg)
    masks = ds.masks()
    tr = masks["train"]
    judge = make_judge(ds, cfg.selection(), cfg.features)
    rows = [judged("liquid drop, 5 terms (ld)", liquid_drop("ld", ds.X[tr], ds.y[tr], ds.feature_names), ds, masks,
                   judge),
            judged("liquid drop + Wigner + surface symmetry (ldx)",
                   liquid_drop("ldx", ds.X[tr], ds.y[tr], ds.feature_names), ds, masks, judge)]
    fz, fn = ds.frame["Z"].to_numpy(), ds.frame["N"].to_numpy()
    b_fit, _, _ = dz.refit(fz[tr], fn[tr], ds.y[tr])
    rows += [judged_dz("Duflo-Zuker 10, published constants", dz.PUBLISHED, 0, ds, masks, judge),
             judged_dz("Duflo-Zuker 10, constants refitted on the training nuclei", b_fit, 10, ds, masks, judge)]
    zn_cols = [ds.feature_names.index("Z"), ds.feature_names.index("N")]
    eq6 = fit_eq6(ds.X[tr][:, zn_cols], ds.y[tr])
    # the same formula read with the run's feature columns (it uses only Z and N)
    rows.append(judged("Eq. 6-type form, refitted", Formula(eq6.expr, ds.feature_names, eq6.parameters, eq6.correlations),
                       ds, masks, judge))
    t = time.perf_counter()
    res = PyOperonEngine(time_budget=60, maxsize=30, seed=0, generations=100_000).fit(ds.X[tr], ds.y[tr], ds.feature_names)
    op_wall = time.perf_counter() - t
    op_rows = []
    for f in res.front:
        F = _refit_engine(f, ds.feature_names, ds, masks)
        if not isinstance(F, str):  # a string is the reason the refit failed
            op_rows.append(judged(f"pyoperon front member ({F.n_constants} constants)", F, ds, masks, judge))
    chosen = formula_from_entry(json.loads((r.run_dir / "formula.json").read_text())) \
        if (r.run_dir / "formula.json").exists() else None
    kan_row = judged("kansym (chosen)", chosen, ds, masks, judge) if chosen is not None else None
    # pyoperon's best member with at most as many constants, by train RMSE
    eligible = [o for o in op_rows if kan_row and o["n_constants"] <= kan_row["n_constants"]]
    op_best = min(eligible, key=lambda o: o["rmse_train_mev"]) if eligible else None
    beats = None if kan_row is None else (op_best is None or (
        kan_row["rmse_all_mev"] <= op_best["rmse_all_mev"]
        and kan_row["rms_vs_frdm12_beyond_mev"] <= op_best["rms_vs_frdm12_beyond_mev"]))
    # the committed formula, reproduced by the command and trainer it records (formulas/regenerate.sh)
    registry = json.loads((ROOT / "formulas" / f"be_even_even_{cfg.features}.json").read_text())
    recipe = registry.get("trainer", "pykan")
    again = r if recipe == cfg.trainer else discover(DiscoverConfig(
        target="be", subset="even-even", runs_dir=runs, trainer=recipe, crosscheck="none", extrapolate=False, **kw))
    run_entry = json.loads((again.run_dir / "formula.json").read_text()) \
        if (again.run_dir / "formula.json").exists() else {}
    reproduced = run_entry.get("srepr") == registry["srepr"] and [p["value"] for p in run_entry["parameters"]] == [
        p["value"] for p in registry["parameters"]]
    target = (2.3, 10, 8.0) if label == "zn" else (0.9, 12, 5.0)
    met = kan_row is not None and kan_row["rmse_all_mev"] <= target[0] and kan_row["n_constants"] <= target[1] \
        and kan_row["rms_vs_frdm12_beyond_mev"] <= target[2] and kan_row["sane"]
    out[label] = {"features": cfg.features, "selection": r.config["subset"] + ", Z,N >= 30, all measured AME2020",
                  "n_nuclei": int(masks["all"].sum()), "domain": {"reference": "frdm12", "n": int(len(judge.dom)),
                                                                 "n_beyond_ame2020": int(judge.dom["beyond"].sum())},
                  "main_job_wall_s": round(wall, 1), "pyoperon_wall_s": round(op_wall, 1),
                  "kan_rmse_mev": r.metrics["rmse_mev"], "kan_far": r.metrics.get("far_extrapolation", {}).get("kan"),
                  "rows": rows + [kan_row] if kan_row else rows, "pyoperon": op_rows, "pyoperon_best_comparable": op_best,
                  "target": {"rmse_all_mev": target[0], "max_constants": target[1], "rms_vs_frdm12_beyond_mev": target[2]},
                  "met": met, "at_least_as_good_as_pyoperon_on_both_axes": beats,
                  "registry_formula_reproduced_bit_for_bit": reproduced, "registry_trainer": recipe}
    print(label, json.dumps({k: v for k, v in out[label].items() if k not in ("pyoperon",)}, default=float), flush=True)

write_result("formula_physics", {**out, "main_job_under_60_s": out["default"]["main_job_wall_s"] < 60})
