"""The training recipe shared by ``kansym discover`` and ``KANSymbolicRegressor``: the KAN stage (an
ensemble of pruned networks, trained as independent tasks by ``kansym.network.execution``, combined by a robust rule) and the
search for closed-form formulas over its edges. Nothing here writes outside the given checkpoint folder."""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import pandas as pd

from kansym.nuclear.baselines import LIQUID_DROP
from kansym.symbolic import candidates as cands_mod
from kansym.symbolic import modes as modes_mod
from kansym.symbolic import shells
from kansym.symbolic import search as structures_mod
from kansym.pipeline.config import DiscoverConfig, load_dataset, run_config
from kansym.network.ensemble import Consensus, calibration, combine, consensus
from kansym.errors import KansymError
from kansym.network.execution import Execution, run_tasks
from kansym.pipeline.member import fit_member
from kansym.metrics import rms, rmse_by_split
from kansym.network.regressor import KANRegressor, clean_stale_scratch, normalized, scratch_prefix
from kansym.nuclear.features import feature_names as feature_columns
from kansym.runs.artifacts import load_network, save_network
from kansym.runs.migrate import checkpoint_meta
from kansym.runs.store import RunDir, make_dir
from kansym.nuclear.targets import Dataset
from kansym.safeio import first_difference, json_text, parse_json_text, read_text_bounded
from kansym.symbolic.formula import formula_from_entry


@dataclass(frozen=True)
class KanStage:
    """Result of the training stage: the member networks and their consensus (``kansym.network.ensemble``).

    Divergent members are found on the run's test nuclei (all nuclei when there is no test set) and
    left out of every prediction; ``prediction`` and ``sigma_ens`` cover every nucleus of the dataset [MeV].
    """

    dataset: Dataset
    members: tuple[KANRegressor, ...]
    prediction: np.ndarray
    wall_s: float
    sigma_ens: np.ndarray | None = None
    consensus: Consensus | None = None
    rule: str = "median"
    sigma_fit: float | None = None  # training RMSE of the consensus: the part no member resolves [MeV]
    member_predictions: np.ndarray | None = None  # members x dataset nuclei, for an ensemble [MeV]
    checkpoints: Mapping[str, bytes] | None = None  # files training wrote (path under kan/ -> bytes), when kept

    def total_sigma(self, sigma_ens: np.ndarray) -> np.ndarray:
        """Predictive uncertainty sqrt(sigma_ens^2 + sigma_fit^2) [MeV]: the members' spread plus the
        scatter the ensemble leaves on its own training nuclei."""
        return np.sqrt(np.asarray(sigma_ens) ** 2 + self.sigma_fit**2)

    @property
    def seeds(self) -> list[int]:
        return [m.seed for m in self.members]

    @property
    def kept(self) -> tuple[KANRegressor, ...]:
        keep = self.consensus.kept if self.consensus is not None else range(len(self.members))
        return tuple(self.members[i] for i in keep)

    def predict(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, Consensus | None]:
        """(prediction, sigma_ens, consensus) for rows of X. Members dropped on the test nuclei stay out;
        members that diverge on these rows are found and dropped too (reported, never fatal)."""
        P = np.array([m.predict(X) for m in self.members])
        if self.consensus is None:
            pred, sigma = combine(P, self.rule)
            return pred, sigma, None
        c = consensus(P, self.consensus.scale, self.rule, exclude=self.consensus.dropped)
        return c.prediction, c.sigma_ens, c

    def left_out(self, cons: Consensus | None) -> str | None:
        """Why :meth:`predict` left members out of the rows of a request beyond those dropped on the test nuclei
        (the consensus's reason), or None when it left out no other."""
        if cons is None or not set(cons.dropped) - set(self.consensus.dropped):
            return None
        return cons.reason(self.seeds)

    def metrics(self) -> dict:
        ds, p = self.dataset, self.prediction
        masks = ds.masks()
        out = rmse_by_split(p, ds.y, masks)
        metrics = {"rmse_mev": out, "counts": {part: int(m.sum()) for part, m in masks.items()},
                   "pruned_width": self.kept[0].pruned_width_, "wall_time_s": round(self.wall_s, 3),
                   "members_rmse_test_mev": None}
        if len(self.members) > 1:
            P = self.member_predictions
            per = {part: {str(s): rms(P[i][m] - ds.y[m]) for i, s in enumerate(self.seeds)} for part, m in masks.items()}
            metrics["members_rmse_test_mev"] = list(per["test"].values())
            metrics["ensemble"] = {"seeds": self.seeds, "members_rmse_mev": per, **self.consensus.summary(self.seeds),
                                   "rule": f"{self.rule} of the kept members",
                                   "checked_on": "test nuclei" if masks["test"].any() else "all nuclei",
                                   "sigma_fit_mev": self.sigma_fit,
                                   "calibration_test": {
                                       "sigma_ens": calibration((ds.y - p)[masks["test"]], self.sigma_ens[masks["test"]]),
                                       "sigma": calibration((ds.y - p)[masks["test"]],
                                                            self.total_sigma(self.sigma_ens)[masks["test"]])}}
        return metrics

    def importance(self) -> pd.DataFrame:
        imp = np.array([m.importance_ for m in self.kept])
        mean = normalized(imp.mean(axis=0))
        return pd.DataFrame({"feature": list(self.dataset.feature_names), "importance": mean,
                             "std": imp.std(axis=0) if len(imp) > 1 else np.zeros(len(mean))})


def assemble_stage(dataset: Dataset, members, rule: str = "median", wall_s: float = 0.0) -> KanStage:
    """The consensus of trained ``members`` on ``dataset``: divergent members are found on the test
    nuclei (all nuclei without a test set); an ensemble that disagrees as a whole is an error."""
    members = tuple(members)
    if len(members) == 1:
        return KanStage(dataset, members, members[0].predict(dataset.X), wall_s, None, None, rule)
    P = np.array([m.predict(dataset.X) for m in members])
    tr, te = dataset.mask("train"), dataset.mask("test")
    check = te if te.any() else np.ones(len(dataset.y), dtype=bool)
    scale = float(np.min([rms(p[tr] - dataset.y[tr]) for p in P]))  # the best member's training RMSE
    c = consensus(P[:, check], scale, rule)
    seeds = [m.seed for m in members]
    if not c.agrees:
        named = ", ".join(f"seed {seeds[i]} ({c.departure[i]:.3g} MeV)" for i in
                          sorted(range(len(members)), key=lambda i: -c.departure[i]) if c.departure[i] > scale)
        raise KansymError(f"the ensemble does not agree on the {int(check.sum())} "
                          f"{'test nuclei' if te.any() else 'nuclei'}: most members diverge ({named or 'all'}; "
                          f"RMS departure from the median of the others; best training RMSE {scale:.3g} MeV). "
                          "Averaging them would be meaningless; try other seeds, more members (--ensemble) "
                          "or a smaller network")
    pred, sigma = combine(P[list(c.kept)], rule)
    return KanStage(dataset, members, pred, wall_s, sigma, c, rule, rms(pred[tr] - dataset.y[tr]), P)


Progress = Callable[[str], None]


def member_jobs(cfg: DiscoverConfig, dataset: Dataset, root: Path) -> tuple[list[Path], list[dict]]:
    """The ``cfg.ensemble`` member tasks of a fit (seeds seed, seed+1, ...), each saving into ``root/seed_<s>``."""
    tr, te = dataset.mask("train"), dataset.mask("test")
    X, y = dataset.X, dataset.y
    dirs, jobs = [], []
    for i in range(cfg.ensemble):
        d = Path(root) / f"seed_{cfg.seed + i}"
        make_dir(d)
        dirs.append(d)
        jobs.append({"network": new_network(cfg, dataset.feature_names, cfg.seed + i), "X": X[tr], "y": y[tr],
                     "X_test": X[te], "y_test": y[te], "out_dir": str(d),
                     "w": None if dataset.w is None else dataset.w[tr]})
    return dirs, jobs


def new_network(cfg: DiscoverConfig, feature_names, seed: int) -> KANRegressor:
    """The unfitted network of a run's configuration, with its own seed."""
    return KANRegressor(width=cfg.width, k=cfg.k, schedule=cfg.schedule(), seed=seed, detrend=cfg.detrend,
                        baseline=cfg.baseline, feature_names=tuple(feature_names), beyond=cfg.beyond)


def collect_members(dirs, curves) -> list[KANRegressor]:
    """The networks saved by finished member tasks, with their loss curves."""
    members = []
    for d, curve in zip(dirs, curves):
        member = load_network(d)
        member.curve_ = curve
        members.append(member)
    return members


def train_kan(cfg: DiscoverConfig, dataset: Dataset, progress: Progress | None = None,
              save_dir: Path | None = None, execution: Execution | None = None) -> KanStage:
    """Train ``cfg.ensemble`` networks (seeds seed, seed+1, ...) on the train split of ``dataset``.

    Ensemble members are independent tasks run by ``execution`` (local processes or a Dask cluster,
    :mod:`kansym.network.execution`; the same networks bit for bit either way) and saved under
    ``save_dir/seed_<s>``; a single network trains in-process and is saved to ``save_dir``.
    """
    clean_stale_scratch()
    t0 = time.perf_counter()
    tr, te = dataset.mask("train"), dataset.mask("test")
    X, y = dataset.X, dataset.y
    if cfg.ensemble == 1:
        reg = new_network(cfg, dataset.feature_names, cfg.seed)
        members = [reg.fit(X[tr], y[tr], X[te], y[te], progress=progress,
                           sample_weight=None if dataset.w is None else dataset.w[tr])]
        if save_dir is not None:
            save_network(reg, save_dir)
    else:
        with tempfile.TemporaryDirectory(prefix=scratch_prefix("ensemble")) as tmp:
            dirs, jobs = member_jobs(cfg, dataset, Path(save_dir) if save_dir is not None else Path(tmp))
            curves = run_tasks(fit_member, jobs, execution,
                               progress=(lambda m: progress(m.replace("task", "member"))) if progress else None)
            members = collect_members(dirs, curves)
    return assemble_stage(dataset, members, cfg.aggregate, time.perf_counter() - t0)


# Candidate routes beyond the network's own composition. The monomial expansion (``expand``) is
# opt-in: it turns the network into a polynomial regression, which rarely survives the far check. The
# greedy elimination of terms (``terms``) is replaced by the reduction of undetermined constants
# (``kansym.symbolic.search.determine``), which every candidate gets.
ROUTES = ("pruned", "noconst")


@dataclass(frozen=True)
class FormulaSearch:
    """The symbolic stage in memory: every formula structure found over the ensemble's members (with its
    representative candidate, recurrence, validation and why it is not eligible), the Pareto set, the chosen
    structure (or None), the candidate whose network gives the edge fits, the network snapshot searched, notes."""

    structures: tuple
    front: tuple
    chosen_structure: object
    base: object
    regressor: KANRegressor
    notes: tuple[str, ...]
    judge: object = None
    rule: str = structures_mod.RULE
    n_members: int = 1

    @property
    def candidates(self) -> tuple:
        """The representative candidate of every structure, in the order of ``structures``."""
        return tuple(s.candidate for s in self.structures)

    @property
    def chosen(self):
        return self.chosen_structure.candidate if self.chosen_structure is not None else None

    COLUMNS = ("name", "route", "n_constants", "size", "members", "n_members", "rmse_train_mev", "rmse_test_mev",
               "rmse_all_mev", "cv_rmse_mev", "cv_spread_mev", "edge_rmse_mev", "score_mev",
               "rmse_train_before_refit_mev", "kan_agreement_mev", "sane", "far_departure_mev", "max_abs_correlation",
               "min_significance", "eligible", "failures", "constants", "pareto", "chosen", "expression")
    """candidates.csv's columns, in order."""

    def table(self) -> pd.DataFrame:
        """One row per structure (like PySR's ``equations_``): RMSE in MeV, constants, size, recurrence over the
        members, validation on the training nuclei, far check, determination, and why it is not eligible."""
        rows = []
        for s in self.structures:
            c = s.candidate
            sig = structures_mod.significance(c.formula)
            rows.append({"name": c.name, "route": c.route, "n_constants": c.n_constants, "size": c.formula.size,
                         "members": " ".join(map(str, s.members)), "n_members": len(s.members),
                         "rmse_train_mev": c.rmse["train"], "rmse_test_mev": c.rmse["test"],
                         "rmse_all_mev": c.rmse["all"], "cv_rmse_mev": s.cv_rmse, "cv_spread_mev": s.cv_spread,
                         "edge_rmse_mev": s.edge_rmse, "score_mev": s.score,
                         "rmse_train_before_refit_mev": c.rmse_before_refit.get("train"),
                         "kan_agreement_mev": c.kan_agreement, "sane": c.sane,
                         "far_departure_mev": c.far_departure,
                         "max_abs_correlation": c.formula.max_abs_correlation,
                         "min_significance": float(sig.min()) if len(sig) else float("nan"),
                         "eligible": s.eligible,
                         "failures": " | ".join([*s.failures, *(c.far.failures() if c.far is not None else [])]),
                         "constants": constants_text(c.formula),
                         "pareto": c in self.front, "chosen": s is self.chosen_structure,
                         "expression": str(c.formula.expr)})
        return pd.DataFrame(rows, columns=list(self.COLUMNS))


def constants_text(formula) -> str:
    """candidates.csv's ``constants`` cell: name=value+-error of every constant ("undetermined" without one)."""
    return " ".join(f"{p.name}={p.value:.6g}+-{p.stderr:.2g}" if p.stderr is not None
                    else f"{p.name}={p.value:.6g}+-undetermined" for p in formula.parameters)


CANDIDATES_FORMAT = "kansym-candidates/1"
"""The ``format`` field of the ``candidates.json`` this version writes and reads."""


def candidate_entries(search: FormulaSearch) -> dict:
    """``candidates.json``: the formula of every structure (srepr, variables, constants with their errors,
    correlations), in the order of :meth:`FormulaSearch.table`, so that a loaded run gives every candidate back."""
    return {"format": CANDIDATES_FORMAT,
            "candidates": [{"name": c.name, "route": c.route, **c.formula.to_dict()} for c in search.candidates]}


CANDIDATE_FIELDS = frozenset({"name", "route", "srepr", "variables", "parameters", "correlations"})
"""The fields of each candidate in ``candidates.json`` (:func:`candidate_entries`)."""


def check_variable_order(entry, names, what: str) -> None:
    """A run's formula entry (formula.json, a candidate of candidates.json) lists the run's features ``names`` as
    its variables, in their order: kansym reads them by name, but a reader taking them by position would evaluate
    another formula. ``what`` names the entry in the error."""
    if not isinstance(entry, dict) or entry.get("variables") != list(names):
        raise KansymError(f"{what}: its variables are not config.json's features ({', '.join(names)}, in this "
                          "order): a reader taking them by position would evaluate another formula; the run's files "
                          "were edited or do not belong together")


def recorded_candidates(entries, names, where: str = "candidates.json") -> tuple:
    """The candidates' formulas as :func:`candidate_entries` gives them back (through JSON and the whitelisting
    srepr reader), reading their variables by name from columns ``names``; a malformed file is a KansymError
    naming the field."""
    if not isinstance(entries, dict) or entries.get("format") != CANDIDATES_FORMAT or \
            not isinstance(entries.get("candidates"), list) or set(entries) != {"format", "candidates"}:
        raise KansymError(f"{where} is not a kansym candidates file (format {CANDIDATES_FORMAT}; fields format and "
                          "candidates)")
    out = []
    for k, e in enumerate(entries["candidates"]):
        params = e.get("parameters") if isinstance(e, dict) else None
        extra = sorted(set(e) - CANDIDATE_FIELDS) if isinstance(e, dict) else []
        extra += sorted({str(f) for p in params if isinstance(p, dict) for f in p} - {"name", "value", "stderr", "init"}) \
            if isinstance(params, list) else []
        if extra:
            raise KansymError(f"{where}: candidate {k} holds {', '.join(map(repr, extra[:3]))[:80]}, not a field kansym "
                              "writes")
        if isinstance(e, dict):
            check_variable_order(e, names, f"{where}: candidate {k}")
        try:
            out.append(formula_from_entry(e).for_columns(names))
        except KansymError as exc:
            raise KansymError(f"{where}: candidate {k}: {exc}") from None
    return tuple(out)


def round_trip_candidates(search: FormulaSearch, names) -> tuple:
    """The formulas a run's ``candidates.json`` will give back (what ``from_run`` rebuilds, bit for bit)."""
    return recorded_candidates(parse_json_text(json_text(candidate_entries(search)), "candidates.json"), names)


def member_candidates(cfg: DiscoverConfig, reg: KANRegressor, dataset: Dataset, judge=None,
                      consensus: np.ndarray | None = None):
    """(candidates, notes) of one member network: its ``cfg.symbolic_from`` snapshot's edge fits to each library
    of ``cfg.lib`` and every candidate route, refitted on the training nuclei and judged; the shell-term and mode
    routes read the ensemble's ``consensus`` prediction where given (the same for every member)."""
    snap = reg.snapshot(cfg.symbolic_from)
    options = cands_mod.CandidateOptions(tuple(cfg.libraries), cfg.r2_min, cfg.poor_edges,
                                         routes=ROUTES + (("expanded",) if cfg.expand else ())
                                         + (("joint",) if cfg.joint else ())
                                         + (("powers",) if power_route(cfg, dataset.feature_names) else ())
                                         + (("shells",) if shell_route(cfg, dataset.feature_names) else ())
                                         + (("modes",) if mode_route(cfg, dataset.feature_names) else ()),
                                         max_params=cfg.max_constants + structures_mod.REDUCE_SLACK,
                                         max_constants=cfg.max_constants)
    return cands_mod.generate(snap, scoring(dataset, judge), options, kan_pred=snap.predict(dataset.X),
                              consensus=consensus)


def power_route(cfg: DiscoverConfig, feature_names) -> bool:
    """Whether the power-law route (:mod:`kansym.symbolic.powers`) runs: a binding-energy target with no
    physics baseline (linear or none) on inputs that include Z and N."""
    baseline = cfg.baseline or ("linear" if cfg.detrend else "none")
    return cfg.target == "be" and baseline in ("linear", "none") and {"Z", "N"} <= set(feature_names)


def shell_route(cfg: DiscoverConfig, feature_names) -> bool:
    """Whether the shell-term route (:mod:`kansym.symbolic.shells`) runs: a binding-energy target with a liquid-drop
    baseline on inputs that include Z, N and shell inputs (v, s, t, mu, P_NZ, S or P)."""
    return cfg.target == "be" and cfg.baseline in LIQUID_DROP and shells.has_shell_inputs(feature_names)


def mode_route(cfg: DiscoverConfig, feature_names) -> bool:
    """Whether the mode route (:mod:`kansym.symbolic.modes`) runs: a residual target on inputs that include Z and
    N."""
    return cfg.target == "residual" and modes_mod.has_mode_inputs(feature_names)


def scoring(dataset: Dataset, judge=None) -> cands_mod.Scoring:
    """What candidates of ``dataset`` are refitted and scored on (``kansym.symbolic.candidates.Scoring``)."""
    return cands_mod.Scoring(tuple(dataset.feature_names), dataset.X, dataset.y, dataset.masks(), judge, dataset.w)


def search_member(job: dict):
    """One member's formula search as a task for :func:`kansym.network.execution.run_tasks`: (seed, candidates, notes)."""
    cfg, ds, judge = job["cfg"], job["dataset"], job["judge"]
    return structures_mod.member_search(lambda m: member_candidates(cfg, m, ds, judge, job.get("consensus")),
                                        job["member"],
                                        scoring(ds, judge), cfg.max_constants, job["seconds"])


def search_formulas(cfg: DiscoverConfig, stage: KanStage, judge=None, progress: Progress | None = None,
                    execution: Execution | None = None) -> FormulaSearch:
    """The formula search over every kept member of the ensemble: candidates of each member (every route, with
    undetermined constants reduced; members are independent tasks run by ``execution``), grouped by structure,
    validated on the training nuclei and chosen by :data:`kansym.symbolic.search.RULE` (at most ``cfg.max_constants``
    constants, passing the far-extrapolation ``judge`` when there is one). Members share 70 % of
    ``cfg.search_budget`` seconds and the validation the rest. Nothing is written."""

    t0 = time.monotonic()
    ds = stage.dataset
    X, y = ds.X, ds.y
    masks = ds.masks()
    kept = stage.kept
    budget = structures_mod.SearchBudget(cfg.search_budget)
    execution = (execution or Execution()).checked()
    rounds = -(-len(kept) // max(1, min(execution.workers, len(kept))))  # members one worker searches in turn
    jobs = [{"cfg": cfg, "dataset": ds, "judge": judge, "member": m, "seconds": 0.7 * budget.seconds / rounds,
             "consensus": stage.prediction} for m in kept]
    if progress:
        progress(f"formula search: {len(kept)} member(s), budget {budget.seconds:g} s")
    if len(jobs) == 1:
        results = [search_member(jobs[0])]
    else:
        results = run_tasks(search_member, jobs, execution,
                            progress=(lambda m: progress("formula search: " + m.replace("task", "member")))
                            if progress else None)
    per_member = [(seed, cands) for seed, cands, _ in results]
    notes = [n for _, _, ns in results for n in ns]
    if not any(c for _, c in per_member):
        hint = (f" (the search budget ran out before their candidates were built: each member had "
                f"{jobs[0]['seconds']:.0f} s; raise --search-budget)" if any("budget ran out" in n for n in notes)
                else "")
        raise KansymError(f"no valid formula candidate from any member{hint}: "
                          + "; ".join(n if len(n) <= 300 else n[:300] + " ..." for n in notes))
    deadline = max(t0 + budget.seconds, time.monotonic() + 0.3 * budget.seconds)
    structures, chosen, choice_notes = structures_mod.choose_structure(
        per_member, X, y, masks, ds.frame, cfg.seed, cfg.max_constants, cfg.target, len(kept), folds=cfg.cv_folds,
        progress=progress, deadline=deadline, w=ds.w)
    notes = (list(judge.notes) if judge is not None else []) + notes + choice_notes
    front = cands_mod.pareto_front([s.candidate for s in structures])
    first_seed, first = next((seed, c) for seed, c in per_member if c)
    with_network = [c for c in first if c.network is not None] or \
        [c for _, cs in per_member for c in cs if c.network is not None]
    base = next((c for c in with_network if c.name == cfg.libraries[0]), with_network[0])
    reg = next(m for m in kept if m.seed == first_seed).snapshot(cfg.symbolic_from)
    return FormulaSearch(tuple(structures), tuple(front), chosen, base, reg, tuple(notes), judge,
                         n_members=len(kept))


def fit_recipe(dataset: Dataset, cfg: DiscoverConfig, judge=None, save_dir: Path | None = None,
               progress: Progress | None = None, symbolic: bool = True, execution: Execution | None = None,
               keep_checkpoints: bool = False) -> tuple[KanStage, FormulaSearch | None]:
    """The one recipe behind ``kansym discover`` and ``KANSymbolicRegressor.fit``: the networks of
    :func:`train_kan` (checkpoints under ``save_dir`` when given; with ``keep_checkpoints`` their files are kept in
    memory as ``stage.checkpoints`` instead), then, with ``symbolic``, the formula search of
    :func:`search_formulas` (every candidate judged by ``judge`` when given)."""
    if keep_checkpoints:
        with tempfile.TemporaryDirectory(prefix=scratch_prefix("checkpoints")) as tmp:
            stage = train_kan(cfg, dataset, progress, save_dir=Path(tmp), execution=execution)
            files = {p.relative_to(tmp).as_posix(): p.read_bytes() for p in sorted(Path(tmp).rglob("*"))
                     if p.is_file()}
        stage = replace(stage, checkpoints=files)
    else:
        stage = train_kan(cfg, dataset, progress, save_dir=save_dir, execution=execution)
    return stage, search_formulas(cfg, stage, judge, progress, execution) if symbolic else None


def network_dirs(rd: RunDir) -> list[Path]:
    """The checkpoint folders of a run: kan/ for a single network, kan/seed_<s> for an ensemble."""
    kan_dir = rd.file("kan")  # a symbolic link is refused, as for every file of the run
    for folder, dirs, files in os.walk(kan_dir):  # ... and so is one inside kan/ (os.walk does not follow them)
        for name in dirs + files:
            rd.file(str((Path(folder) / name).relative_to(rd.path)))
    if not (kan_dir / "scalers.json").exists() and not any(kan_dir.glob("seed_*/scalers.json")):
        raise KansymError(f"run {rd.id} has no KAN checkpoint (kan/); rerun `kansym discover`")
    return [kan_dir] if (kan_dir / "scalers.json").exists() else sorted(kan_dir.glob("seed_*"))


_RECIPE = ("width", "k", "schedule", "beyond", "detrend", "baseline", "feature_names")


def check_recipe(rd: RunDir, cfg: DiscoverConfig, metas: list[dict] | None = None) -> None:
    """config.json's training recipe must be the networks' own (each checkpoint's scalers.json records its width,
    spline order, schedule, seeds, baseline and inputs): an edited config.json would misdescribe the run."""
    if metas is None:
        metas = [checkpoint_meta(parse_json_text(read_text_bounded(d / "scalers.json", what="checkpoint file"),
                                                 d / "scalers.json")) for d in network_dirs(rd)]

    def refuse(what: str):
        raise KansymError(f"run {rd.id}: {what}; the run's files were edited or do not belong together")

    net = new_network(cfg, feature_columns(cfg.features), cfg.seed)
    want = json.loads(json_text({"width": list(net.width), "k": net.k, "schedule": asdict(net.schedule),
                                 "beyond": net.beyond, "detrend": net.detrend, "baseline": net.baseline,
                                 "feature_names": list(net.feature_names)}))
    seeds = sorted(m.get("seed") for m in metas if isinstance(m.get("seed"), int))
    if seeds != list(range(cfg.seed, cfg.seed + cfg.ensemble)):
        refuse(f"config.json says seeds {cfg.seed} .. {cfg.seed + cfg.ensemble - 1}, the networks in kan/ have "
               f"{', '.join(map(str, seeds))[:60] or 'none'}")
    for meta in metas:
        have = json.loads(json_text({k: meta.get(k) for k in _RECIPE}))
        off = [k for k in _RECIPE if have[k] != want[k]]
        if off:
            where, mine, theirs = first_difference({off[0]: want[off[0]]}, {off[0]: have[off[0]]})
            refuse(f"config.json's {' and '.join(off[:3])} disagree with the networks in kan/ ({where}: "
                   f"{str(mine)[:60]} in config.json, {str(theirs)[:60]} in the checkpoint)")


def load_run_stage(run_dir: Path) -> tuple[DiscoverConfig, KanStage]:
    """Rebuild the dataset and the trained networks of an existing run directory."""

    rd = RunDir(Path(run_dir))
    cfg = run_config(rd.config, f"run {rd.id}: config.json")
    members = tuple(load_network(d) for d in network_dirs(rd))
    check_recipe(rd, cfg, [m.checkpoint_meta() for m in members])
    stage = assemble_stage(load_dataset(cfg), members, cfg.aggregate)
    recorded = rd.metrics.get("rmse_mev")  # the networks must be the ones the run trained and measured
    now = stage.metrics()["rmse_mev"]
    if not isinstance(recorded, dict) or not all(
            isinstance(recorded.get(k), (int, float)) and not isinstance(recorded.get(k), bool)
            and np.isclose(recorded[k], now[k], rtol=1e-6, atol=1e-9, equal_nan=True) for k in now):
        said = ", ".join(f"{k} {recorded.get(k):.6g}" if isinstance(recorded.get(k), (int, float)) else
                         f"{k} {str(recorded.get(k))[:12]}" for k in now) if isinstance(recorded, dict) \
            else str(recorded)[:40]
        raise KansymError(f"run {rd.id}: the networks in kan/ give RMSE {', '.join(f'{k} {v:.6g}' for k, v in now.items())} "
                          f"MeV on the run's data, not the {said} MeV its metrics.json records; a checkpoint "
                          "or metrics.json was edited or belongs to another run")
    return cfg, stage
