"""``discover(config)``: compute every stage of a run in memory (:mod:`kansym.pipeline.stages`), then write the
result into one run directory (:mod:`kansym.pipeline.writer`); stage reruns on an existing run do the same."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from kansym import __version__
from kansym.checks import masstable
from kansym.checks.crosscheck import DEFAULT_MAXSIZE, check_engine_options, import_hof, make_engine
from kansym.checks.extrapolation import Extrapolation, chain_check, chain_domain, check_options, extrapolate
from kansym.checks.farcheck import make_judge
from kansym.errors import KansymError
from kansym.nuclear import features as feat
from kansym.nuclear import tables
from kansym.nuclear.targets import Dataset
from kansym.pipeline.config import DiscoverConfig, library_versions, load_dataset, provenance, run_config
from kansym.pipeline.recipe import Progress, fit_recipe, load_run_stage
from kansym.pipeline.stages import KanResult, SymbolicResult, crosscheck_report, kan_result, symbolic_result
from kansym.pipeline.writer import (
    FORMULA_DEPENDENT,
    note_lines,
    remove_files,
    remove_matching,
    write_config,
    write_crosscheck,
    write_extrapolation,
    write_kan,
    write_metrics,
    write_symbolic,
)
from kansym.runs.store import RunDir, RunUpdate, StagedRun, check_updatable, new_run_id
from kansym.symbolic.formula import formula_from_entry


@dataclass(frozen=True)
class DiscoverResult:
    """Everything a run computed: its configuration and metrics (plain data, as config.json and metrics.json
    hold them), the networks' outputs, the symbolic stage (None with ``--stage kan``), the cross-check report and
    the extrapolation (None when not run), and the notes. ``run_dir`` is where :func:`discover` wrote it."""

    run_dir: Path | None
    config: dict
    metrics: dict
    kan: KanResult
    symbolic: SymbolicResult | None = None
    crosscheck: dict | None = None
    extrapolation: Extrapolation | None = None

    @property
    def importance(self) -> pd.DataFrame:
        return self.kan.importance

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(n for notes in self.metrics.get("notes", {}).values() for n in notes)


def add_notes(metrics: dict, stage: str, notes) -> None:
    """Keep a stage's notes (each once, on one line) in ``metrics["notes"][stage]``."""
    metrics.setdefault("notes", {})[stage] = note_lines(notes)


def compute_run(cfg: DiscoverConfig, dataset: Dataset, run_id: str, progress: Progress | None = None,
                execution=None) -> DiscoverResult:
    """Train -> prune -> symbolic -> cross-check -> extrapolate (as far as ``cfg.stage`` and the stage switches
    say), in memory; ``run_id`` is the id the results will carry."""
    t0 = time.perf_counter()
    say = progress or (lambda message: None)
    symbolic_on = cfg.stage != "kan"
    if cfg.stage == "all" and cfg.extrapolate:  # a chain with no measured nucleus fails now, not after training
        chain_check(cfg, dataset)
    stage, search = fit_recipe(dataset, cfg, judge=make_judge(dataset, cfg.selection(), cfg.features)
                               if symbolic_on else None, progress=progress, symbolic=symbolic_on,
                               execution=execution, keep_checkpoints=True)
    kan = kan_result(cfg, stage)
    metrics = dict(kan.metrics)
    add_notes(metrics, "data", dataset.notes)
    sym = report = ext = None
    if symbolic_on:
        sym = symbolic_result(cfg, stage, run_id, progress, search=search)
        metrics["formula"] = sym.metrics
        add_notes(metrics, "symbolic", sym.notes)
        say("symbolic stage")
    metrics.update(masstable.run_summary(cfg, stage, sym.formula if sym is not None else None))
    if cfg.stage == "all" and cfg.crosscheck != "none" and sym is not None and sym.formula is not None:
        report = crosscheck_report(cfg, dataset, sym.formula, run_id, cfg.crosscheck, cfg.crosscheck_budget,
                                   seed=cfg.seed, generations=cfg.crosscheck_generations)
        metrics["crosscheck"] = crosscheck_summary(report)
        say(f"cross-check ({report['engine']})")
    if cfg.stage == "all" and cfg.extrapolate:
        ext = extrapolate(cfg, stage, sym.formula if sym is not None else None, cfg.chains, run_id=run_id)
        metrics.update(extrapolation_summary(ext.report))
        add_notes(metrics, "extrapolation", ext.report["notes"])
        say("extrapolation")
    metrics["wall_time_total_s"] = round(time.perf_counter() - t0, 3)
    return DiscoverResult(None, {**cfg.to_dict(), **provenance(), "library_versions": library_versions()}, metrics,
                          kan, sym, report, ext)


def write_run(path: Path, result: DiscoverResult) -> None:
    """A computed run into the (staging) directory ``path``: config.json, the networks and their tables and
    figures, the symbolic stage, cross-check and extrapolation files, notes.txt and, last, metrics.json."""
    write_config(path, result.config)
    write_kan(path, result.kan)
    if result.symbolic is not None:
        write_symbolic(path, result.symbolic)
    if result.crosscheck is not None:
        write_crosscheck(path, result.crosscheck)
    if result.extrapolation is not None:
        write_extrapolation(path, result.extrapolation)
    write_metrics(path, result.metrics)


def discover(config: DiscoverConfig, progress: Progress | None = None, execution=None,
             run_id: str | None = None) -> DiscoverResult:
    """:func:`compute_run` of the resolved ``config``, written by :func:`write_run` into a new run directory
    (named ``run_id`` if given, else by time, target, subset and a hash of the configuration), published only
    when complete."""

    cfg = config.resolved()
    dataset = load_dataset(cfg)
    staged = StagedRun(Path(cfg.runs_dir), run_id or new_run_id(cfg.target, cfg.subset, cfg.to_dict()))
    with staged as path:
        result = compute_run(cfg, dataset, RunDir(path).id, progress, execution)
        write_run(path, result)
    return replace(result, run_dir=staged.final)


def far_summary(report: dict) -> dict:
    """The headline numbers of a far-extrapolation report (see ``kansym.checks.farcheck``)."""
    dev = {ref: {k: d[k] for k in ("rms_inside", "max_abs_inside", "rms_beyond", "max_abs_beyond")}
           for ref, d in report["deviation_mev"].items()}
    return {"domain": report["domain"], "n_nuclei": report["n_nuclei"], "n_beyond_ame2020": report["n_beyond_ame2020"],
            "passed": report["passed"], "failures": report["failures"], "non_finite": report["non_finite"],
            "deviation_mev": dev, "fraction_outside_model_spread": report["fraction_outside_model_spread"]}


def crosscheck_summary(report: dict) -> dict:
    """The headline of a cross-check report (crosscheck.json) that metrics.json keeps: engine, selected row,
    equivalence."""
    sel = next((r for r in report["rows"][1:] if r["selected"]), None)
    return {"engine": report["engine"], "selected": sel, "equivalence": report.get("equivalence")}


def extrapolation_summary(report: dict) -> dict:
    """What metrics.json keeps of an extrapolation report: the mean chain RMS and the far-check headlines."""
    return {"extrapolation": {k: v for k, v in report.items() if k.startswith("mean_chain") or k in ("beyond", "drip_lines")},
            "far_extrapolation": {p: far_summary(r) for p, r in report["far"].items()}}


@contextlib.contextmanager
def _updating(run_dir: Path):
    """(copy of the run, its metrics) for a stage rerun (``kansym.runs.store.RunUpdate``); notes.txt and the
    metrics are written back and the copy replaces the run when the block succeeds; nothing changes when it fails."""
    RunDir(Path(run_dir)).metrics  # a run without readable metrics fails here, before anything is copied
    with RunUpdate(run_dir) as path:
        metrics = RunDir(path).metrics
        yield path, metrics
        write_metrics(path, metrics)


def rerun_symbolic(run_dir: Path, **overrides) -> dict:
    """Run the symbolic stage again on an existing run (e.g. with another ``lib``).

    The run is updated as a whole (``kansym.runs.store.RunUpdate``): formula, candidates, edge fits and
    ``metrics.json`` change together; the cross-check and extrapolation results of the old formula are
    removed (listed in ``result["removed"]``) rather than left beside a formula they do not describe."""

    with _updating(run_dir) as (path, metrics):
        rd = RunDir(path)
        cfg, stage = load_run_stage(path)
        cfg, overrides = _with_options(cfg, rd.config, overrides)
        config = rd.config
        config.update({k: getattr(cfg, k) for k in overrides})  # config.json says what the formula was made with
        if config.get("stage") == "kan":
            config["stage"] = "symbolic"  # the run now has the symbolic stage's files
        config["formula_kansym_version"] = __version__  # formula.json's
        sym = symbolic_result(cfg, stage, rd.written_id)
        write_config(path, config)
        remove_files(path / "figures" / "edges")
        removed = remove_matching(path, FORMULA_DEPENDENT)
        write_symbolic(path, sym)
        metrics["formula"] = sym.metrics
        metrics.update(masstable.run_summary(cfg, stage, sym.formula))
        for key in ("crosscheck", "extrapolation", "far_extrapolation"):
            metrics.pop(key, None)
        metrics.get("notes", {}).pop("extrapolation", None)
        add_notes(metrics, "symbolic", sym.notes)
    return {**sym.record(), "removed": removed}


def no_formula(rd: RunDir) -> str:
    """Why a run has no formula.json, and what to do: its stage stopped at the network, or no candidate met the
    choice rule."""
    if rd.config.get("stage") == "kan":
        return f"run {rd.id} has no formula: its stage was kan (the network only); run `kansym symbolic` on it"
    return (f"run {rd.id} has no formula: no candidate met the choice rule (see `kansym show` and candidates.csv); "
            "`kansym symbolic` with other options may find one")


def run_formula(rd: RunDir, features: str):
    """The run's formula (None without one), reading its variables by name from the run's feature columns."""
    if not rd.file("formula.json").exists():
        return None
    try:
        return formula_from_entry(rd.read_json("formula.json")).for_columns(feat.feature_names(features))
    except KansymError as exc:
        raise (exc if str(exc).startswith(f"run {rd.id}") else KansymError(f"run {rd.id}: formula.json: {exc}")) \
            from None


EXTRAPOLATION_OPTIONS = frozenset({"beyond", "against", "both_sides", "isotones"})
"""The options :func:`extrapolate_run` records in config.json (``extrapolation_options``)."""


def extrapolate_run(run_dir: Path, chains=("Zr", "Nd", "Hg", "Fm"), beyond: int = 10, against=("frdm12", "ws4"),
                    both_sides: bool = False, figures: bool = True, isotones=(), loaded=None) -> dict:
    """:func:`kansym.checks.extrapolation.extrapolate` of a run directory (its stage ``loaded`` = (config, KanStage),
    by default read from it) written there (extrapolation.csv/.json, chain and far figures); returns the report."""

    rd = RunDir(Path(run_dir))
    cfg, stage = loaded if loaded is not None else load_run_stage(rd.path)
    ext = extrapolate(cfg, stage, run_formula(rd, cfg.features), chains, beyond, against, both_sides, isotones,
                      run_id=rd.written_id)
    config = rd.config  # config.json says what the extrapolation files were made with
    config.update({"extrapolate": True, "chains": list(chains),
                   "extrapolation_options": {"beyond": beyond, "against": list(ext.report["against"]),
                                             "both_sides": both_sides, "isotones": list(isotones)}})
    write_config(rd.path, config)
    write_extrapolation(rd.path, ext, figures)
    return ext.report


def symbolic_ready(run_dir: Path, **overrides) -> None:
    """The options of a symbolic-stage rerun checked against the run's configuration, before the run itself is
    checked (which takes seconds)."""
    rd = RunDir(Path(run_dir))
    _with_options(run_config(rd.config, f"run {rd.id}: config.json"), rd.config, overrides)
    check_updatable(rd.path)


def _with_options(cfg: DiscoverConfig, record: dict, overrides: dict) -> tuple[DiscoverConfig, dict]:
    """(the recorded ``cfg`` with the rerun's options, validated as config.json ``record`` is; the options given,
    those not None)."""
    given = {k: v for k, v in overrides.items() if v is not None}
    return replace(cfg, **given).resolved(environment=False, crosscheck_rerun="crosscheck_seed" in record), given


def crosscheck_ready(run_dir: Path, engine: str = "auto", time_budget: float | None = None, maxsize: int = DEFAULT_MAXSIZE,
                     seed: int = 0, pysr_hof: Path | None = None, generations: int = 50) -> None:
    """The cross-check's options, its engine and the hall of fame to import checked before the run itself is
    checked (which takes seconds)."""
    check_engine_options(engine, time_budget, maxsize, seed, generations)
    check_updatable(Path(run_dir))
    if pysr_hof is None:
        make_engine(engine, time_budget, maxsize, seed, generations)  # an engine that is not installed says so now
    else:
        rd = RunDir(Path(run_dir))
        import_hof(Path(pysr_hof), feat.feature_names(run_config(rd.config, f"run {rd.id}: config.json").features))


def extrapolation_ready(run_dir: Path, chains, beyond: int = 10, against=("frdm12", "ws4"),
                        both_sides: bool = False, isotones=()) -> None:
    """The options of an extrapolation checked on the run's nuclei (every chain measured and inside the first
    reference table) before the run itself is checked (which takes seconds)."""
    check_options(chains, isotones, beyond, against)
    rd = RunDir(Path(run_dir))
    check_updatable(rd.path)
    cfg = run_config(rd.config, f"run {rd.id}: config.json")
    chain_domain(cfg.subset, load_dataset(cfg).frame[["Z", "N"]], chains, isotones, beyond, both_sides,
                 tables.check_model(against[0]).name)


def rerun_extrapolate(run_dir: Path, chains, beyond: int = 10, against=("frdm12", "ws4"), both_sides: bool = False,
                      isotones=()) -> dict:
    """Chain extrapolation and far check of an existing run; the run's extrapolation files, chain figures,
    config.json's extrapolation options (:func:`extrapolate_run` records them) and ``metrics.json`` are replaced
    together."""

    with _updating(run_dir) as (path, metrics):
        remove_matching(path, ("figures/chain_*.png", "figures/far_*.png"))
        report = extrapolate_run(path, chains, beyond, against, both_sides, isotones=isotones)
        metrics.update(extrapolation_summary(report))
        add_notes(metrics, "extrapolation", report["notes"])
    return report


def rerun_crosscheck(run_dir: Path, engine: str = "auto", time_budget: float | None = None, maxsize: int = DEFAULT_MAXSIZE,
                     seed: int = 0, pysr_hof: Path | None = None, generations: int = 50) -> dict:
    """Cross-check of an existing run; the run's cross-check files and ``metrics.json`` are replaced together."""

    with _updating(run_dir) as (path, metrics):
        report = crosscheck_run(path, engine, time_budget, maxsize, seed, pysr_hof, generations=generations)
        metrics["crosscheck"] = crosscheck_summary(report)
    return report


def crosscheck_run(run_dir: Path, engine: str = "auto", time_budget: float | None = None, maxsize: int = DEFAULT_MAXSIZE,
                   seed: int = 0, pysr_hof: Path | None = None, beyond: int = 10,
                   generations: int = 50) -> dict:
    """:func:`kansym.pipeline.stages.crosscheck_report` of a run directory (its selection, split, target and
    formula), written there as crosscheck.json/.tex; returns the report."""

    rd = RunDir(Path(run_dir))
    if not (rd.path / "formula.json").exists():
        raise KansymError(no_formula(rd))
    cfg = run_config(rd.config, f"run {rd.id}: config.json")
    report = crosscheck_report(cfg, load_dataset(cfg), run_formula(rd, cfg.features), rd.written_id, engine, time_budget,
                               maxsize, seed, pysr_hof, beyond, generations)
    config = rd.config  # config.json says what the cross-check was made with
    config.update(crosscheck=str(engine), crosscheck_budget=time_budget, crosscheck_generations=generations,
                  crosscheck_seed=seed, crosscheck_maxsize=maxsize)
    write_config(rd.path, config)
    write_crosscheck(rd.path, report)
    return report
