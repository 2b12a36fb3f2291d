"""A run's formula, checked, into the formula registry (``NAME.json`` and ``NAME.tex``).

What an entry records is what kansym can stand behind: provenance from the run's checked ``config.json``, and
every number recomputed from the formula on the run's data and compared with the run's record (RMSE, standard
errors and correlations, cross-validation, extrapolation validation, bootstrap, far check). A record that
disagrees (an edited file, or a file of another run) is refused and nothing is written.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd

from kansym import __version__
from kansym.checks import masstable
from kansym.checks.crosscheck import (DEFAULT_MAXSIZE, FAILED_ROW_FIELDS, REPORT_FIELDS, ROW_FIELDS, TEX_LAYOUT,
                                     TEX_LAYOUTS_READ, crosscheck_tex, extrapolation_set, far_fields, shown_numbers)
from kansym.checks.extrapolation import extrapolate
from kansym.checks.farcheck import make_judge
from kansym.errors import KansymError
from kansym.metrics import pareto_mask, rms, rmse_by_split
from kansym.nuclear import features as feat
from kansym.nuclear import tables
from kansym.nuclear.targets import TARGET_KINDS
from kansym.pipeline.config import RECORD_EXTRAS, DiscoverConfig, load_dataset, run_config
from kansym.pipeline.discovery import (EXTRAPOLATION_OPTIONS, crosscheck_summary, extrapolation_summary, no_formula,
                                       run_formula)
from kansym.pipeline.recipe import (FormulaSearch, check_variable_order, constants_text, load_run_stage, mode_route,
                                    power_route, recorded_candidates, shell_route)
from kansym.pipeline.stages import edges_frame, predictions_frame
from kansym.pipeline.symbolic_notes import check_symbolic_notes, variant_networks
from kansym.pipeline.writer import NO_NOTES, NOTE_STAGES, note_lines, notes_text
from kansym.report import export
from kansym.runs.registry import write_formula
from kansym.runs.store import (RUN_ID, SAFE_ID, RunDir, check_own_files, check_regular_targets, owner_alive,
                              unwritable_dir, update_dir)
from kansym.safeio import decode_non_finite, first_difference, json_text, read_text_bounded
from kansym.symbolic import search as S
from kansym.symbolic.formula import DEGENERATE_CORR, Formula, uncertainties_at

_CONTEXT_FIELDS = ("target", "model", "selection", "features", "split", "seed", "trainer")
RTOL = 1e-6
"""Relative tolerance between a recorded number and its recomputation (the same code on the same data)."""


def entry_context(entry: dict, cfg: DiscoverConfig, run_id: str) -> dict:
    """The provenance a registry entry records, from the run's checked configuration; a ``formula.json`` whose
    own record of it says otherwise is refused (it describes another run or was edited). The run's id is the one
    formula.json records (the run's folder ``run_id`` may have been renamed since)."""
    recorded = entry.get("run_id")
    written = recorded if isinstance(recorded, str) and SAFE_ID.fullmatch(recorded) else run_id
    context = {"run_id": written, "target": cfg.target, "model": cfg.model,
               "selection": {k: getattr(cfg, k) for k in ("subset", "min_z", "min_n", "max_unc", "include_estimated")},
               "features": cfg.features, "split": cfg.split, "seed": cfg.seed, "trainer": cfg.trainer}
    context = json.loads(json_text(context))  # plain JSON values (choices as their text)
    for key in _CONTEXT_FIELDS:
        if key in entry and entry[key] != context[key]:
            where, mine, theirs = first_difference({key: entry[key]}, {key: context[key]})
            raise KansymError(f"run {run_id}: formula.json field {where!r} ({json.dumps(mine)[:40]}) disagrees with "
                              f"config.json ({json.dumps(theirs)[:40]})")  # JSON's own text: "30" is not 30
    record = json_record_of(entry.get("kansym_version"), entry.get("data_sha256"))
    bundled = tables.data_hashes()
    if record.get("data_sha256", bundled) != bundled:
        raise KansymError(f"run {run_id}: formula.json was made from other data files than the bundled ones (SHA-256 "
                          "differs); its numbers cannot be recomputed here")
    # the numbers of the entry are recomputed here: by this version, on the bundled data
    return {**context, **record, "kansym_version": __version__, "data_sha256": bundled}


def json_record_of(version, hashes) -> dict:
    """The kansym version and data hashes of a formula entry, checked: a version string and SHA-256 digests."""
    out = {}
    if version is not None:
        if not (isinstance(version, str) and re.fullmatch(r"[0-9A-Za-z.+-]{1,40}", version)):
            raise KansymError(f"formula.json field 'kansym_version' {str(version)[:40]!r} is not a version")
        out["kansym_version"] = version
    if hashes is not None:
        if not (isinstance(hashes, dict) and len(hashes) <= 100 and all(
                isinstance(k, str) and re.fullmatch(r"[A-Za-z0-9_.+-]{1,100}", k) and isinstance(v, str)
                and re.fullmatch(r"[0-9a-f]{64}", v) for k, v in hashes.items())):
            raise KansymError("formula.json field 'data_sha256' must map data file names to SHA-256 digests")
        out["data_sha256"] = hashes
    return out


def _same(recorded, computed, rtol: float = RTOL) -> bool:
    """Equal as plain data, numbers within ``rtol`` (NaN equals NaN; None only equals None)."""
    if isinstance(computed, dict):
        return isinstance(recorded, dict) and set(recorded) == set(computed) and \
            all(_same(recorded[k], computed[k], rtol) for k in computed)
    if isinstance(computed, (list, tuple)):
        return isinstance(recorded, (list, tuple)) and len(recorded) == len(computed) and \
            all(_same(a, b, rtol) for a, b in zip(recorded, computed))
    if isinstance(computed, bool) or computed is None or isinstance(computed, str):
        return recorded == computed
    if isinstance(computed, int):  # a count or a neutron number stays a whole number
        return type(recorded) is int and recorded == computed
    if isinstance(recorded, bool) or not isinstance(recorded, (int, float)):
        return False
    return math.isclose(recorded, computed, rel_tol=rtol, abs_tol=1e-12) or \
        (math.isnan(recorded) and math.isnan(computed))


def _plain(obj):
    """``obj`` as a run's JSON file gives it back: plain types, non-finite numbers as floats (as read_json decodes)."""
    return decode_non_finite(json.loads(json_text(obj)))


def check_formula(formula: Formula, ds, metrics, run_id: str, what: str = "formula.json") -> dict:
    """The cheap checks (used by ``from_run`` too): the recorded RMSE per split is the formula's RMSE on the run's
    data, and the recorded standard errors and correlations are those of its constants on the training nuclei.
    Returns the recomputed RMSE per split [MeV]."""
    rec = metrics.get("rmse_mev") if isinstance(metrics, dict) else None
    if not isinstance(rec, dict) or set(rec) != {"train", "test", "all"} or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in rec.values()):
        raise KansymError(f"run {run_id}: {what} field 'rmse_mev' must give train, test and all RMSE")
    now = rmse_by_split(formula.predict(ds.X), ds.y, ds.masks())
    off = [k for k in ("train", "test", "all") if not _same(rec[k], now[k])]
    if off:
        raise KansymError(f"run {run_id}: {what} records RMSE {off[0]} {rec[off[0]]!r} MeV but its formula gives "
                          f"{now[off[0]]:.6g} MeV on the run's data; the file was edited or belongs to another run")
    train = ds.mask("train")
    err, corr = uncertainties_at(formula, ds.X[train], ds.y[train], None if ds.w is None else ds.w[train])
    for p, e in zip(formula.parameters, err):
        if (p.stderr is None) != (e is None) or (e is not None and not _same(p.stderr, e, 1e-4)):
            raise KansymError(f"run {run_id}: formula.json records the standard error of {p.name} as {p.stderr!r} "
                              f"but its constants on the training nuclei give {e!r}; the file was edited")
    if formula.correlations and not _same([list(r) for r in formula.correlations], _plain(corr.tolist()), 1e-4):
        raise KansymError(f"run {run_id}: formula.json records correlations that its constants on the training "
                          "nuclei do not give; the file was edited")
    return now


def verified_metrics(formula: Formula, cfg: DiscoverConfig, ds, metrics: dict, run_id: str, judge=None) -> dict:
    """The metrics of a registry entry, each recomputed on the run's data and compared with ``metrics`` (the run's
    record): RMSE, uncertainties, the largest correlation, the cross-validation and extrapolation validation of
    the choice rule, the bootstrap errors and the far check. Numbers kansym cannot recompute from the run's files
    (the agreement with the network before the refit) are left out of the entry. ``judge``: the run's far check
    (:func:`kansym.checks.farcheck.make_judge`; built here when not given)."""
    rmse = check_formula(formula, ds, metrics, run_id)
    X, y, w, train = ds.X, ds.y, ds.w, ds.mask("train")
    folds = S.fold_indices(np.flatnonzero(train), cfg.cv_folds, cfg.seed)
    cv, spread = S.cross_validate(formula, X, y, folds, w)
    edge = S.edge_validate(formula, X, y, train, S.edge_mask(ds.frame, train), w)
    judge = judge if judge is not None else make_judge(ds, cfg.selection(), cfg.features)
    computed = {
        "rmse_mev": rmse, "n_constants": formula.n_constants,
        "size": formula.size, "max_abs_correlation": formula.max_abs_correlation,
        "degenerate_pairs": [[formula.parameters[i].name, formula.parameters[j].name, c]
                             for i, j, c in formula.degenerate_pairs()],
        "cv_rmse_mev": cv, "cv_spread_mev": spread, "cv_folds": cfg.cv_folds, "edge_validation_rmse_mev": edge,
        "validation_score_mev": cv if not np.isfinite(edge) else float(np.sqrt((cv ** 2 + edge ** 2) / 2)),
        "bootstrap_stderr": S.bootstrap_stderr(formula, X, y, train, cfg.seed, w=w),
        "far_check": judge.report(formula.evaluate(judge.X)),
    }
    computed = _plain(computed)
    for key, value in computed.items():
        if key in metrics and not _same(metrics[key], value, 1e-4):
            raise KansymError(f"run {run_id}: formula.json records {key} that its formula does not give on the "
                              f"run's data ({str(metrics[key])[:60]!r}); the file was edited or belongs to another run")
    return {**computed, **_described(metrics, cfg, run_id), "degenerate_limit": DEGENERATE_CORR}


_CANDIDATE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+,^/*() -]{0,199}")  # library names and function specs
_ROUTES = ("structured", "pruned", "terms", "expanded", "reduced", "powers", "joint", "shells", "modes")


def _described(metrics: dict, cfg: DiscoverConfig, run_id: str) -> dict:
    """What an entry says about how its formula was found, where it can be checked: the candidate's name (letters,
    digits and the characters of library specs, no backslash, brace or control character), its route (one kansym builds), the baseline (the run's) and the choice rule (this version's).
    The search's bookkeeping (members, structures, eligible ones) stays in the run."""
    out = {"baseline": cfg.baseline, "rule": S.RULE}
    candidate, route = metrics.get("candidate"), metrics.get("route")
    if not (isinstance(candidate, str) and _CANDIDATE.fullmatch(candidate)):
        raise KansymError(f"run {run_id}: formula.json field 'metrics.candidate' {str(candidate)[:40]!r} is not a "
                          "candidate name")
    if route not in _ROUTES:
        raise KansymError(f"run {run_id}: formula.json field 'metrics.route' {str(route)[:40]!r} is not a route of "
                          f"kansym ({', '.join(_ROUTES)})")
    for key, value in (("baseline", cfg.baseline), ("rule", S.RULE)):
        if key in metrics and metrics[key] != value:
            raise KansymError(f"run {run_id}: formula.json records {key} {str(metrics[key])[:40]!r}, not the run's "
                              f"{str(value)[:40]!r}; the file was edited or comes from another kansym version")
    return {**out, "candidate": candidate, "route": route}


def export_formula(run_dir: Path, name: str, registry: Path = Path("formulas"), force: bool = False,
                   correlations: bool = False) -> tuple[Path, Path]:
    """Copy a run's formula into the registry as ``NAME.json`` and ``NAME.tex`` (both or neither; ``correlations``:
    the .tex with the constants' correlation matrix), its provenance and numbers checked as described in this
    module."""
    if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9_.-]{0,98}[A-Za-z0-9_-])?", name) or ".." in name:
        raise KansymError(f"formula name {name[:40]!r} must be 1-100 letters, digits, '_', '.', '-', starting with a "
                          "letter or digit, without '..' or a final '.'")
    if name.lower().endswith((".json", ".tex")):
        raise KansymError(f"formula name {name[:40]!r}: give it without .json or .tex (export writes NAME.json and "
                          "NAME.tex)")
    if Path(registry).is_symlink() and not Path(registry).exists():
        raise KansymError(f"--registry {registry} is a symbolic link to nothing (or a loop of links)")
    problem = unwritable_dir(Path(registry))  # not a directory, not writable, ...
    if problem:
        raise KansymError(f"--registry {registry} {problem}")
    targets = [Path(registry) / f"{name}.{ext}" for ext in ("json", "tex")]
    if not force and any(t.exists() or t.is_symlink() for t in targets):
        raise KansymError(f"formula {name!r} already exists in {registry}; use --force to overwrite it")
    check_regular_targets(targets)  # as the writer refuses them, early
    rd = RunDir(Path(run_dir))
    entry = rd.read_json("formula.json") if (rd.path / "formula.json").exists() else None
    if entry is None:
        raise KansymError(no_formula(rd))
    check_run(rd.path)  # every check show makes: a run show refuses gives no registry entry
    cfg = run_config(rd.config, f"run {rd.id}: config.json")
    formula = export.formula_from_entry(entry).for_columns(feat.feature_names(cfg.features))
    context = entry_context(entry, cfg, rd.id)
    metrics = verified_metrics(formula, cfg, load_dataset(cfg), entry.get("metrics"), rd.id)
    return write_formula(Path(registry), name, formula, metrics, context, TARGET_KINDS[cfg.target].symbol,
                         force=force, init=False, correlations=correlations)


def _refuser(rd: RunDir):
    """A function that refuses ``rd`` with a message saying what does not agree."""
    def refuse(what: str):
        raise KansymError(f"run {rd.id}: {what}; the run's files were edited or do not belong together")
    return refuse


LOSS_COLUMNS = ("member", "stage", "grid", "train_rmse", "test_rmse")
"""loss_curve.csv's columns: the member (its index in the ensemble), its training stage and grid, and the RMSE [MeV] on the training
and test nuclei at each recorded step."""


def _check_loss_curve(rd: RunDir, stage, refuse) -> None:
    """loss_curve.csv (a record of training that only training can recompute) must be there and be one: its
    columns, every network of the run (by index) and no other, grids among the recipe's, RMSEs non-negative; and,
    for the fast trainer, each network's last training RMSE its RMSE on the training nuclei now (with weights the
    weighted one, weights scaled to mean 1 as training scales them: an edited --weight-floor shows there)."""
    if not (rd.path / "loss_curve.csv").exists():
        refuse("loss_curve.csv is missing")
    curve = rd.read_csv("loss_curve.csv")
    try:
        grids = pd.to_numeric(curve["grid"], errors="raise").astype(int)
        ok = tuple(curve.columns) == LOSS_COLUMNS and len(curve) > 0 and \
            set(pd.to_numeric(curve["member"], errors="raise").astype(int)) == set(range(len(stage.members))) and \
            set(grids) <= set(stage.members[0].schedule.grids)
        ok = ok and all(s in (f"sparsify g={g}", f"refine g={g}", "retrain pruned") for s, g in
                        zip(curve["stage"].astype(str), grids))
        for col in ("train_rmse", "test_rmse"):
            v = pd.to_numeric(curve[col], errors="raise").to_numpy(dtype=float)
            ok = ok and bool(np.all(v >= 0)) and not np.isinf(v).any()  # NaN (never written) fails ">= 0" too
    except (KeyError, ValueError, TypeError, OverflowError):
        ok = False
    if not ok:
        refuse(f"loss_curve.csv is not a training record of the run's networks (columns {', '.join(LOSS_COLUMNS)}, "
               "every one of its networks, grids among its recipe's, RMSEs >= 0)")
    ds = stage.dataset
    if stage.members[0].schedule.trainer == "fast":
        train = ds.mask("train")
        w = None if ds.w is None else ds.w[train] / np.mean(ds.w[train])
        last = curve.groupby(pd.to_numeric(curve["member"]).astype(int))["train_rmse"].last()
        for i, m in enumerate(stage.members):
            r = m.predict(ds.X[train]) - ds.y[train]
            now = rms(r) if w is None else float(np.sqrt(np.mean(w * r ** 2)))
            if not math.isclose(float(last[i]), now, rel_tol=1e-5, abs_tol=1e-9):
                refuse(f"loss_curve.csv's last training RMSE of network {i} is not its "
                       f"{'RMSE' if w is None else 'weighted RMSE (weights of config.json)'} on the training nuclei")


def check_summary(rd: RunDir, cfg: DiscoverConfig, ds, metrics: dict, imp):
    """What ``kansym show`` prints about a run, checked: the nucleus count and the KAN's RMSE against the run's data
    and predictions.csv; the pruned width, ensemble section and importances against the networks in kan/ (loaded);
    the model's RMS against the data; the extrapolation, far-check and cross-check summaries against
    extrapolation.json and crosscheck.json. (The formula: :func:`check_formula_record`.)"""
    refuse = _refuser(rd)
    if isinstance(metrics.get("formula"), dict) and not (rd.path / "formula.json").exists():
        refuse("metrics.json records a formula but formula.json is missing")
    recorded = rd.config.get("data_sha256")
    if recorded is not None and recorded != tables.data_hashes():
        refuse("config.json says the run was made from other data files than the bundled ones (SHA-256 differs); "
               "its numbers cannot be checked here")
    if metrics.get("target", cfg.target) != cfg.target:
        refuse(f"metrics.json's target {str(metrics.get('target'))[:20]!r} is not config.json's {cfg.target!r}")
    if metrics.get("n_nuclei") != len(ds.frame):
        refuse(f"metrics.json counts {str(metrics.get('n_nuclei'))[:20]} nuclei, the run's selection {len(ds.frame)}")
    preds = rd.read_csv("predictions.csv")
    try:
        p = ds.frame[["Z", "N"]].merge(preds, on=["Z", "N"], how="left", validate="one_to_one")
        pred = pd.to_numeric(p["prediction"], errors="raise").to_numpy(dtype=float)
    except (KeyError, ValueError, TypeError):
        refuse("predictions.csv does not give one prediction per nucleus of the run")
    if "split" in p and p["split"].astype(str).tolist() != ds.frame["split"].astype(str).tolist():
        refuse(f"config.json's split {cfg.split!r} with seed {cfg.seed} gives other training and test nuclei than "
               "predictions.csv records (was its split or seed changed?)")
    if not _same(metrics.get("rmse_mev"), _plain(rmse_by_split(pred, ds.y, ds.masks()))):
        refuse("metrics.json's KAN RMSE is not the RMSE of predictions.csv on the run's data")
    _, stage = load_run_stage(rd.path)  # the networks themselves: their RMSE is checked on loading
    X_train = ds.X[ds.mask("train")]
    for m in stage.members:
        what = m.record_agrees(X_train)
        if what is not None:
            refuse(f"a checkpoint's {what} (kan/.../scalers.json) is not what its network gives on the training "
                   "nuclei")
    _check_table(preds, predictions_frame(stage, cfg.uncertainty is not False), refuse)
    counts = {part: int(m.sum()) for part, m in ds.masks().items()}
    if "counts" in metrics and not _same(metrics["counts"], counts):
        refuse(f"metrics.json's counts are not the run's split ({counts['train']} train, {counts['test']} test)")
    wall = metrics.get("wall_time_total_s")
    if wall is not None and (isinstance(wall, bool) or not isinstance(wall, (int, float)) or not 0 <= wall < 1e7):
        refuse(f"metrics.json's wall_time_total_s must be seconds >= 0, got {str(wall)[:20]}")
    section = metrics.get("formula")
    if isinstance(section, dict) and "n_members" in section and section["n_members"] != len(stage.kept):
        refuse(f"metrics.json's formula section says {str(section['n_members'])[:10]} members were searched; the "
               f"ensemble keeps {len(stage.kept)}")
    now = _plain(stage.metrics())
    if cfg.uncertainty is False and isinstance(now.get("ensemble"), dict):
        now["ensemble"].pop("calibration_test", None)  # not recorded for such runs
    for key in ("pruned_width", "ensemble", "members_rmse_test_mev"):
        if not _same(metrics.get(key), now.get(key), 1e-9):
            refuse(f"metrics.json's {key} is not what the networks in kan/ give")
    if metrics.get("dropped_without_model", 0) != ds.dropped:
        refuse(f"metrics.json's dropped_without_model is not the run's ({ds.dropped})")
    stage_wall = metrics.get("wall_time_s")
    if stage_wall is not None and (isinstance(stage_wall, bool) or not isinstance(stage_wall, (int, float))
                                   or not 0 <= stage_wall <= (wall if isinstance(wall, (int, float)) else 1e7)):
        refuse("metrics.json's wall_time_s must be seconds >= 0 within the run's total")
    notes = metrics.get("notes") or {}
    if not isinstance(notes, dict) or not set(notes) <= set(NOTE_STAGES) or not all(
            isinstance(ns, list) and all(isinstance(n, str) and "\n" not in n and "\r" not in n for n in ns)
            for ns in notes.values()):
        refuse(f"metrics.json's notes are not lines of text under the stages {', '.join(NOTE_STAGES)}")
    if "data" in notes and notes["data"] != note_lines(ds.notes):
        refuse("metrics.json's notes on the data are not what the run's selection gives")
    if notes.get("extrapolation") and not (metrics.get("extrapolation") or metrics.get("far_extrapolation")):
        refuse("metrics.json has notes on an extrapolation the run does not hold")
    text = notes_text(notes)
    if not (rd.path / "notes.txt").exists():
        refuse("notes.txt is missing")
    written = read_text_bounded(rd.path / "notes.txt", what="run file")
    if written != text and not (written == "" and text == NO_NOTES):  # runs before 0.2 wrote an empty file
        refuse("notes.txt is not metrics.json's notes")
    _check_loss_curve(rd, stage, refuse)
    if imp is None:
        refuse("importance.csv is missing")
    else:
        mine = stage.importance()
        if list(imp.columns) != list(mine.columns):
            refuse(f"importance.csv's columns {', '.join(map(str, imp.columns))[:80]} are not "
                   f"{', '.join(mine.columns)}")
        if sorted(map(str, imp["feature"])) != sorted(mine["feature"]):
            raise KansymError(f"run {rd.id}: importance.csv lists {', '.join(map(repr, map(str, imp['feature'])))[:100]}, "
                              f"not the run's features {', '.join(map(repr, mine['feature']))}")
        if list(imp["feature"]) != list(mine["feature"]) or not np.allclose(
                imp["importance"].to_numpy(dtype=float), mine["importance"].to_numpy(), rtol=1e-9, atol=1e-12):
            refuse("importance.csv is not the importance of the networks in kan/")
        if "std" in imp and not np.allclose(pd.to_numeric(imp["std"], errors="coerce").to_numpy(dtype=float),
                                            mine["std"].to_numpy(dtype=float), rtol=1e-9, atol=1e-12, equal_nan=True):
            refuse("importance.csv's std is not the networks'")
    if "model_rms_mev" in metrics and "ME_model" in ds.frame:
        model = (ds.frame["ME"] - ds.frame["ME_model"]).to_numpy()
        if not _same(metrics["model_rms_mev"], _plain(rmse_by_split(model, 0 * model, ds.masks()))):
            refuse("metrics.json's model RMS is not the model's RMS on the run's data")
    if "predictive_uncertainty" in metrics or "differential_rms_mev" in metrics:  # runs written since these were recorded
        _check_predictive(metrics, masstable.source_summary(cfg, ds, stage, None, "kan",
                                                            _calibration_rule(metrics, "kan", refuse)), "kan",
                          ("kan", "formula") if (rd.path / "formula.json").exists() else ("kan",), refuse)
    if metrics.get("extrapolation") or metrics.get("far_extrapolation"):
        _check_extrapolation(rd, cfg, stage, metrics, refuse)
    if metrics.get("crosscheck"):
        try:
            same_cc = _same(metrics["crosscheck"], _plain(crosscheck_summary(rd.read_json("crosscheck.json"))), 1e-12)
        except (KeyError, TypeError, IndexError, AttributeError):
            same_cc = False
        if not same_cc:
            refuse("metrics.json's cross-check summary is not crosscheck.json's")
    return stage  # the networks, checked


def _calibration_rule(metrics: dict, source: str, refuse) -> str:
    """The rule the run's predictive uncertainty of ``source`` was calibrated by (absent: kansym-1, the first)."""
    section = (metrics.get("predictive_uncertainty") or {}).get(source) if \
        isinstance(metrics.get("predictive_uncertainty"), dict) else None
    rule = section.get("rule", "kansym-1") if isinstance(section, dict) else masstable.RULE
    if rule not in masstable.RULES:
        refuse(f"metrics.json's predictive_uncertainty rule {str(rule)[:40]!r} is not one of {', '.join(masstable.RULES)}")
    return rule


def _check_predictive(metrics: dict, computed: tuple[dict, dict], source: str, sources, refuse) -> None:
    """metrics.json's predictive uncertainty and differential RMS of ``source`` equal to ``computed``, and the
    sections listing exactly ``sources``."""
    for key, value in zip(("predictive_uncertainty", "differential_rms_mev"), computed):
        section = metrics.get(key)
        if not isinstance(section, dict) or sorted(section) != sorted(sources):
            refuse(f"metrics.json's {key} must give {' and '.join(sources)}")
        if not _same(_plain(section[source]), _plain(value), 1e-9):
            refuse(f"metrics.json's {key} of the {source} is not what the run's {'networks' if source == 'kan' else 'formula'} give")


def _check_table(recorded: pd.DataFrame, computed: pd.DataFrame, refuse, what: str = "predictions.csv") -> None:
    """A table of the run (predictions.csv, extrapolation.csv) must be what the networks give, column for column."""
    if list(recorded.columns) != list(computed.columns) or len(recorded) != len(computed):
        refuse(f"{what} has columns {', '.join(map(str, recorded.columns))[:120]} and {len(recorded)} rows; the "
               f"run's networks give {', '.join(computed.columns)[:120]} and {len(computed)} rows")
    for col in computed.columns:
        a, b = recorded[col], computed[col].reset_index(drop=True)
        if b.dtype.kind in "fi":
            ok = np.allclose(pd.to_numeric(a, errors="coerce").to_numpy(dtype=float), b.to_numpy(dtype=float),
                             rtol=1e-9, atol=1e-9, equal_nan=True)
        else:
            ok = a.astype(str).tolist() == b.astype(str).tolist()
        if not ok:
            refuse(f"{what}'s {col} column is not what the run's networks give")


def _check_extrapolation(rd: RunDir, cfg: DiscoverConfig, stage, metrics: dict, refuse) -> None:
    """extrapolation.json recomputed from the run's networks and formula with the options config.json records
    (chains, steps, references), and metrics.json's extrapolation and far-check summaries equal to it."""
    opts = rd.config.get("extrapolation_options") or {}
    unknown = sorted(set(opts) - EXTRAPOLATION_OPTIONS)
    if unknown:
        refuse(f"config.json's extrapolation_options hold {', '.join(map(repr, unknown))[:120]}, not an option of "
               f"`kansym extrapolate` (they are {', '.join(sorted(EXTRAPOLATION_OPTIONS))})")
    formula = run_formula(rd, cfg.features)  # a broken formula.json says so itself
    try:
        chains = tuple(cfg.chains or ())
        now = extrapolate(cfg, stage, formula, chains, opts.get("beyond", 10),
                          tuple(opts.get("against", ("frdm12", "ws4"))), opts.get("both_sides", False) is True,
                          tuple(opts.get("isotones", ())), run_id=rd.id)
    except KansymError as exc:
        refuse(f"its extrapolation cannot be recomputed with the options config.json records ({exc})")
    except (KeyError, TypeError, ValueError, AttributeError):
        refuse("config.json's extrapolation options are not ones `kansym extrapolate` accepts")
    if not (rd.path / "extrapolation.csv").exists():
        refuse("extrapolation.csv is missing beside extrapolation.json (the two are written together)")
    _check_table(rd.read_csv("extrapolation.csv"), now.surface, refuse, "extrapolation.csv")
    report = _plain(rd.read_json("extrapolation.json"))
    computed = _plain({**now.report, "run_id": report.get("run_id")})
    if "drip_lines" not in report:  # written before drip lines were recorded
        computed.pop("drip_lines", None)
    if not _same(report, computed, 1e-9):
        refuse("extrapolation.json is not what the run's networks and formula give")
    if ((metrics.get("notes") or {}).get("extrapolation") or []) != note_lines(now.report.get("notes") or []):
        refuse("metrics.json's notes on the extrapolation are not what the run's networks and formula give")
    summary = _plain(extrapolation_summary(now.report))
    if "drip_lines" not in (metrics.get("extrapolation") or {}):  # written before drip lines were recorded
        summary["extrapolation"].pop("drip_lines", None)
    for key in ("extrapolation", "far_extrapolation"):
        if not _same(_plain(metrics.get(key)), summary[key], 1e-9):
            refuse(f"metrics.json's {key} summary is not what the run's networks and formula give")


def check_formula_record(rd: RunDir, cfg: DiscoverConfig, ds, formula: Formula, entry: dict, metrics: dict,
                         judge=None) -> None:
    """formula.json's numbers recomputed (:func:`verified_metrics`), and metrics.json's formula section equal to
    formula.json's record wherever both give a field (the two are written together)."""
    verified_metrics(formula, cfg, ds, entry.get("metrics"), rd.id, judge)
    context = entry_context(entry, cfg, rd.id)  # target, model, selection, ... as config.json says (export too)
    if not (rd.path / "formula.tex").exists():
        raise KansymError(f"run {rd.id}: formula.tex is missing beside formula.json (the two are written together)")
    want = export.formula_tex(formula, TARGET_KINDS[cfg.target].symbol, entry.get("metrics") or {},
                              label=context["run_id"], context=context, notation=export.entry_notation(entry))
    if read_text_bounded(rd.path / "formula.tex", what="run file") != want:
        raise KansymError(f"run {rd.id}: formula.tex is not what formula.json gives; the run's files were edited "
                          "or do not belong together")
    if "units" in entry and entry["units"] != export.formula_entry(formula, {}, {})["units"]:
        raise KansymError(f"run {rd.id}: formula.json's units are not kansym's (MeV); the run's files were edited or "
                          "do not belong together")
    section, record = metrics.get("formula"), entry.get("metrics")
    if isinstance(section, dict) and isinstance(record, dict):
        if set(section) != set(record):
            raise KansymError(f"run {rd.id}: metrics.json and formula.json record different fields of the formula; "
                              "the run's files were edited or do not belong together")
        off = [k for k in section if not _same(section[k], record[k], 1e-12)]
        if off:
            raise KansymError(f"run {rd.id}: metrics.json and formula.json record different {off[0]}; the run's "
                              "files were edited or do not belong together")
    rows = entry.get("parameters")
    if isinstance(rows, list):
        mine = export.parameter_rows(formula, init=False)
        if len(rows) != len(mine) or not all(isinstance(r, dict) and _same({k: r.get(k) for k in m}, _plain(m), 1e-6)
                                             and set(r) <= {*m, "init"} for r, m in zip(rows, mine)):
            raise KansymError(f"run {rd.id}: formula.json's parameter table (values, errors, shorthand, units, flags) "
                              "is not the formula's; the run's files were edited or do not belong together")
    if isinstance(record, dict):
        _check_search_record(rd, record, entry)
        name = str(record.get("candidate", ""))
        if formula.n_constants > cfg.max_constants or (name and not _made_by(name, cfg)):
            raise KansymError(f"run {rd.id}: config.json's max_constants {cfg.max_constants} and lib {cfg.lib!r} "
                              f"could not have chosen candidate {name[:40]!r} of {formula.n_constants} constants; "
                              "the run's files were edited or do not belong together")
    if "predictive_uncertainty" in metrics or "differential_rms_mev" in metrics:
        rule = _calibration_rule(metrics, "formula", _refuser(rd))
        _check_predictive(metrics, masstable.source_summary(cfg, ds, None, formula, "formula", rule), "formula",
                          ("kan", "formula"), _refuser(rd))


def _made_by(name: str, cfg: DiscoverConfig) -> bool:
    """Whether the run's search could have named a candidate ``name``: from a library of ``lib``, or of the
    power-law, shell-term or mode route where the run has it."""
    names = feat.feature_names(cfg.features)
    return any(name == lib or name.startswith(lib + "-") for lib in cfg.libraries) or \
        (name.startswith("powers-") and power_route(cfg, names)) or \
        (name.startswith("shells-") and shell_route(cfg, names)) or (name.startswith("modes-") and mode_route(cfg, names))


def _check_search_record(rd: RunDir, record: dict, entry: dict) -> None:
    """What only the search knows (the structure's members, the structure counts, its agreement with the network
    and its training RMSE before the refit, the refit's starting values) must be candidates.csv's and
    candidates.json's record of the chosen structure (the formula's own numbers, its size and degenerate pairs
    included, are recomputed by :func:`verified_metrics`)."""
    refuse = _refuser(rd)
    try:
        table = rd.read_csv("candidates.csv")
        row = table[table["chosen"].astype(str) == "True"]
        chosen = row.iloc[0] if len(row) == 1 else None
        listed = {
            "candidate": None if chosen is None else str(chosen["name"]),
            "route": None if chosen is None else str(chosen["route"]),
            "members": None if chosen is None else [int(m) for m in str(chosen["members"]).split()],
            "n_structures": len(table),
            "n_eligible": int((table["eligible"].astype(str) == "True").sum()),
            "kan_agreement_mev": None if chosen is None else float(chosen["kan_agreement_mev"]),
        }
    except (KeyError, ValueError, TypeError):
        refuse("candidates.csv does not list the search's structures with the chosen one marked")
    for key, value in listed.items():
        if key in record and not _same(record[key], _plain(value), 1e-9):
            refuse(f"formula.json's {key} is not candidates.csv's record of the chosen structure")
    before = record.get("rmse_before_refit_mev")
    if chosen is not None and isinstance(before, dict) and not _same(
            before.get("train"), _plain(float(chosen["rmse_train_before_refit_mev"])), 1e-9):
        refuse("formula.json's rmse_before_refit_mev is not candidates.csv's record of the chosen structure")
    if chosen is not None and isinstance(entry.get("parameters"), list) and (rd.path / "candidates.json").exists():
        start = _starting_values(rd, int(row.index[0]))
        if any(isinstance(p, dict) and "init" in p and not _same(p["init"], start.get(p.get("name")), 1e-12)
               for p in entry["parameters"]):
            refuse("formula.json's starting values of the refit (init) are not candidates.json's record of the "
                   "chosen structure")


def _starting_values(rd: RunDir, k: int) -> dict:
    """{constant: its refit's starting value} of candidates.json's ``k``-th candidate ({} where it has none)."""
    listed = rd.read_json("candidates.json").get("candidates")
    entry = listed[k] if isinstance(listed, list) and k < len(listed) else None
    params = entry.get("parameters") if isinstance(entry, dict) else None
    return {p.get("name"): p.get("init") for p in params if isinstance(p, dict)} if isinstance(params, list) else {}


METRICS_FIELDS = ("target", "n_nuclei", "dropped_without_model", "rmse_mev", "counts", "pruned_width", "wall_time_s",
                  "members_rmse_test_mev", "ensemble", "model_rms_mev", "formula", "predictive_uncertainty",
                  "differential_rms_mev", "crosscheck", "extrapolation", "far_extrapolation", "wall_time_total_s",
                  "notes")
"""The fields kansym writes into a run's ``metrics.json``."""
FORMULA_FIELDS = ("format", "srepr", "latex", "text", "variables", "parameters", "correlations", "units",
                  "n_constants", "metrics", "run_id", "target", "model", "selection", "features", "split", "seed",
                  "trainer", "kansym_version", "data_sha256", "notation")
"""The fields kansym writes into a run's ``formula.json``."""


CONFIG_FIELDS = frozenset({f.name for f in fields(DiscoverConfig)} | set(RECORD_EXTRAS))
"""The fields of a run's ``config.json``: the options (older formats' ``detrend`` among them) and the records
beside them."""


def known_fields(config: dict, metrics: dict, formula: dict | None) -> tuple[dict, dict]:
    """(config, metrics and formula entry reduced to the fields kansym writes and checks, {file: names of the
    fields left out}): what ``show --json`` stands behind."""
    known = {"config.json": CONFIG_FIELDS,
             "metrics.json": set(METRICS_FIELDS), "formula.json": set(FORMULA_FIELDS)}
    kept, left = {}, {}
    for name, record in (("config.json", config), ("metrics.json", metrics), ("formula.json", formula)):
        if not isinstance(record, dict):
            kept[name] = record
            continue
        kept[name] = {k: v for k, v in record.items() if k in known[name]}
        extra = sorted(str(k)[:60] for k in record if k not in known[name])
        if extra:
            left[name] = extra[:20]
    return kept, left


def _check_validation(table: pd.DataFrame, formulas, cfg: DiscoverConfig, ds, seeds, disagree: bool,
                      refuse) -> None:
    """candidates.csv's columns are kansym's; every row's members are networks of the run; the validation scores
    of every validated structure (cross-validation, its spread, extrapolation validation and their quadratic mean)
    recomputed from its formula; the Pareto flags recomputed from the rows' constants, training RMSE and far
    departure (the far verdict and departure themselves: :func:`check_candidates`). Members that share no
    structure (``disagree``) leave every structure unvalidated."""
    if tuple(table.columns) != FormulaSearch.COLUMNS:
        refuse(f"candidates.csv's columns are not kansym's ({', '.join(FormulaSearch.COLUMNS)})")
    train = ds.mask("train")
    folds = S.fold_indices(np.flatnonzero(train), cfg.cv_folds, cfg.seed)
    edge_rows = S.edge_mask(ds.frame, train)
    scores = ("cv_rmse_mev", "cv_spread_mev", "edge_rmse_mev", "score_mev")
    try:
        for k, (f, (_, row)) in enumerate(zip(formulas, table.iterrows())):
            given = [not math.isnan(float(pd.to_numeric(row[c], errors="coerce"))) for c in scores]
            if any(given) != all(given) or (str(row["eligible"]) == "True" and not all(given) and not disagree):
                refuse(f"candidates.csv's row {k} ({str(row['name'])[:40]}) gives some validation scores and not "
                       "others, or none for an eligible structure (a validated structure has all four)")
            if seeds is not None and not {int(m) for m in str(row["members"]).split()} <= set(seeds):
                refuse(f"candidates.csv's row {k} lists members {str(row['members'])[:40]!r}, not networks of the run "
                       f"(seeds {' '.join(map(str, seeds))})")
            if not all(given):
                continue  # not validated (the rule refused it before)
            now_cv, now_spread = S.cross_validate(f, ds.X, ds.y, folds, ds.w)
            now_edge = S.edge_validate(f, ds.X, ds.y, train, edge_rows, ds.w)
            now = (now_cv, now_spread, now_edge, float(np.sqrt((now_cv ** 2 + now_edge ** 2) / 2)))
            rec = tuple(float(row[c]) for c in scores)
            if not all(_same(a, b, 1e-7) for a, b in zip(rec, now)):
                refuse(f"candidates.csv's row {k} ({str(row['name'])[:40]}) does not give the validation scores its "
                       "formula has")
        far = pd.to_numeric(table["far_departure_mev"], errors="raise").to_numpy(dtype=float)
        keys = np.column_stack([pd.to_numeric(table["n_constants"], errors="raise").to_numpy(dtype=float),
                                pd.to_numeric(table["rmse_train_mev"], errors="raise").to_numpy(dtype=float),
                                np.where(np.isfinite(far), far, np.inf)])
        front = pareto_mask(keys, (table["sane"].astype(str) == "True").to_numpy())
        if list(front) != list(table["pareto"].astype(str) == "True"):
            refuse("candidates.csv's Pareto flags are not the Pareto set of its rows (constants, training RMSE, far "
                   "departure among those passing the far check)")
    except KansymError:
        raise  # a refusal above, with its own reason
    except (KeyError, ValueError, TypeError):
        refuse("candidates.csv's members, validation scores or Pareto flags are not numbers and flags")


def check_candidates(rd: RunDir, ds, judge=None, cfg: DiscoverConfig | None = None, seeds=None) -> tuple | None:
    """The formulas of the run's ``candidates.json`` (None for a run written before kansym kept them), each the
    structure candidates.csv lists in its row: name, route, expression, constants and size, its RMSE per split
    recomputed on the run's data, its standard errors and correlations on the training nuclei and (with the run's
    far-extrapolation ``judge``) its far-check verdict and departure beyond AME2020. The cross-validation and
    extrapolation-validation scores of every validated structure, the members and the Pareto flags with the run's
    ``cfg`` and network ``seeds`` (:func:`_check_validation`)."""
    if not (rd.path / "candidates.json").exists():
        return None
    refuse = _refuser(rd)
    formulas = recorded_candidates(rd.read_json("candidates.json"), ds.feature_names, f"run {rd.id}: candidates.json")
    entries = rd.read_json("candidates.json")["candidates"]
    table = rd.read_csv("candidates.csv")
    need = ("name", "route", "expression", "n_constants", "size", "rmse_train_mev", "rmse_test_mev", "rmse_all_mev")
    if len(table) != len(formulas) or any(c not in table for c in need):
        refuse("candidates.json and candidates.csv list different structures")
    masks, train = ds.masks(), ds.mask("train")
    far_failures = []
    for k, (f, e) in enumerate(zip(formulas, entries)):
        row = table.iloc[k]
        listed = {"name": str(row["name"]), "route": str(row["route"]), "expression": str(row["expression"]),
                  "n_constants": int(row["n_constants"]), "size": int(row["size"])}
        if listed != {"name": e.get("name"), "route": e.get("route"), "expression": str(f.expr),
                      "n_constants": f.n_constants, "size": f.size}:
            refuse(f"candidates.json's candidate {k} is not candidates.csv's row {k}")
        now = rmse_by_split(f.predict(ds.X), ds.y, masks)
        if not all(_same(float(row[f"rmse_{p}_mev"]), now[p]) for p in ("train", "test", "all")):
            refuse(f"candidate {k} ({listed['name'][:40]}) does not give the RMSE candidates.csv records")
        sig = S.significance(f)
        shown = {"constants": constants_text(f), "n_members": len(str(row.get("members", "")).split()),
                 "min_significance": float(sig.min()) if len(sig) else float("nan"),
                 "max_abs_correlation": f.max_abs_correlation}
        try:
            listed_constants = "" if pd.isna(row["constants"]) else str(row["constants"])  # "" is read back as NaN
            same_row = listed_constants == shown["constants"] and int(row["n_members"]) == shown["n_members"] \
                and all(_same(float(row[c]), shown[c], 1e-6) for c in ("min_significance", "max_abs_correlation"))
        except (KeyError, TypeError, ValueError):
            same_row = False
        if not same_row:
            refuse(f"candidates.csv's row {k} ({listed['name'][:40]}) does not give its constants, their significance, "
                   "largest correlation or member count as candidates.json's formula has them")
        err, corr = _settled(*uncertainties_at(f, ds.X[train], ds.y[train], None if ds.w is None else ds.w[train]))
        rec_err, rec_corr = _settled([p.stderr for p in f.parameters], f.correlations or None)
        if not _same(rec_err, err, 1e-4) or (f.correlations and not _same(rec_corr, corr, 1e-4)):
            refuse(f"candidates.json records errors or correlations of candidate {k} ({listed['name'][:40]}) that "
                   "its constants on the training nuclei do not give")
        if judge is not None and "sane" in table and "far_departure_mev" in table:
            far = judge(f)
            if str(row["sane"]) != str(bool(far.passed)) or \
                    not _same(float(pd.to_numeric(row["far_departure_mev"], errors="coerce")), float(far.departure_rms)):
                refuse(f"candidates.csv's row {k} ({listed['name'][:40]}) does not give the far-extrapolation verdict "
                       "or departure its formula has")
            far_failures.append(far.failures())
    if cfg is not None:
        disagree = _disagree(table, seeds)  # then no structure was validated
        _check_validation(table, formulas, cfg, ds, seeds, disagree, refuse)
        _check_failures(table, formulas, cfg, far_failures if judge is not None else None, disagree,
                        (rd.metrics.get("notes") or {}).get("symbolic") or [], refuse)
    return formulas


def _disagree(table: pd.DataFrame, seeds) -> bool:
    """Whether the members of an ensemble share no structure (the search then validates none and chooses none)."""
    try:
        return seeds is not None and len(seeds) > 1 and all(len(str(m).split()) < 2 for m in table["members"])
    except (KeyError, TypeError):
        return False


def _check_failures(table: pd.DataFrame, formulas, cfg: DiscoverConfig, far_failures, disagree: bool, notes,
                    refuse) -> None:
    """candidates.csv's failures (and eligible and chosen flags) are the search's: each row's screening failures
    recomputed from its checked formula, far verdict and departure (with ``far_failures``, the far check's own
    sentences too); a row that passed them was validated, or not validated because its training RMSE exceeds the
    best score met before it by more than the rule's margin (recomputed, in the search's order), or because the
    budget ran out (from then on, as the symbolic ``notes`` say); a validated one may only have failed its refits or
    the bootstrap. When the members share no structure (``disagree``) none is validated."""
    departure_max = TARGET_KINDS[cfg.target].departure_max
    lists, passed = [], []
    try:
        for k, (f, (_, row)) in enumerate(zip(formulas, table.iterrows())):
            text = "" if pd.isna(row["failures"]) else str(row["failures"])
            recorded = text.split(" | ") if text else []
            screened = list(S.screen_failures(f, str(row["sane"]) == "True", float(row["far_departure_mev"]),
                                              cfg.max_constants, departure_max))
            far = [] if far_failures is None else far_failures[k]
            if screened and (recorded != screened + far if far_failures is not None
                             else recorded[:len(screened)] != screened):
                refuse(f"candidates.csv's row {k} ({str(row['name'])[:40]}) does not give the failures its formula "
                       f"has ({' | '.join(screened + far)[:120]!r})")
            if (str(row["eligible"]) == "True") != (not recorded) or (str(row["chosen"]) == "True" and recorded):
                refuse(f"candidates.csv's row {k} ({str(row['name'])[:40]}) is flagged eligible or chosen against its "
                       "failures")
            lists.append(recorded)
            if not screened:
                passed.append(k)
        if disagree:
            if any(lists[k] or not math.isnan(float(pd.to_numeric(table.iloc[k]["score_mev"], errors="coerce")))
                   for k in passed):
                refuse("candidates.csv records validations although the members share no structure")
            return
        best, ran_out = math.inf, False
        order = sorted(passed, key=lambda k: (float(table.iloc[k]["rmse_train_mev"]), k))
        for k in order:
            row, recorded = table.iloc[k], lists[k]
            validated = not math.isnan(float(pd.to_numeric(row["score_mev"], errors="coerce")))
            if ran_out or recorded == [S.NOT_VALIDATED_BUDGET]:  # the deadline, once past, stops every later one
                if recorded != [S.NOT_VALIDATED_BUDGET] or validated:
                    refuse(f"candidates.csv's row {k} ({str(row['name'])[:40]}) records failures "
                           f"({' | '.join(recorded)[:80]!r}) after the search budget ran out")
                ran_out = True
                continue
            skipped = float(row["rmse_train_mev"]) > S.SKIP_ABOVE * best
            ok = (recorded == [S.NOT_VALIDATED_SKIPPED] and not validated) if skipped else validated \
                and (recorded in ([], [S.VALIDATION_FAILED], [S.BOOTSTRAP_FAILED])
                     or (len(recorded) == 1 and recorded[0].startswith("constants not determined: ")
                         and "(bootstrap)" in recorded[0]))
            if not ok:
                refuse(f"candidates.csv's row {k} ({str(row['name'])[:40]}) records failures "
                       f"({' | '.join(recorded)[:80]!r}) the search's validation does not give it")
            if recorded != [S.VALIDATION_FAILED] and math.isfinite(float(row["score_mev"])):
                best = min(best, float(row["score_mev"]))
        skipped = sum(1 for recorded in lists if recorded == [S.NOT_VALIDATED_BUDGET])
        said = [n for n in notes if isinstance(n, str) and n.startswith(S.validation_budget_note(0).split(":")[0])]
        if said != ([S.validation_budget_note(skipped)] if skipped else []):
            refuse(f"candidates.csv lists {skipped} structure(s) left unvalidated by the search budget; the run's "
                   "notes do not say so")
    except KansymError:
        raise  # a refusal above, with its own reason
    except (KeyError, ValueError, TypeError, IndexError):
        refuse("candidates.csv's failures, eligible and chosen flags are not text and flags")


SINGULAR_CORRELATION = 1 - 1e-6
"""A pair correlated beyond this is numerically singular: whether rounding leaves its errors finite (and huge) or
undetermined differs between two computations of the same covariance, so a check counts both as undetermined."""


def _settled(err, corr) -> tuple[list, list | None]:
    """Standard errors (None where undetermined) and correlations (NaN there) with every constant of a numerically
    singular pair (:data:`SINGULAR_CORRELATION`) counted as undetermined: what two computations agree on."""
    err = [None if e is None or not math.isfinite(e) else float(e) for e in err]
    if corr is None or not err:
        return err, None if corr is None else []
    c = np.array(corr, dtype=float).reshape(len(err), len(err))
    off = np.abs(np.where(np.eye(len(c), dtype=bool), 0.0, c))
    singular = np.nan_to_num(off, nan=0.0).max(axis=1, initial=0.0) > SINGULAR_CORRELATION
    bad = singular | np.array([e is None for e in err], dtype=bool)
    c[bad, :] = np.nan
    c[:, bad] = np.nan
    return [None if b else e for e, b in zip(err, bad)], c.tolist()


def _producers(rd: RunDir) -> set[str]:
    """The seeds of the member networks candidates.csv lists as producing a structure."""
    return {s for m in rd.read_csv("candidates.csv").get("members", pd.Series(dtype=str)).astype(str)
            for s in m.split()}


def check_edges(rd: RunDir, cfg: DiscoverConfig, ds, stage) -> None:
    """``edges.csv`` must be the edge fits of a network the symbolic stage read: a member candidates.csv lists, its
    ``cfg.symbolic_from`` snapshot's edges fitted again on the training nuclei as one of the search's variants (the
    first library first). An edited coarse network of that member, or an edited edges.csv, is refused."""
    if not (rd.path / "edges.csv").exists() or not (rd.path / "candidates.csv").exists():
        return
    refuse = _refuser(rd)
    listed = _producers(rd)
    members = [m for m in stage.kept if str(m.seed) in listed]
    if not members:
        refuse("candidates.csv names no member network of the run")
    recorded = rd.read_csv("edges.csv")
    text = ("in", "function", "alternatives")

    def same(now: pd.DataFrame) -> bool:
        """Row by row; an edge the record shows as 0 where the fit has a function is one the search pruned: its
        fit's alternatives must still be the record's (its constants are the pruned candidate's)."""
        if list(recorded.columns) != list(now.columns) or len(recorded) != len(now):
            return False
        for (_, a), (_, b) in zip(recorded.iterrows(), now.iterrows()):
            pruned = str(a["function"]) == "0" and str(b["function"]) != "0"
            keys = ("layer", "in", "out", "alternatives") if pruned else tuple(now.columns)
            for c in keys:
                if c in text:
                    if ("" if pd.isna(a[c]) else str(a[c])) != ("" if pd.isna(b[c]) else str(b[c])):
                        return False
                elif not _same(float(pd.to_numeric(a[c], errors="coerce")), float(b[c]), 1e-7):
                    return False
        return True

    X_train = ds.X[ds.mask("train")]
    for member in members:
        for _, net in variant_networks(member, cfg, X_train, {}):
            if same(edges_frame(net, ds.feature_names)):
                return
    refuse("edges.csv is not the edge fits of a network the symbolic stage read (kan/, "
           f"{cfg.symbolic_from} snapshot)")


def _check_crosscheck_rows(rep: dict, cfg: DiscoverConfig, ds, formula, judge, refuse) -> None:
    """Every number of a cross-check report that its formulas give, recomputed: each formula's far check (verdict,
    failures, deviations beyond AME2020), each refitted engine formula's RMS departure from the run's formula on
    the extrapolation nuclei and that of the selected one, their count; only fields a report has; the engine's own
    numbers (its expression, complexity and loss, which only a new search reproduces) of the right kind."""
    far_keys = re.compile(r"far_(rms|max)_vs_[a-z0-9]{1,20}_beyond_mev")
    extra = sorted(set(rep) - REPORT_FIELDS) + sorted(
        {k for r in rep["rows"] for k in r if k not in ROW_FIELDS and not far_keys.fullmatch(str(k))})
    if extra:
        refuse(f"crosscheck.json holds {', '.join(map(repr, extra[:3]))[:80]}, not a field of a cross-check report")
    ex = extrapolation_set(ds.frame[["Z", "N"]], 10)
    extrap_X = feat.features(ex["Z"], ex["N"], cfg.features).to_numpy()
    kan_ex = formula.evaluate(extrap_X)
    if rep["n_extrapolation_nuclei"] != len(extrap_X):
        refuse("crosscheck.json's count of extrapolation nuclei is not the run's")
    for k, r in enumerate(rep["rows"]):
        F = formula if k == 0 else (export.formula_from_entry(r["refitted"]).for_columns(ds.feature_names)
                                    if r.get("refitted") is not None else None)
        if k > 0:
            c, loss, text = r.get("engine_complexity"), r.get("engine_loss_mev2"), r.get("engine_expression")
            if not (type(c) is int and 1 <= c <= 100_000 and isinstance(loss, (int, float)) and not isinstance(loss, bool)
                    and (math.isnan(loss) or loss >= 0) and isinstance(text, str) and len(text) <= 100_000):
                refuse(f"crosscheck.json's row {k} records an engine formula that is not one (expression, whole "
                       "complexity, loss >= 0)")
        if F is None:
            continue
        now = _plain(far_fields(judge, F)) if judge is not None else {}
        if k > 0:
            ex_now = F.evaluate(extrap_X)
            now["extrapolation_rms_vs_kan_mev"] = rms(ex_now - kan_ex) if np.isfinite(ex_now).all() else float("inf")
            if r.get("selected") is True and not _same(rep.get("extrapolation_rms_difference_mev"),
                                                       _plain(rms(ex_now - kan_ex)), 1e-9):
                refuse("crosscheck.json's RMS difference beyond the data is not that of the two formulas it compares")
        recorded = {key: _plain(r.get(key)) for key in now}
        if not _same(recorded, _plain(now), 1e-9) or any(far_keys.fullmatch(str(key)) and key not in now for key in r):
            refuse(f"crosscheck.json's row {k} does not give the far check or extrapolation its formula has")


def check_crosscheck(rd: RunDir, ds, formula, cfg: DiscoverConfig | None = None, judge=None) -> None:
    """``crosscheck.json`` must agree with itself and with the run: its kansym row is the run's formula (expression,
    constants, size, RMSE recomputed), its engine's selected row is the one the selection rule picks from the rows'
    recorded RMSE and far verdicts, its equivalence flags follow from its RMS difference and tolerance, and its
    wall time and search settings are possible ones; with the run's ``cfg`` and far ``judge``, every number its
    formulas give (:func:`_check_crosscheck_rows`)."""
    if not (rd.path / "crosscheck.json").exists():
        return
    refuse = _refuser(rd)
    rep = rd.read_json("crosscheck.json")
    if not isinstance(rep, dict) or rep.get("tex_layout") not in TEX_LAYOUTS_READ:
        raise KansymError(f"run {rd.id}: crosscheck.json is not a report of this kansym version (tex_layout "
                          f"{TEX_LAYOUT}), so its rows cannot all be checked: run `kansym crosscheck RUN` to make it "
                          "again")
    try:
        same_tex = read_text_bounded(rd.path / "crosscheck.tex", what="run file") == crosscheck_tex(rep)
    except FileNotFoundError:
        same_tex = False
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        same_tex = False
    if not same_tex:
        refuse("crosscheck.tex is missing or not what crosscheck.json gives")
    try:
        rows = rep["rows"]
        kan = rows[0]
        if formula is None or kan["engine"] != "kansym" or kan["expression"] != str(formula.expr) or \
                kan["n_constants"] != formula.n_constants or kan["size"] != formula.size or \
                not _same(kan["rmse_mev"], rmse_by_split(formula.predict(ds.X), ds.y, ds.masks())):
            refuse("crosscheck.json's kansym row is not the run's formula on the run's data")
        engine = [(k, r) for k, r in enumerate(rows) if k > 0]
        refitted = [(k, r) for k, r in engine if r.get("expression") is not None]
        layout = rep["tex_layout"]
        if any(kan.get(key) != v for key, v in shown_numbers(formula, layout).items()):
            refuse("crosscheck.json's kansym row does not show the run's formula")
        for k, r in engine:  # a row whose refit failed holds the engine's formula and the reason, no numbers of its own
            if r.get("expression") is None and not (
                    set(r) == FAILED_ROW_FIELDS and r["n_constants"] is None and r["size"] is None
                    and r["selected"] is False and isinstance(r["refit_failed"], str) and r["refit_failed"].strip()
                    and _same(r["rmse_mev"], {key: float("nan") for key in ds.masks()})):
                refuse(f"crosscheck.json's row {k} has no refitted formula but is not a row whose refit failed "
                       "(the reason, no constants, size or RMSE)")
        for k, r in refitted:  # each refitted formula is in its row: its numbers recomputed
            F = export.formula_from_entry(r["refitted"]).for_columns(ds.feature_names)
            if r["n_constants"] != F.n_constants or r["size"] != F.size or r["expression"] != str(F.expr) \
                    or any(r.get(key) != v for key, v in shown_numbers(F, layout).items()) \
                    or not _same(r["rmse_mev"], rmse_by_split(F.evaluate(ds.X), ds.y, ds.masks())):
                refuse(f"crosscheck.json's row {k} is not what its refitted formula gives on the run's data")
            if r["selected"] is True and not _same(rep["equivalence"]["rms_difference_mev"],
                                                   rms(formula.evaluate(ds.X) - F.evaluate(ds.X))):
                refuse("crosscheck.json's RMS difference is not that of the two formulas it compares")
        picked = [k for k, r in engine if r["selected"] is True]
        if refitted:
            sane = {k: r.get("far_passed", True) is True for k, r in refitted}
            rule = min((k for k, _ in refitted), key=lambda k: (not (sane[k] or not any(sane.values())),
                                                               float(rows[k]["rmse_mev"]["train"]), k))
            if picked != [rule]:
                refuse("crosscheck.json's selected engine formula is not the one its rows' RMSE and far verdicts "
                       "select")
            eq = rep["equivalence"]
            diff, tol = float(eq["rms_difference_mev"]), float(eq["tolerance_mev"])
            if not (math.isfinite(diff) and diff >= 0 and tol == 0.1 and eq["numerical"] is (diff <= tol)
                    and isinstance(eq["symbolic"], bool) and (eq["numerical"] or not eq["symbolic"])):
                refuse("crosscheck.json's equivalence flags do not follow from its RMS difference and tolerance")
        elif picked:
            refuse("crosscheck.json selects an engine formula that was not refitted")
        wall, gens, budget = rep["engine_wall_s"], rep.get("generations"), rep.get("time_budget_s")
        if not (isinstance(wall, (int, float)) and not isinstance(wall, bool) and math.isfinite(wall) and wall >= 0) \
                or not (gens is None or (type(gens) is int and 1 <= gens <= 1_000_000)) \
                or not (budget is None or (isinstance(budget, (int, float)) and not isinstance(budget, bool)
                                           and math.isfinite(budget) and budget > 0)):
            refuse("crosscheck.json records an impossible wall time, generation count or time budget")
        if cfg is not None:
            _check_crosscheck_rows(rep, cfg, ds, formula, judge, refuse)
    except KansymError:
        raise  # a refusal above, with its own reason
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        refuse("crosscheck.json lacks a field a cross-check report has, or holds one of the wrong type")


def _check_idle_settings(cfg: DiscoverConfig, metrics: dict, refuse) -> None:
    """A search budget that ran out is config.json's (the notes give the seconds each member had: 70 % of the
    budget over the rounds). (Settings that have no effect where they are set, such as the aggregate of one network
    or the weight floor without weights, are refused by :meth:`DiscoverConfig.resolved`.)"""
    notes = " ".join(n for ns in (metrics.get("notes") or {}).values() if isinstance(ns, list) for n in ns
                     if isinstance(n, str))
    member = 0.7 * float(cfg.search_budget)
    possible = {round(member / r) for r in range(1, int(cfg.ensemble) + 1)}
    said = [int(s) for s in re.findall(r"the search budget \((\d+) s for this member\) ran out", notes)]
    said_build = [int(s) for s in re.findall(r"building candidates ran out of its (\d+) s", notes)]
    if any(s not in possible for s in said) or any(
            s not in {round(S.GENERATE_SHARE * member / r) for r in range(1, int(cfg.ensemble) + 1)} for s in said_build):
        refuse(f"the run's notes give each member a search budget that config.json's search_budget {cfg.search_budget:g} "
               "s does not")


def _check_run_ids(rd: RunDir, refuse) -> None:
    """formula.json, crosscheck.json and extrapolation.json record one run id, the one the run was written under
    (stage reruns keep it): the folder's name, or, for a renamed folder, a printable name without slashes (kansym's
    ids and the user's own folder names). (Reruns of kansym 0.2.0 before this rule recorded the folder's name: a report may carry
    it where that name is not of kansym's form, i.e. the folder was given a name of the user's own.)"""
    ids = rd.recorded_ids
    if not ids:
        return
    (first, rid), *others = ids.items()
    for name, other in others:
        if other != rid and not (other == rd.id and not RUN_ID.fullmatch(rd.id)):
            refuse(f"{name}'s run_id {str(other)[:60]!r} is not {first}'s {str(rid)[:60]!r}: one of the two files was "
                   "edited or comes from another run")
    if rid != rd.id and not (isinstance(rid, str) and SAFE_ID.fullmatch(rid)):
        refuse(f"{first}'s run_id {str(rid)[:60]!r} is neither the run's folder name nor a printable name without "
               "slashes")


def check_settings(rd: RunDir, cfg: DiscoverConfig, metrics: dict) -> None:
    """config.json's settings of the later stages must be the ones the run's files were made with: no symbolic files
    for ``stage`` kan; every candidate from a library of ``lib``, refused for exceeding ``max_constants`` exactly when
    it has more, expanded only with ``expand``; the poorly fitted edges judged against ``r2_min``; the cross-check made
    with config.json's engine, budget and generations (a rerun of a stage records its settings there)."""
    refuse = _refuser(rd)
    config = rd.config
    unknown = sorted(str(k)[:40] for k in config if k not in CONFIG_FIELDS)
    if unknown:
        refuse(f"config.json holds {', '.join(map(repr, unknown[:3]))}, not a field kansym {__version__} writes "
               f"(config.json says kansym {str(config.get('kansym_version'))[:20]!r} wrote it): edited, or from "
               "another version")
    _check_idle_settings(cfg, metrics, refuse)
    symbolic = [f for f in ("formula.json", "candidates.csv", "edges.csv", "crosscheck.json") if (rd.path / f).exists()]
    if cfg.stage == "kan" and symbolic:
        refuse(f"config.json says stage 'kan', but the run holds {symbolic[0]} of a later stage")
    lacking = [f for f in ("edges.csv", "candidates.csv") if not (rd.path / f).exists()]
    if cfg.stage != "kan" and lacking:  # the symbolic stage writes both, whether or not it chose a formula
        refuse(f"config.json says stage '{getattr(cfg.stage, 'value', cfg.stage)}', but the run has no {lacking[0]} of its "
               "symbolic stage")
    if (rd.path / "candidates.csv").exists():
        table = rd.read_csv("candidates.csv")
        try:
            failures = table["failures"].astype(object).fillna("").astype(str)  # all empty: read as floats
            for name, route, n, why in zip(table["name"].astype(str), table["route"].astype(str),
                                           table["n_constants"].astype(int), failures):
                if not _made_by(name, cfg):
                    refuse(f"candidates.csv lists {name[:40]!r}, not from a library of config.json's lib {cfg.lib!r}")
                said = re.findall(r"(\d+) constants > (\d+)", why)
                if said != ([(str(n), str(cfg.max_constants))] if n > cfg.max_constants else []):
                    refuse(f"candidates.csv's verdicts on the number of constants are not those of config.json's "
                           f"max_constants {cfg.max_constants}")
                if route == "expanded" and not cfg.expand:
                    refuse("candidates.csv holds expanded candidates, but config.json says expand false")
                if route == "joint" and not cfg.joint:
                    refuse("candidates.csv holds candidates of the joint edge search, but config.json says joint "
                           "false")
                if route in ("modes", "shells", "powers") and not _made_by(f"{route}-", cfg):
                    refuse(f"candidates.csv holds candidates of the {route} route, which a run of config.json's "
                           f"target and inputs does not have")
        except KansymError:
            raise  # a refusal above, with its own reason
        except (KeyError, ValueError, TypeError):
            refuse("candidates.csv lacks the name, route, n_constants or failures of its candidates")
    poor = [m for m in ((metrics.get("notes") or {}).get("symbolic") or [])
            if isinstance(m, str) and "is poorly fitted: best R^2" in m]
    if any(not m.split("; ")[0].endswith(f" < {cfg.r2_min}") for m in poor):
        refuse(f"metrics.json's notes judge poorly fitted edges against another R^2 than config.json's r2_min "
               f"{cfg.r2_min}")
    reports = {name: rd.read_json(name) for name in ("crosscheck.json", "extrapolation.json")
               if (rd.path / name).exists()}
    if (rd.path / "formula.json").exists():
        entry = rd.read_json("formula.json")
        version = config.get("formula_kansym_version", config.get("kansym_version"))
        if isinstance(entry, dict) and entry.get("kansym_version", version) != version:
            refuse(f"formula.json says kansym {str(entry.get('kansym_version'))[:20]!r} made it, config.json "
                   f"{str(version)[:20]!r}")
    _check_run_ids(rd, refuse)
    made_by_discover = cfg.stage == "all" and cfg.extrapolate
    if "extrapolation.json" in reports and not made_by_discover and "extrapolation_options" not in config:
        refuse("config.json says the extrapolation stage did not run (stage, extrapolate) and records no "
               "`kansym extrapolate` options, but the run holds extrapolation.json")
    remade = "formula_kansym_version" in config  # a symbolic rerun removed the old formula's cross-check
    if "crosscheck.json" not in reports and cfg.stage == "all" and cfg.crosscheck != "none" and not remade \
            and (rd.path / "formula.json").exists():
        refuse(f"config.json says discover cross-checked the formula (crosscheck {str(cfg.crosscheck)!r}), but the run "
               "holds no crosscheck.json")
    if "crosscheck.json" in reports:
        rep = reports["crosscheck.json"]
        imported = isinstance(rep, dict) and rep.get("generations") is None  # a PySR hall of fame, no search run
        if not isinstance(rep, dict) or (not imported and rep.get("generations") != cfg.crosscheck_generations) \
                or rep.get("time_budget_s") != cfg.crosscheck_budget \
                or cfg.crosscheck not in ("auto", str(rep.get("engine", "")).split()[0]):
            refuse("crosscheck.json was not made with config.json's crosscheck, crosscheck_budget and "
                   "crosscheck_generations")
        made_with = {"seed": config.get("crosscheck_seed", cfg.seed),
                     "maxsize": config.get("crosscheck_maxsize", DEFAULT_MAXSIZE)}
        if any(type(rep.get(k)) is not int or rep.get(k) != v for k, v in made_with.items()):
            refuse(f"crosscheck.json's seed and maxsize ({str(rep.get('seed'))[:20]}, {str(rep.get('maxsize'))[:20]})"
                   f" are not config.json's ({made_with['seed']}, {made_with['maxsize']})")


def check_run(run_dir: Path, with_candidates: bool = False):
    """Every check ``kansym show`` makes of a run (:func:`check_summary`, :func:`check_formula_record`): its files
    must be what its networks and formula give on its data; a KansymError says what is not. Returns the checked
    (config, KanStage, formula or None), with ``with_candidates`` also the checked candidates' formulas (None for
    a run written before candidates.json)."""
    rd = RunDir(Path(run_dir))
    before = _identity(rd.path)
    try:
        return _check_run(rd, with_candidates)
    except KansymError:
        update = update_dir(rd.path)
        if _identity(rd.path) != before or (update.is_dir() and owner_alive(update)):
            raise KansymError(f"run {rd.id} was being updated by another kansym process while this command read it; "
                              "run the command again when that process has ended") from None
        raise


def _identity(path: Path):
    """The run folder's (device, inode): a stage rerun replaces the folder, so they change when it finishes."""
    try:
        st = path.stat()
        return st.st_dev, st.st_ino
    except OSError:
        return None


PARTNERS = (("formula.tex", "formula.json"), ("extrapolation.csv", "extrapolation.json"),
            ("crosscheck.tex", "crosscheck.json"), ("candidates.csv", "candidates.json"))
"""Files a run writes together: the first is checked against the second, so it is never there alone."""


def check_partners(rd: RunDir, metrics: dict) -> None:
    """No file of :data:`PARTNERS` without its partner; candidates.json is required beside candidates.csv from the
    version that records its calibration rule (kansym-2), the one that began to write it."""
    refuse = _refuser(rd)
    sections = metrics.get("predictive_uncertainty")
    recent = isinstance(sections, dict) and any(isinstance(v, dict) and v.get("rule", "kansym-1") != "kansym-1"
                                                 for v in sections.values())
    for file, partner in PARTNERS:
        if (rd.path / file).exists() and not (rd.path / partner).exists() and \
                (partner != "candidates.json" or recent):
            refuse(f"{partner} is missing beside {file} (kansym writes the two together and checks one against the "
                   "other)")


def _check_run(rd: RunDir, with_candidates: bool):
    check_own_files(rd.path)  # figures/ included, though no check reads them
    cfg = run_config(rd.config, f"run {rd.id}: config.json")
    ds = load_dataset(cfg)
    check_settings(rd, cfg, rd.metrics)  # the settings first: a file from another setting is named as such
    check_partners(rd, rd.metrics)
    stage = check_summary(rd, cfg, ds, rd.metrics, rd.importance())
    formula, judge = None, make_judge(ds, cfg.selection(), cfg.features)
    if (rd.path / "formula.json").exists():
        raw = rd.read_json("formula.json")
        check_variable_order(raw, feat.feature_names(cfg.features), f"run {rd.id}: formula.json")
        try:
            formula = export.formula_from_entry(raw).for_columns(feat.feature_names(cfg.features))
        except KansymError as exc:
            raise KansymError(f"run {rd.id}: formula.json: {exc}") from None
        check_formula_record(rd, cfg, ds, formula, raw, rd.metrics, judge)
    candidates = check_candidates(rd, ds, judge, cfg, stage.seeds)
    check_edges(rd, cfg, ds, stage)
    searched = (rd.path / "candidates.csv").exists()
    check_symbolic_notes((rd.metrics.get("notes") or {}).get("symbolic") or [], cfg, ds.X[ds.mask("train")],
                         stage.kept, _refuser(rd), searched=searched, producers=_producers(rd) if searched else set())
    check_crosscheck(rd, ds, formula, cfg, judge)
    return (cfg, stage, formula, candidates) if with_candidates else (cfg, stage, formula)
