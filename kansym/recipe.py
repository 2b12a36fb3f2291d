"""The training recipe shared by ``kansym discover`` and ``KANSymbolicRegressor``: the KAN stage (an
ensemble of pruned networks, trained as independent tasks by ``kansym.execution``, combined by a robust rule) and the
search for closed-form formulas over its edges. Nothing here writes outside the given checkpoint folder."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from kansym import candidates as cands_mod
from kansym.config import DiscoverConfig, load_dataset
from kansym.ensemble import Consensus, calibration, combine, consensus
from kansym.errors import KansymError
from kansym.execution import Execution, run_tasks
from kansym.member import fit_member
from kansym.metrics import rms, rmse_by_split
from kansym.network import KANRegressor, clean_stale_scratch, normalized, scratch_prefix
from kansym.runs import RunDir
from kansym.targets import Dataset


@dataclass(frozen=True)
class KanStage:
    """Result of the training stage: the member networks and their consensus (``kansym.ensemble``).

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

    def metrics(self) -> dict:
        ds, p = self.dataset, self.prediction
        masks = {part: ds.mask(part) for part in ("train", "test", "all")}
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
        d.mkdir(parents=True, exist_ok=True)
        dirs.append(d)
        jobs.append({"network": new_network(cfg, dataset.feature_names, cfg.seed + i), "X": X[tr], "y": y[tr],
                     "X_test": X[te], "y_test": y[te], "out_dir": str(d)})
    return dirs, jobs


def new_network(cfg: DiscoverConfig, feature_names, seed: int) -> KANRegressor:
    """The unfitted network of a run's configuration, with its own seed."""
    return KANRegressor(width=cfg.width, k=cfg.k, schedule=cfg.schedule(), seed=seed, detrend=cfg.detrend,
                        baseline=cfg.baseline, feature_names=tuple(feature_names), beyond=cfg.beyond)


def collect_members(dirs, curves) -> list[KANRegressor]:
    """The networks saved by finished member tasks, with their loss curves."""
    members = []
    for d, curve in zip(dirs, curves):
        member = KANRegressor.load(d)
        member.curve_ = curve
        members.append(member)
    return members


def train_kan(cfg: DiscoverConfig, dataset: Dataset, progress: Progress | None = None,
              save_dir: Path | None = None, execution: Execution | None = None) -> KanStage:
    """Train ``cfg.ensemble`` networks (seeds seed, seed+1, ...) on the train split of ``dataset``.

    Ensemble members are independent tasks run by ``execution`` (local processes or a Dask cluster,
    :mod:`kansym.execution`; the same networks bit for bit either way) and saved under
    ``save_dir/seed_<s>``; a single network trains in-process and is saved to ``save_dir``.
    """
    clean_stale_scratch()
    t0 = time.perf_counter()
    tr, te = dataset.mask("train"), dataset.mask("test")
    X, y = dataset.X, dataset.y
    if cfg.ensemble == 1:
        reg = new_network(cfg, dataset.feature_names, cfg.seed)
        members = [reg.fit(X[tr], y[tr], X[te], y[te], progress=progress)]
        if save_dir is not None:
            reg.save(save_dir)
    else:
        with tempfile.TemporaryDirectory(prefix=scratch_prefix("ensemble")) as tmp:
            dirs, jobs = member_jobs(cfg, dataset, Path(save_dir) if save_dir is not None else Path(tmp))
            curves = run_tasks(fit_member, jobs, execution,
                               progress=(lambda m: progress(m.replace("task", "member"))) if progress else None)
            members = collect_members(dirs, curves)
    return assemble_stage(dataset, members, cfg.aggregate, time.perf_counter() - t0)


# Candidate routes beyond the network's own composition. The monomial expansion (``expand``) is
# opt-in: it turns the network into a polynomial regression, which rarely survives the far check.
ROUTES = ("pruned", "terms", "noconst")


@dataclass(frozen=True)
class FormulaSearch:
    """The symbolic stage in memory: every candidate formula, the Pareto set, the chosen one (or None),
    the candidate whose network gives the edge fits, the network snapshot searched, and notes."""

    candidates: tuple
    front: tuple
    chosen: object
    base: object
    regressor: KANRegressor
    notes: tuple[str, ...]
    judge: object = None

    def table(self) -> pd.DataFrame:
        """One row per candidate (like PySR's ``equations_``): RMSE in MeV, constants, size, far check."""
        return pd.DataFrame([{"name": c.name, "route": c.route, "n_constants": c.n_constants, "size": c.formula.size,
                              "rmse_train_mev": c.rmse["train"], "rmse_test_mev": c.rmse["test"],
                              "rmse_all_mev": c.rmse["all"],
                              "rmse_train_before_refit_mev": c.rmse_before_refit.get("train"),
                              "kan_agreement_mev": c.kan_agreement, "sane": c.sane,
                              "far_departure_mev": c.far_departure,
                              "max_abs_correlation": c.formula.max_abs_correlation,
                              "failures": " | ".join(c.far.failures()) if c.far is not None else "",
                              "pareto": c in self.front, "chosen": c is self.chosen, "expression": str(c.formula.expr)}
                             for c in self.candidates])


def search_formulas(cfg: DiscoverConfig, stage: KanStage, judge=None) -> FormulaSearch:
    """Edge fits of the first kept network (``cfg.symbolic_from`` snapshot) to each library of ``cfg.lib``,
    candidate formulas by every route, their refits, and the choice (at most ``cfg.max_constants``
    constants, passing the far-extrapolation ``judge`` when there is one). Nothing is written."""

    ds = stage.dataset
    X, y = ds.X, ds.y
    masks = {part: ds.mask(part) for part in ("train", "test", "all")}
    libraries = cfg.libraries
    reg = stage.kept[0].snapshot(cfg.symbolic_from)
    cands, notes = cands_mod.generate(reg, X, y, masks, ds.feature_names, libraries,
                                      kan_pred=reg.predict(X), r2_min=cfg.r2_min, on_poor=cfg.poor_edges, judge=judge,
                                      routes=ROUTES + (("expanded",) if cfg.expand else ()))
    notes = (list(judge.notes) if judge is not None else []) + notes
    chosen = cands_mod.choose(cands, cfg.max_constants, baseline=float(np.std(y[masks["train"]])))
    front = cands_mod.pareto_front(cands)
    with_network = [c for c in cands if c.network is not None]
    base = next((c for c in with_network if c.name == libraries[0]), with_network[0])
    return FormulaSearch(tuple(cands), tuple(front), chosen, base, reg, tuple(notes), judge)


def load_run_stage(run_dir: Path) -> tuple[DiscoverConfig, KanStage]:
    """Rebuild the dataset and the trained networks of an existing run directory."""

    rd = RunDir(Path(run_dir))
    cfg = DiscoverConfig.from_dict(rd.config).resolved()
    kan_dir = rd.path / "kan"
    if not (kan_dir / "scalers.json").exists() and not any(kan_dir.glob("seed_*/scalers.json")):
        raise KansymError(f"run {rd.id} has no KAN checkpoint (kan/); rerun `kansym discover`")
    dirs = [kan_dir] if (kan_dir / "scalers.json").exists() else sorted(kan_dir.glob("seed_*"))
    members = tuple(KANRegressor.load(d) for d in dirs)
    return cfg, assemble_stage(load_dataset(cfg), members, cfg.aggregate)
