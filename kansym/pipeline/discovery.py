"""``DiscoverConfig`` and ``discover(config)``: run the stages and write one run directory."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from kansym.report import export
from kansym.nuclear import tables
from kansym.nuclear import features as feat
from kansym.report import figures as figs
from kansym.pipeline.config import DiscoverConfig, load_dataset, provenance, run_config
from kansym.checks.crosscheck import (
    check_engine_options,
    compare,
    crosscheck_tex,
    extrapolation_set,
    import_hof,
    make_engine,
)
from kansym.errors import KansymError
from kansym.nuclear.targets import TARGET_KINDS
from kansym.checks.extrapolation import extrapolate
from kansym.checks.farcheck import make_judge
from kansym.symbolic.formula import formula_from_entry
from kansym.metrics import SPLITS, rms
from kansym.pipeline.recipe import FormulaSearch, KanStage, Progress, fit_recipe, load_run_stage, search_formulas
from kansym.runs.artifacts import save_figures
from kansym.runs.registry import write_formula
from kansym.runs.store import (
    RunDir,
    RunUpdate,
    StagedRun,
    new_run_id,
    remove,
    save_figure,
    write_csv,
    write_json_atomic,
    write_text_atomic,
)


def _predictions_frame(stage: KanStage, uncertainty: bool = True) -> pd.DataFrame:
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


def _model_label(cfg: DiscoverConfig) -> str | None:
    return tables.MODELS[cfg.model].label if cfg.model in tables.MODELS else None


def target_label(cfg: DiscoverConfig) -> str:
    """The target in words: 'AME2020 binding energy', 'AME2020 - WS4 mass excess', ..."""
    return TARGET_KINDS[cfg.target].text("label", _model_label(cfg))


def network_output_label(cfg: DiscoverConfig) -> str:
    """What the network's output node computes (the target minus its baseline, if any)."""
    base = TARGET_KINDS[cfg.target].text("column", _model_label(cfg))
    return (base if cfg.baseline in (None, "none") else f"{base} - {cfg.baseline}") + " (scaled)"


def symbolic_stage(cfg: DiscoverConfig, stage: KanStage, path: Path, progress: Progress | None = None,
                   search: FormulaSearch | None = None) -> dict:
    """Edge fits, candidate formulas judged on the data and over the reference table's whole range,
    the chosen refitted formula and its exports, written to ``path`` (``search``: already computed)."""

    ds = stage.dataset
    X = ds.X
    masks = ds.masks()
    judge = search.judge if search is not None else make_judge(ds, cfg.selection(), cfg.features)
    search = search if search is not None else search_formulas(cfg, stage, judge, progress)
    chosen, base, reg = search.chosen, search.base, search.regressor
    notes = list(search.notes) + [f"choice rule: {search.rule}"]
    write_csv(path / "edges.csv", _edges_frame(base, ds.feature_names))
    save_figures(figs.edge_plots(reg, base.network, X[masks["train"]], ds.feature_names, r2_min=cfg.r2_min),
                 path / "figures" / "edges", dpi=110)
    table = search.table()
    rows = table.to_dict(orient="records")  # the rows of candidates.csv, serialised once
    write_csv(path / "candidates.csv", table)
    save_figure(figs.candidates_plot(table, "|correction| RMS beyond the data [MeV]" if cfg.target == "residual"
                                     else "RMS departure from the liquid drop beyond AME2020 [MeV]"),
                path / "figures" / "candidates.png", dpi=120)
    if chosen is None:
        tally: dict[str, int] = {}
        for st in search.structures:
            for f in st.failures:
                head = f.split(":")[0].split(" (")[0]
                tally[head] = tally.get(head, 0) + 1
        why = "; ".join(f"{n} of {len(search.structures)} {w}" for w, n in
                        sorted(tally.items(), key=lambda kv: -kv[1])[:6])
        best = min(search.structures, key=lambda st: st.candidate.rmse["train"])
        notes.append(f"no formula chosen: no structure meets the rule ({why}); the most accurate, "
                     f"{best.candidate.name}: " + " | ".join(best.failures + tuple(
                         best.candidate.far.failures() if best.candidate.far is not None else ())))
        for stale in ("formula.json", "formula.tex", "formula.png"):
            remove(path / stale)
        return {"formula": None, "candidates": rows, "notes": notes}
    formula_metrics = {"rmse_mev": chosen.rmse, "rmse_before_refit_mev": chosen.rmse_before_refit,
                       "kan_agreement_mev": chosen.kan_agreement, "n_constants": chosen.n_constants,
                       "size": chosen.formula.size, "candidate": chosen.name, "route": chosen.route,
                       "baseline": cfg.baseline, "max_abs_correlation": chosen.formula.max_abs_correlation,
                       "degenerate_pairs": [[chosen.formula.parameters[i].name, chosen.formula.parameters[j].name, c]
                                            for i, j, c in chosen.formula.degenerate_pairs()],
                       "far_check": judge.report(chosen.formula.evaluate(judge.X))}
    st = search.chosen_structure
    formula_metrics.update({"members": list(st.members), "n_members": search.n_members,
                            "cv_rmse_mev": st.cv_rmse, "cv_spread_mev": st.cv_spread, "cv_folds": cfg.cv_folds,
                            "edge_validation_rmse_mev": st.edge_rmse, "validation_score_mev": st.score,
                            "bootstrap_stderr": st.bootstrap, "n_structures": len(search.structures),
                            "n_eligible": sum(s.eligible for s in search.structures), "rule": search.rule})

    context = {"run_id": RunDir(path).id, "target": cfg.target, "model": cfg.model, "selection": cfg.selection().__dict__,
               "features": cfg.features, "split": cfg.split, "seed": cfg.seed, "trainer": cfg.trainer, **provenance()}
    lhs = TARGET_KINDS[cfg.target].symbol
    write_formula(path, "formula", chosen.formula, formula_metrics, context, lhs, force=True,
                         label=context["run_id"])
    save_figure(export.formula_figure(chosen.formula, lhs), path / "formula.png", dpi=130, bbox_inches="tight")
    return {"formula": formula_metrics, "candidates": rows, "notes": notes}


def _edges_frame(cand, names) -> pd.DataFrame:
    rows = []
    for e in cand.network.edges:
        rows.append({"layer": e.layer, "in": names[e.i] if e.layer == 0 else f"h{e.i}", "out": e.j,
                     "function": e.chosen.name, "r2": e.chosen.r2, "a": e.chosen.a, "b": e.chosen.b,
                     "c": e.chosen.c, "d": e.chosen.d,
                     "alternatives": "; ".join(f"{a.name}:{a.r2:.6f}" for a in e.alternatives[:6])})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class DiscoverResult:
    """What ``discover`` returns: the run directory and the plain-data summary written there."""

    run_dir: Path
    config: dict
    metrics: dict
    importance: pd.DataFrame
    notes: tuple[str, ...]
    symbolic: dict | None = None


def discover(config: DiscoverConfig, progress: Progress | None = None, execution=None,
             run_id: str | None = None) -> DiscoverResult:
    """Load -> train -> prune -> symbolic -> cross-check -> extrapolate (as far as ``config.stage``
    and the stage switches say) and write everything into a new run directory (named ``run_id`` if
    given, else by time, target, subset and a hash of the configuration)."""

    cfg = config.resolved()
    t0 = time.perf_counter()
    dataset = load_dataset(cfg)
    cfg_dict = {**cfg.to_dict(), **provenance()}
    run_id = run_id or new_run_id(cfg.target, cfg.subset, cfg.to_dict())
    staged = StagedRun(Path(cfg.runs_dir), run_id)
    with staged as path:
        write_json_atomic(path / "config.json", cfg_dict)

        symbolic_on = cfg.stage != "kan"
        stage, search = fit_recipe(dataset, cfg, judge=make_judge(dataset, cfg.selection(), cfg.features)
                                   if symbolic_on else None, save_dir=path / "kan", progress=progress,
                                   symbolic=symbolic_on, execution=execution)
        preds = _predictions_frame(stage, cfg.uncertainty is not False)
        write_csv(path / "predictions.csv", preds)
        importance = stage.importance()
        write_csv(path / "importance.csv", importance)
        curve = pd.DataFrame([{"member": i, **row} for i, m in enumerate(stage.members) for row in m.curve_])
        write_csv(path / "loss_curve.csv", curve)
        save_figure(figs.network_diagram(stage.kept[0], dataset.feature_names, output=network_output_label(cfg)),
                    path / "figures" / "network.png", bbox_inches="tight", dpi=120)
        save_figure(figs.nz_plot(preds, title=f"KAN minus {target_label(cfg)}, {len(dataset.frame)} nuclei",
                                 unit_label="KAN - AME2020 [MeV]"), path / "figures" / "residual_chart.png", dpi=120)
        metrics = {**stage.metrics(), "target": cfg.target, "n_nuclei": len(dataset.frame),
                   "dropped_without_model": dataset.dropped}
        if cfg.uncertainty is False and "ensemble" in metrics:
            metrics["ensemble"].pop("calibration_test")
        if cfg.model:
            metrics["model_rms_mev"] = {part: rms((dataset.frame["ME"] - dataset.frame["ME_model"])[dataset.mask(part)])
                                        for part in SPLITS}
        symbolic = None
        record_notes(path, metrics, "data", dataset.notes)
        if symbolic_on:
            symbolic = symbolic_stage(cfg, stage, path, progress, search=search)
            metrics["formula"] = symbolic["formula"]
            record_notes(path, metrics, "symbolic", symbolic["notes"])
            if progress:
                progress("symbolic stage")
        if cfg.stage == "all" and cfg.crosscheck != "none" and symbolic and symbolic["formula"]:
            report = crosscheck_run(path, cfg.crosscheck, cfg.crosscheck_budget, seed=cfg.seed,
                                    generations=cfg.crosscheck_generations)
            metrics["crosscheck"] = crosscheck_summary(report)
            if progress:
                progress(f"cross-check ({report['engine']})")
        if cfg.stage == "all" and cfg.extrapolate:
            ext = extrapolate_run(path, cfg.chains, loaded=(cfg, stage))
            metrics.update(extrapolation_summary(ext))
            record_notes(path, metrics, "extrapolation", ext["notes"])
            if progress:
                progress("extrapolation")
        metrics["wall_time_total_s"] = round(time.perf_counter() - t0, 3)
        write_json_atomic(path / "metrics.json", metrics)
    return DiscoverResult(staged.final, cfg_dict, metrics, importance,
                          tuple(n for notes in metrics["notes"].values() for n in notes), symbolic)


def record_notes(path: Path, metrics: dict, stage: str, notes) -> None:
    """Keep a stage's notes (each once) in ``metrics["notes"][stage]`` and rewrite ``notes.txt``."""

    metrics.setdefault("notes", {})[stage] = list(dict.fromkeys(map(str, notes)))
    write_text_atomic(path / "notes.txt", "".join(f"{st}: {n}\n" for st, ns in metrics["notes"].items() for n in ns))


def far_summary(report: dict) -> dict:
    """The headline numbers of a far-extrapolation report (see ``kansym.checks.farcheck``)."""
    dev = {ref: {k: d[k] for k in ("rms_inside", "max_abs_inside", "rms_beyond", "max_abs_beyond")}
           for ref, d in report["deviation_mev"].items()}
    return {"domain": report["domain"], "n_nuclei": report["n_nuclei"], "n_beyond_ame2020": report["n_beyond_ame2020"],
            "passed": report["passed"], "failures": report["failures"], "non_finite": report["non_finite"],
            "deviation_mev": dev, "fraction_outside_model_spread": report["fraction_outside_model_spread"]}


FORMULA_DEPENDENT = ("crosscheck.json", "crosscheck.tex", "extrapolation.csv", "extrapolation.json",
                     "figures/chain_*.png", "figures/far_*.png")
"""Artifacts computed from the formula (or with it), stale once the symbolic stage is rerun."""


def _remove(path: Path, patterns) -> list[str]:
    gone = []
    for pattern in patterns:
        for f in sorted(path.glob(pattern)):
            remove(f)
            gone.append(str(f.relative_to(path)))
    return gone


@contextlib.contextmanager
def _updating(run_dir: Path):
    """(copy of the run, its metrics) for a stage rerun (``kansym.runs.store.RunUpdate``); the metrics are written
    back and the copy replaces the run when the block succeeds, and nothing changes when it fails."""
    RunDir(Path(run_dir)).metrics  # a run without readable metrics fails here, before anything is copied
    with RunUpdate(run_dir) as path:
        metrics = RunDir(path).metrics
        yield path, metrics
        write_json_atomic(path / "metrics.json", metrics)


def rerun_symbolic(run_dir: Path, **overrides) -> dict:
    """Run the symbolic stage again on an existing run (e.g. with another ``lib``).

    The run is updated as a whole (``kansym.runs.store.RunUpdate``): formula, candidates, edge fits and
    ``metrics.json`` change together; the cross-check and extrapolation results of the old formula are
    removed (listed in ``result["removed"]``) rather than left beside a formula they do not describe."""

    with _updating(run_dir) as (path, metrics):
        rd = RunDir(path)
        cfg, stage = load_run_stage(path)
        overrides = {k: v for k, v in overrides.items() if v is not None}
        cfg = replace(cfg, **overrides).resolved(environment=False)
        config = rd.config
        config.update({k: getattr(cfg, k) for k in overrides})  # config.json says what the formula was made with
        write_json_atomic(path / "config.json", config)
        remove(path / "figures" / "edges")
        removed = _remove(path, FORMULA_DEPENDENT)
        result = symbolic_stage(cfg, stage, path)
        metrics["formula"] = result["formula"]
        for key in ("crosscheck", "extrapolation", "far_extrapolation"):
            metrics.pop(key, None)
        metrics.get("notes", {}).pop("extrapolation", None)
        record_notes(path, metrics, "symbolic", result["notes"])
    return {**result, "removed": removed}


def run_formula(rd: RunDir, features: str):
    """The run's formula (None without one), reading its variables by name from the run's feature columns."""
    if not rd.file("formula.json").exists():
        return None
    return formula_from_entry(rd.read_json("formula.json")).for_columns(feat.feature_names(features))


def extrapolate_run(run_dir: Path, chains=("Zr", "Nd", "Hg", "Fm"), beyond: int = 10, against=("frdm12", "ws4"),
                    both_sides: bool = False, figures: bool = True, isotones=(), loaded=None) -> dict:
    """:func:`kansym.checks.extrapolation.extrapolate` of a run directory (its stage ``loaded`` = (config, KanStage),
    by default read from it); writes extrapolation.csv/.json and the chain and far figures there."""

    rd = RunDir(Path(run_dir))
    cfg, stage = loaded if loaded is not None else load_run_stage(rd.path)
    formula = run_formula(rd, cfg.features)
    ext = extrapolate(cfg, stage, formula, chains, beyond, against, both_sides, isotones, run_id=rd.id)
    write_csv(rd.path / "extrapolation.csv", ext.surface)
    write_json_atomic(rd.path / "extrapolation.json", ext.report)
    if figures:
        for ch, f in ext.surface.groupby("chain", sort=False):
            save_figure(figs.chain_plot(f, ext.preds, ext.against, ch), rd.path / "figures" / f"chain_{ch}.png",
                        dpi=110)
        judge = ext.judge
        ref_label = tables.MODELS[judge.reference].label
        for p, be in ext.far_values.items():
            save_figure(figs.far_plot(judge.dom, be - judge.dom["BE_ref"].to_numpy(),
                                      title=f"{'KAN' if p == 'kan' else 'formula'} BE minus {ref_label} BE [MeV], "
                                            f"{len(judge.dom)} nuclei ({int(judge.dom['beyond'].sum())} beyond "
                                            "AME2020)"),
                        rd.path / "figures" / f"far_{p}_minus_{judge.reference}.png", dpi=110)
    return ext.report


def rerun_extrapolate(run_dir: Path, chains, beyond: int = 10, against=("frdm12", "ws4"), both_sides: bool = False,
                      isotones=()) -> dict:
    """Chain extrapolation and far check of an existing run (``kansym.checks.extrapolation.extrapolate_run``);
    the run's extrapolation files, chain figures and ``metrics.json`` are replaced together."""

    with _updating(run_dir) as (path, metrics):
        _remove(path, ("figures/chain_*.png", "figures/far_*.png"))
        report = extrapolate_run(path, chains, beyond, against, both_sides, isotones=isotones)
        metrics.update(extrapolation_summary(report))
        config = RunDir(path).config  # config.json says what the extrapolation files were made with
        config.update({"extrapolate": True, "chains": list(chains),
                       "extrapolation_options": {"beyond": beyond, "against": list(report["against"]),
                                                 "both_sides": both_sides, "isotones": list(isotones)}})
        write_json_atomic(path / "config.json", config)
        record_notes(path, metrics, "extrapolation", report["notes"])
    return report


def rerun_crosscheck(run_dir: Path, engine: str = "auto", time_budget: float | None = None, maxsize: int = 30,
                     seed: int = 0, pysr_hof: Path | None = None, generations: int = 50) -> dict:
    """Cross-check of an existing run (``kansym.checks.crosscheck.crosscheck_run``); the run's cross-check files
    and ``metrics.json`` are replaced together."""

    with _updating(run_dir) as (path, metrics):
        report = crosscheck_run(path, engine, time_budget, maxsize, seed, pysr_hof, generations=generations)
        metrics["crosscheck"] = crosscheck_summary(report)
    return report


def crosscheck_run(run_dir: Path, engine: str = "auto", time_budget: float | None = None, maxsize: int = 30,
                   seed: int = 0, pysr_hof: Path | None = None, beyond: int = 10,
                   generations: int = 50) -> dict:
    """Run an engine on a run's data selection, split and target; write crosscheck.json/.tex into the run."""

    rd = RunDir(Path(run_dir))
    if not (rd.path / "formula.json").exists():
        raise KansymError(f"run {rd.id} has no formula to cross-check; run `kansym discover` without --stage kan")
    cfg = run_config(rd.config, f"run {rd.id}: config.json")
    kan = run_formula(rd, cfg.features)
    ds = load_dataset(cfg)
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

    report = compare(kan, result, ds, names, extrap_X, judge=make_judge(ds, cfg.selection(), cfg.features))
    report.update({"run_id": rd.id, "time_budget_s": time_budget, "maxsize": maxsize, "seed": seed,
                   "generations": None if pysr_hof is not None else generations})
    write_json_atomic(rd.path / "crosscheck.json", report)
    write_text_atomic(rd.path / "crosscheck.tex", crosscheck_tex(report))
    return report


def crosscheck_summary(report: dict) -> dict:
    """The headline of a cross-check report (crosscheck.json) that metrics.json keeps: engine, selected row,
    equivalence."""
    sel = next((r for r in report["rows"][1:] if r["selected"]), None)
    return {"engine": report["engine"], "selected": sel, "equivalence": report.get("equivalence")}


def extrapolation_summary(report: dict) -> dict:
    """What metrics.json keeps of an extrapolation report: the mean chain RMS and the far-check headlines."""
    return {"extrapolation": {k: v for k, v in report.items() if k.startswith("mean_chain") or k == "beyond"},
            "far_extrapolation": {p: far_summary(r) for p, r in report["far"].items()}}
