"""What each stage of a run computes, in memory: the networks' tables and figures, the symbolic stage's tables,
figures and chosen formula, the cross-check report. Nothing here writes; :mod:`kansym.pipeline.writer` puts the
results into a run directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kansym.checks.crosscheck import (DEFAULT_MAXSIZE, check_engine_options, compare, extrapolation_set, import_hof,
                                      make_engine)
from kansym.checks.farcheck import make_judge
from kansym.metrics import SPLITS, rms
from kansym.nuclear import features as feat
from kansym.nuclear import tables
from kansym.nuclear.targets import TARGET_KINDS
from kansym.pipeline.config import DiscoverConfig, provenance
from kansym.pipeline.recipe import FormulaSearch, KanStage, Progress, candidate_entries, search_formulas
from kansym.report import export
from kansym.report import figures as figs
from kansym.safeio import json_text, parse_json_text
from kansym.symbolic.formula import Formula, formula_from_entry


def _model_label(cfg: DiscoverConfig) -> str | None:
    return tables.MODELS[cfg.model].label if cfg.model in tables.MODELS else None


def target_label(cfg: DiscoverConfig) -> str:
    """The target in words: 'AME2020 binding energy', 'AME2020 - WS4 mass excess', ..."""
    return TARGET_KINDS[cfg.target].text("label", _model_label(cfg))


def network_output_label(cfg: DiscoverConfig) -> str:
    """What the network's output node computes (the target minus its baseline, if any)."""
    base = TARGET_KINDS[cfg.target].text("column", _model_label(cfg))
    return base if cfg.baseline in (None, "none") else f"{base} minus its {cfg.baseline} baseline"


@dataclass(frozen=True)
class KanResult:
    """The training stage's outputs: predictions.csv, importance.csv, loss_curve.csv, the network and residual
    figures, and the first sections of metrics.json (energies in MeV)."""

    stage: KanStage
    predictions: pd.DataFrame
    importance: pd.DataFrame
    loss_curve: pd.DataFrame
    network_figure: object
    residual_figure: object
    metrics: dict


def predictions_frame(stage: KanStage, uncertainty: bool = True) -> pd.DataFrame:
    """Per nucleus: target, consensus prediction, residual [MeV], sigma_ens and sigma (an ensemble with
    ``uncertainty``), whether a member holds an input at the edge of its training range, the model's ME."""
    f = stage.dataset.frame
    out = pd.DataFrame({"Z": f["Z"], "N": f["N"], "A": f["A"], "split": f["split"], "target": f["y"],
                        "prediction": stage.prediction})
    out["residual"] = out["target"] - out["prediction"]
    if stage.sigma_ens is not None and uncertainty:
        out["sigma_ens"] = stage.sigma_ens  # spread of the kept members [MeV]
        out["sigma"] = stage.total_sigma(stage.sigma_ens)  # with the training scatter in quadrature
    # True where some kept member holds a layer input at the edge of its training range
    out["outside_training_range"] = np.any([m.outside(stage.dataset.X) for m in stage.kept], axis=0)
    if "ME_model" in f:
        out["ME_model"] = f["ME_model"]
    return out


def kan_result(cfg: DiscoverConfig, stage: KanStage) -> KanResult:
    """Tables, figures and metrics of a trained stage."""
    dataset = stage.dataset
    preds = predictions_frame(stage, cfg.uncertainty is not False)
    curve = pd.DataFrame([{"member": i, **row} for i, m in enumerate(stage.members) for row in m.curve_])
    network = figs.network_diagram(stage.kept[0], dataset.feature_names, dataset.X[dataset.mask("train")],
                                   output=network_output_label(cfg))
    residual = figs.nz_plot(preds, title=f"KAN minus {target_label(cfg)}, {len(dataset.frame)} nuclei",
                            unit_label="KAN - target [MeV]")
    metrics = {**stage.metrics(), "target": cfg.target, "n_nuclei": len(dataset.frame),
               "dropped_without_model": dataset.dropped}
    if cfg.uncertainty is False and "ensemble" in metrics:
        metrics["ensemble"].pop("calibration_test")
    if cfg.model:
        metrics["model_rms_mev"] = {part: rms((dataset.frame["ME"] - dataset.frame["ME_model"])[dataset.mask(part)])
                                    for part in SPLITS}
    return KanResult(stage, preds, stage.importance(), curve, network, residual, metrics)


@dataclass(frozen=True)
class SymbolicResult:
    """The symbolic stage's outputs: edges.csv and the edge figures, candidates.csv and its figure, and the chosen
    formula (None when no structure meets the choice rule) with its formula.json record and figure."""

    search: FormulaSearch
    edges: pd.DataFrame
    edge_figures: tuple  # (file name, figure)
    candidates: pd.DataFrame
    candidates_figure: object
    notes: tuple[str, ...]
    candidate_entries: dict | None = None  # candidates.json: every candidate's formula (recipe.candidate_entries)
    formula: Formula | None = None  # as formula.json records it (read back by name from the run's features)
    metrics: dict | None = None  # formula.json's metrics = metrics.json's formula section
    context: dict | None = None  # formula.json's provenance
    lhs: str = ""
    figure: object = None
    residual_figure: object = None  # the formula minus the target on the N-Z chart (beside the KAN's)

    def record(self) -> dict:
        """The plain-data summary: formula metrics, candidate rows, notes."""
        return {"formula": self.metrics, "candidates": self.candidates.to_dict(orient="records"),
                "notes": list(self.notes)}


def edges_frame(network, names) -> pd.DataFrame:
    """One row per edge of a symbolic network: layer, input, output, chosen function and its constants, R^2,
    and the best alternatives."""
    rows = []
    for e in network.edges:
        rows.append({"layer": e.layer, "in": names[e.i] if e.layer == 0 else f"h{e.i}", "out": e.j,
                     "function": e.chosen.name, "r2": e.chosen.r2, "a": e.chosen.a, "b": e.chosen.b,
                     "c": e.chosen.c, "d": e.chosen.d,
                     "alternatives": "; ".join(f"{a.name}:{a.r2:.6f}" for a in e.alternatives[:6])})
    return pd.DataFrame(rows)


def _no_formula_note(search: FormulaSearch) -> str:
    tally: dict[str, int] = {}
    for st in search.structures:
        for f in st.failures:
            head = f.split(":")[0].split(" (")[0]
            tally[head] = tally.get(head, 0) + 1
    why = "; ".join(f"{n} of {len(search.structures)} {w}" for w, n in
                    sorted(tally.items(), key=lambda kv: -kv[1])[:6])
    best = min(search.structures, key=lambda st: st.candidate.rmse["train"])
    return (f"no formula chosen: no structure meets the rule ({why}); the most accurate, "
            f"{best.candidate.name}: " + " | ".join(best.failures + tuple(
                best.candidate.far.failures() if best.candidate.far is not None else ())))


def _formula_metrics(cfg: DiscoverConfig, search: FormulaSearch, judge) -> dict:
    chosen, st = search.chosen, search.chosen_structure
    f = chosen.formula
    return {"rmse_mev": chosen.rmse, "rmse_before_refit_mev": chosen.rmse_before_refit,
            "kan_agreement_mev": chosen.kan_agreement, "n_constants": chosen.n_constants, "size": f.size,
            "candidate": chosen.name, "route": chosen.route, "baseline": cfg.baseline,
            "max_abs_correlation": f.max_abs_correlation,
            "degenerate_pairs": [[f.parameters[i].name, f.parameters[j].name, c] for i, j, c in f.degenerate_pairs()],
            "far_check": judge.report(f.evaluate(judge.X)),
            "members": list(st.members), "n_members": search.n_members, "cv_rmse_mev": st.cv_rmse,
            "cv_spread_mev": st.cv_spread, "cv_folds": cfg.cv_folds, "edge_validation_rmse_mev": st.edge_rmse,
            "validation_score_mev": st.score, "bootstrap_stderr": st.bootstrap,
            "n_structures": len(search.structures), "n_eligible": sum(s.eligible for s in search.structures),
            "rule": search.rule}


def symbolic_result(cfg: DiscoverConfig, stage: KanStage, run_id: str, progress: Progress | None = None,
                    search: FormulaSearch | None = None) -> SymbolicResult:
    """Edge fits, candidate formulas judged on the data and over the reference table's whole range, and the
    chosen refitted formula with its record (``search``: already computed)."""
    ds = stage.dataset
    judge = search.judge if search is not None else make_judge(ds, cfg.selection(), cfg.features)
    search = search if search is not None else search_formulas(cfg, stage, judge, progress)
    train = ds.X[ds.masks()["train"]]
    table = search.table()
    parts = dict(search=search, edges=edges_frame(search.base.network, ds.feature_names),
                 edge_figures=tuple(figs.edge_plots(search.regressor, search.base.network, train, ds.feature_names,
                                                    r2_min=cfg.r2_min)),
                 candidates=table, candidate_entries=candidate_entries(search),
                 candidates_figure=figs.candidates_plot(
                     table, "|correction| RMS beyond the data [MeV]" if cfg.target == "residual"
                     else "RMS departure from the liquid drop beyond AME2020 [MeV]"))
    notes = (*search.notes, f"choice rule: {search.rule}")
    if search.chosen is None:
        return SymbolicResult(**parts, notes=(*notes, _no_formula_note(search)))
    metrics = _formula_metrics(cfg, search, judge)
    context = {"run_id": run_id, "target": cfg.target, "model": cfg.model, "selection": cfg.selection().__dict__,
               "features": cfg.features, "split": cfg.split, "seed": cfg.seed, "trainer": cfg.trainer, **provenance()}
    lhs = TARGET_KINDS[cfg.target].symbol
    chosen = search.chosen.formula
    entry = export.formula_entry(chosen, metrics, context)  # the formula as formula.json will give it back
    recorded = formula_from_entry(parse_json_text(json_text(entry), "formula.json")).for_columns(ds.feature_names)
    f = ds.frame
    residuals = pd.DataFrame({"Z": f["Z"], "N": f["N"], "split": f["split"],
                              "residual": ds.y - recorded.predict(ds.X)})
    residual_figure = figs.nz_plot(residuals, title=f"formula minus {target_label(cfg)}, {len(f)} nuclei",
                                   unit_label="formula - target [MeV]")
    return SymbolicResult(**parts, notes=notes, formula=recorded, metrics=metrics, context=context, lhs=lhs,
                          figure=export.formula_figure(chosen, lhs), residual_figure=residual_figure)


def crosscheck_report(cfg: DiscoverConfig, ds, formula: Formula, run_id: str, engine: str = "auto",
                      time_budget: float | None = None, maxsize: int = DEFAULT_MAXSIZE, seed: int = 0,
                      pysr_hof: Path | None = None, beyond: int = 10, generations: int = 50) -> dict:
    """An independent engine (or an imported PySR hall of fame) on the run's training nuclei, compared with the
    run's formula (``kansym.checks.crosscheck.compare``): crosscheck.json's report."""
    names = ds.feature_names
    if pysr_hof is not None:
        check_engine_options(engine, time_budget, maxsize, seed, generations)  # refused even when unused
        result = import_hof(Path(pysr_hof), names)
    else:
        eng = make_engine(engine, time_budget, maxsize, seed, generations)
        tr = ds.mask("train")
        result = eng.fit(ds.X[tr], ds.y[tr], names)
    ex = extrapolation_set(ds.frame[["Z", "N"]], beyond)
    extrap_X = feat.features(ex["Z"], ex["N"], cfg.features).to_numpy()
    report = compare(formula, result, ds, names, extrap_X, judge=make_judge(ds, cfg.selection(), cfg.features))
    report.update({"run_id": run_id, "time_budget_s": time_budget, "maxsize": maxsize, "seed": seed,
                   "generations": None if pysr_hof is not None else generations})
    return report
