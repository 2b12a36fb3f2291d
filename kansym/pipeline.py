"""``DiscoverConfig`` and ``discover(config)``: run the stages and write one run directory."""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from kansym import __version__, tables
from kansym.ensemble import RULES as ENSEMBLE_RULES
from kansym.ensemble import Consensus, calibration, combine, consensus
from kansym.errors import KansymError, choose
from kansym.network import KANRegressor, TrainSchedule, normalized
from kansym.runs import StagedRun, new_run_id, write_json_atomic
from kansym.survey import rms
from kansym.targets import TARGETS, Dataset, Selection, build_dataset

STAGES = ("kan", "symbolic", "all")

# Per-target defaults; explicit options override them.
#  be/even-even: the KAN binding-energy paper's selection (even-even, Z, N >= 30), inputs Z, N plus the
#  distances to the nearest magic numbers; the network ([n_in, 5, 1] pruned to one hidden node) learns BE
#  minus a refitted liquid drop (ldx), so the formula is the drop plus the network's shell composition.
#  residual: the KAN-WS4 setting (Z, N, P, S; 2340 nuclei; random 80/20).
TARGET_DEFAULTS = {
    "be": dict(min_z=30, min_n=30, max_unc=None, features="znv", width=(5,), split="random:0.8", max_hidden=1,
               ensemble=1, refine=(5, 10, 20), steps=20, baseline="ldx"),
    "me": dict(min_z=30, min_n=30, max_unc=None, features="znv", width=(5,), split="random:0.8", max_hidden=3,
               ensemble=1, refine=(5, 10, 20), steps=20, baseline="linear"),
    "residual": dict(min_z=8, min_n=8, max_unc=0.1, features="znps", width=(10,), split="random:0.8", model="ws4",
                     ensemble=4, refine=(5, 10), steps=20, baseline="none"),
}


@dataclass(frozen=True)
class DiscoverConfig:
    """Every option of a discovery run. ``None`` means 'the default for this target'."""

    target: str = "be"
    subset: str | None = None
    model: str | None = None
    features: str | None = None
    split: str | None = None
    min_z: int | None = None
    min_n: int | None = None
    max_unc: float | None = -1.0  # -1: target default; None: no uncertainty cut
    include_estimated: bool = False
    width: tuple[int, ...] | None = None
    grid: int = 3
    refine: tuple[int, ...] | None = None
    k: int = 3
    steps: int | None = None
    lamb: float = 1e-3
    lamb_l1: float = 1.0
    lamb_entropy: float = 2.0
    prune: bool = True
    ensemble: int | None = None
    aggregate: str = "median"  # how ensemble members combine: median or mean (kansym.ensemble)
    uncertainty: bool | None = None  # per-nucleus sigma_ens; None: whenever the ensemble has >= 2 members
    beyond: str = "clamp"  # network inputs outside the training range: clamp or spline (kansym.network)
    detrend: bool | None = None  # None: on for be/me, off for residual (used when baseline is 'linear')
    baseline: str | None = None  # None: ldx for be, linear for me, none for residual (kansym.baselines)
    max_hidden: int | None = -1  # -1: target default; None: no cap on hidden nodes after pruning
    symbolic_from: str = "coarse"  # network the symbolic stage reads: coarse (pruned, first grid) or final
    seed: int = 0
    lib: str = "physics+poly"  # libraries joined by '+', each giving its own candidates
    r2_min: float = 0.9
    poor_edges: str = "best"
    max_constants: int = 12
    expand: bool = False  # also try the monomial expansion of the network (polynomial candidates)
    stage: str = "all"
    crosscheck: str = "auto"  # engine for the cross-check stage: auto, pyoperon, pysr or none
    crosscheck_budget: float | None = None  # wall-clock cap [s]; None: the search ends after its generations
    crosscheck_generations: int = 50  # a fixed search length: same seed, same front on any machine
    extrapolate: bool = True  # run the extrapolation stage on ``chains``
    chains: tuple[str, ...] = ("Zr", "Nd", "Hg", "Fm")
    runs_dir: str = "runs"

    def resolved(self) -> "DiscoverConfig":
        """A copy with every per-target default filled in, validated."""
        choose("target", self.target, TARGETS)
        choose("stage", self.stage, STAGES)
        d = TARGET_DEFAULTS[self.target]
        subset = self.subset or ("all" if self.target == "residual" else "even-even")
        uses_paper_cuts = self.target != "residual" and subset == "even-even"
        fill = {
            "subset": subset,
            "features": self.features or d["features"],
            "split": self.split or d["split"],
            "width": tuple(self.width) if self.width else d["width"],
            "min_z": self.min_z if self.min_z is not None else (d["min_z"] if uses_paper_cuts else 8),
            "min_n": self.min_n if self.min_n is not None else (d["min_n"] if uses_paper_cuts else 8),
            "max_unc": (d["max_unc"] if uses_paper_cuts or self.target == "residual" else 0.1)
            if self.max_unc == -1.0 else self.max_unc,
            "model": self.model or d.get("model"),
            "detrend": self.detrend if self.detrend is not None else self.target != "residual",
            "baseline": self.baseline or d["baseline"],
            "max_hidden": d.get("max_hidden") if self.max_hidden == -1 else self.max_hidden,
            "ensemble": self.ensemble if self.ensemble is not None else d["ensemble"],
            "refine": tuple(self.refine) if self.refine is not None else d["refine"],
            "steps": self.steps if self.steps is not None else d["steps"],
        }
        out = replace(self, **fill)
        out._check_numbers()
        if out.ensemble < 1:
            raise KansymError(f"--ensemble must be >= 1, got {out.ensemble}")
        if out.uncertainty and out.ensemble < 2:
            raise KansymError("--uncertainty needs --ensemble 2 or more: one network gives no spread, hence no "
                              "sigma_ens (the default ensemble for residual targets is 4)")
        choose("--aggregate rule", out.aggregate, ENSEMBLE_RULES)
        if out.grid < 1 or any(g <= out.grid for g in out.refine) or list(out.refine) != sorted(set(out.refine)):
            raise KansymError(f"--grid must be >= 1 and --refine strictly increasing above it; got grid {out.grid}, "
                              f"refine {list(out.refine)}")
        choose("--poor-edges mode", out.poor_edges, ("best", "zero", "error"))
        choose("--symbolic-from network", out.symbolic_from, ("coarse", "final"))
        choose("--crosscheck engine", out.crosscheck, ("none", "auto", "pyoperon", "pysr"))
        if out.crosscheck != "none" and out.stage == "all":
            from kansym.crosscheck import make_engine
            make_engine(out.crosscheck, out.crosscheck_budget, seed=out.seed,
                        generations=out.crosscheck_generations)  # fail fast if the engine is missing
        if out.max_constants < 1:
            raise KansymError(f"--max-constants must be >= 1, got {out.max_constants}")
        from kansym.symbolic import resolve_library
        for part in out.libraries:
            resolve_library(part)  # validates --lib early
        out.selection()  # validates subset and cuts
        from kansym.baselines import check_baseline
        from kansym.features import feature_names
        check_baseline(out.baseline, out.target, feature_names(out.features))
        if out.baseline == "linear" and not out.detrend:
            out = replace(out, baseline="none")  # --no-detrend on a target whose default is linear
        if out.target == "residual" or out.model:
            tables.check_model(out.model)
        from kansym.targets import parse_split
        parse_split(out.split)
        # the network checks its own settings (width, spline order, rule beyond the range, schedule)
        KANRegressor(width=out.width, k=out.k, schedule=out.schedule(), beyond=out.beyond)
        return out

    def _check_numbers(self) -> None:
        """Every numeric option finite and in range, and the runs directory usable, before any training."""
        import math

        def bad(option, value, why):
            raise KansymError(f"{option} {value!r} {why}")

        if not 0 <= self.seed <= 2**32 - 1:
            bad("--seed", self.seed, "must lie in 0 .. 2^32-1")
        self.selection()  # cuts checked by Selection
        if not (math.isfinite(self.r2_min) and 0 <= self.r2_min <= 1):
            bad("--r2-min", self.r2_min, "must lie in [0, 1]")
        for option, value in (("--lamb", self.lamb), ("--lamb-l1", self.lamb_l1), ("--lamb-entropy", self.lamb_entropy)):
            if not math.isfinite(value):
                bad(option, value, "must be finite")
        if self.crosscheck_budget is not None and not (math.isfinite(self.crosscheck_budget)
                                                       and 0 < self.crosscheck_budget <= 86400):
            bad("--crosscheck-budget", self.crosscheck_budget, "must be a number of seconds in (0, 86400]")
        # a [n_in, w, 1] float64 network with grid g holds ~ w (n_in + 1)(g + k) coefficients; these caps keep
        # every allowed setting far inside the memory of a laptop
        if self.width and (any(int(w) > 1000 for w in self.width) or len(self.width) > 10):
            bad("--width", list(self.width), "allows at most 10 hidden layers of at most 1000 nodes")
        if self.grid > 1000 or any(g > 1000 for g in self.refine):
            bad("--grid/--refine", [self.grid, *self.refine], "must be at most 1000 intervals")
        if self.steps is not None and self.steps > 100_000:
            bad("--steps", self.steps, "must be at most 100000")
        if self.ensemble is not None and self.ensemble > 64:
            bad("--ensemble", self.ensemble, "must be at most 64")
        root = Path(self.runs_dir)
        if root.exists() and not root.is_dir():
            bad("--runs-dir", self.runs_dir, "is not a directory")
        existing = next((a for a in (root.absolute(), *root.absolute().parents) if a.exists()), None)
        if existing is None or not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
            bad("--runs-dir", self.runs_dir, "is not writable" if existing == root.absolute()
                else f"cannot be created ({existing} is not a writable directory)")
        if self.extrapolate and self.stage == "all":
            from kansym.nuclides import element_z
            for chain in self.chains:
                element_z(chain)  # an unknown element fails now, not after training

    @property
    def libraries(self) -> tuple[str, ...]:
        """The edge-function libraries of ``lib`` ('physics+poly' -> ('physics', 'poly')), as given."""
        if not isinstance(self.lib, str):
            raise KansymError(f"--lib must be text, got {self.lib!r}")
        return tuple(dict.fromkeys(part.strip() for part in self.lib.split("+")))

    def selection(self) -> Selection:
        return Selection(self.subset, self.min_z, self.min_n, self.max_unc, self.include_estimated)

    def schedule(self) -> TrainSchedule:
        return TrainSchedule(grids=(self.grid, *self.refine), steps=self.steps, lamb=self.lamb,
                             lamb_l1=self.lamb_l1, lamb_entropy=self.lamb_entropy, prune=self.prune,
                             max_hidden=self.max_hidden)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["width"] = list(self.width) if self.width else None
        d["refine"] = list(self.refine) if self.refine is not None else None
        d["chains"] = list(self.chains)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "DiscoverConfig":
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        if "baseline" not in d and d.get("detrend") is not None:  # runs written before baselines existed
            kw["baseline"] = "linear" if d["detrend"] else "none"
        if "aggregate" not in d:  # runs written before the median rule averaged their members
            kw["aggregate"] = "mean"
        if "crosscheck_generations" not in d and isinstance(kw.get("lib"), str) and "+" not in kw["lib"] \
                and kw["lib"] != "poly":  # runs written before --lib was used as given also searched 'poly'
            kw["lib"] = kw["lib"] + "+poly"
        for key in ("width", "refine", "chains"):
            if kw.get(key) is not None:
                kw[key] = tuple(kw[key])
        return cls(**kw)


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
        out = {part: rms(p[m] - ds.y[m]) for part, m in masks.items()}
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


def train_kan(cfg: DiscoverConfig, dataset: Dataset, progress: Progress | None = None,
              save_dir: Path | None = None) -> KanStage:
    """Train ``cfg.ensemble`` networks (seeds seed, seed+1, ...) on the train split of ``dataset``.

    Ensemble members train in parallel child interpreters (``python -m kansym.member``, one thread
    each, as many at a time as there are cores) and are saved under ``save_dir/seed_<s>``; a single
    network trains in-process and is saved to ``save_dir``.
    """
    import tempfile

    from kansym.network import clean_stale_scratch, scratch_prefix

    clean_stale_scratch()
    t0 = time.perf_counter()
    tr, te = dataset.mask("train"), dataset.mask("test")
    X, y = dataset.X, dataset.y
    if cfg.ensemble == 1:
        reg = KANRegressor(width=cfg.width, k=cfg.k, schedule=cfg.schedule(), seed=cfg.seed, detrend=cfg.detrend,
                           baseline=cfg.baseline, feature_names=dataset.feature_names, beyond=cfg.beyond)
        members = [reg.fit(X[tr], y[tr], X[te], y[te], progress=progress)]
        if save_dir is not None:
            reg.save(save_dir)
    else:
        with tempfile.TemporaryDirectory(prefix=scratch_prefix("ensemble")) as tmp:
            root = Path(save_dir) if save_dir is not None else Path(tmp)
            dirs = [root / f"seed_{cfg.seed + i}" for i in range(cfg.ensemble)]
            for i, d in enumerate(dirs):
                d.mkdir(parents=True, exist_ok=True)
                job = {"width": list(cfg.width), "k": cfg.k, "schedule": asdict(cfg.schedule()), "seed": cfg.seed + i,
                       "detrend": cfg.detrend, "baseline": cfg.baseline, "feature_names": list(dataset.feature_names),
                       "beyond": cfg.beyond}
                (d / "job.json").write_text(json.dumps(job))
                np.savez(d / "data.npz", X=X[tr], y=y[tr], X_test=X[te], y_test=y[te])
            _run_members(dirs, progress)
            members = []
            for d in dirs:
                member = KANRegressor.load(d)
                member.curve_ = json.loads((d / "curve.json").read_text())
                members.append(member)
                for leftover in ("job.json", "data.npz", "curve.json"):
                    (d / leftover).unlink(missing_ok=True)
    return assemble_stage(dataset, members, cfg.aggregate, time.perf_counter() - t0)


def _run_members(dirs: list[Path], progress: Progress | None) -> None:
    """Run ``python -m kansym.member DIR`` for each dir, at most one per core at a time."""
    import subprocess
    import sys

    pending, running, done = list(dirs), [], 0
    slots = max(1, os.cpu_count() or 1)
    try:
        while pending or running:
            while pending and len(running) < slots:
                d = pending.pop(0)
                log = open(d / "member.log", "w")
                running.append((d, log, subprocess.Popen([sys.executable, "-m", "kansym.member", str(d)],
                                                         stdout=log, stderr=subprocess.STDOUT)))
            d, log, proc = running[0]
            rc = proc.wait()
            log.close()
            running.pop(0)
            if rc != 0:
                tail = (d / "member.log").read_text()[-1500:]
                raise KansymError(f"ensemble member in {d.name} failed (exit code {rc}):\n{tail}")
            (d / "member.log").unlink(missing_ok=True)
            done += 1
            if progress:
                progress(f"member {done}/{len(dirs)}")
    finally:
        for _, log, proc in running:
            proc.kill()
            log.close()


def load_dataset(cfg: DiscoverConfig) -> Dataset:
    return build_dataset(cfg.selection(), cfg.target, cfg.features, cfg.split, cfg.seed, cfg.model)


def provenance() -> dict:
    return {"kansym_version": __version__, "data_sha256": tables.data_hashes()}


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


# Candidate routes beyond the network's own composition. The monomial expansion (``expand``) is
# opt-in: it turns the network into a polynomial regression, which rarely survives the far check.
ROUTES = ("pruned", "terms", "noconst")

TARGET_SYMBOLS = {"be": "B", "me": "\\Delta", "residual": "\\delta M"}


def target_label(cfg: DiscoverConfig) -> str:
    """The target in words: 'AME2020 binding energy', 'AME2020 - WS4 mass excess', ..."""
    if cfg.target == "residual":
        return f"AME2020 - {tables.MODELS[cfg.model].label} mass excess"
    return {"be": "AME2020 binding energy", "me": "AME2020 mass excess"}[cfg.target]


def network_output_label(cfg: DiscoverConfig) -> str:
    """What the network's output node computes (the target minus its baseline, if any)."""
    base = {"be": "BE", "me": "ME", "residual": "ME(AME2020) - ME(" + str(tables.MODELS[cfg.model].label
                                                                           if cfg.model in tables.MODELS else cfg.model) + ")"}[cfg.target]
    return (base if cfg.baseline in (None, "none") else f"{base} - {cfg.baseline}") + " (scaled)"


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
    from kansym import candidates as cands_mod

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
    return FormulaSearch(tuple(cands), tuple(front), chosen, base, reg, tuple(notes))


def symbolic_stage(cfg: DiscoverConfig, stage: KanStage, path: Path, progress: Progress | None = None) -> dict:
    """Edge fits, candidate formulas judged on the data and over the reference table's whole range,
    the chosen refitted formula and its exports, written to ``path``."""
    from kansym import export, figures
    from kansym.farcheck import make_judge

    ds = stage.dataset
    X = ds.X
    masks = {part: ds.mask(part) for part in ("train", "test", "all")}
    judge = make_judge(ds, cfg.selection(), cfg.features)
    search = search_formulas(cfg, stage, judge)
    cands, chosen, front, base, reg = search.candidates, search.chosen, search.front, search.base, search.regressor
    notes = list(search.notes)
    _edges_frame(base, ds.feature_names).to_csv(path / "edges.csv", index=False)
    figures.edge_fits(reg, base.network, X[masks["train"]], ds.feature_names, path / "figures" / "edges",
                      r2_min=cfg.r2_min)
    rows = [{**c.summary(), "pareto": c in front, "chosen": c is chosen} for c in cands]
    table = search.table()
    table.to_csv(path / "candidates.csv", index=False)
    figures.candidates_figure(table, path / "figures" / "candidates.png",
                              departure="|correction| RMS beyond the data [MeV]" if cfg.target == "residual"
                              else "RMS departure from the liquid drop beyond AME2020 [MeV]")
    if chosen is None:
        sane = [c for c in cands if c.sane]
        why = ("no candidate passes the far-extrapolation check" if not sane
               else f"no candidate that passes the far-extrapolation check has at most {cfg.max_constants} constants")
        worst = min(cands, key=lambda c: c.rmse["train"])
        notes.append(f"no formula chosen: {why} (best candidate {worst.name}: "
                     + ("; ".join(worst.far.failures()) if worst.far is not None and worst.far.failures() else
                        f"{worst.n_constants} constants") + ")")
        for stale in ("formula.json", "formula.tex", "formula.png"):
            (path / stale).unlink(missing_ok=True)
        return {"formula": None, "candidates": rows, "notes": notes}
    formula_metrics = {"rmse_mev": chosen.rmse, "rmse_before_refit_mev": chosen.rmse_before_refit,
                       "kan_agreement_mev": chosen.kan_agreement, "n_constants": chosen.n_constants,
                       "size": chosen.formula.size, "candidate": chosen.name, "route": chosen.route,
                       "baseline": cfg.baseline, "max_abs_correlation": chosen.formula.max_abs_correlation,
                       "degenerate_pairs": [[chosen.formula.parameters[i].name, chosen.formula.parameters[j].name, c]
                                            for i, j, c in chosen.formula.degenerate_pairs()],
                       "far_check": judge.report(chosen.formula.evaluate(judge.X))}
    from kansym.runs import RunDir

    context = {"run_id": RunDir(path).id, "target": cfg.target, "model": cfg.model, "selection": cfg.selection().__dict__,
               "features": cfg.features, "split": cfg.split, "seed": cfg.seed, **provenance()}
    lhs = TARGET_SYMBOLS[cfg.target]
    export.write_formula(path, "formula", chosen.formula, formula_metrics, context, lhs, force=True,
                         label=context["run_id"])
    export.render_png(chosen.formula, lhs, path / "formula.png")
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


def discover(config: DiscoverConfig, progress: Progress | None = None) -> DiscoverResult:
    """Load -> train -> prune -> symbolic -> cross-check -> extrapolate (as far as ``config.stage``
    and the stage switches say) and write everything into a new run directory."""
    from kansym import figures

    cfg = config.resolved()
    t0 = time.perf_counter()
    dataset = load_dataset(cfg)
    cfg_dict = {**cfg.to_dict(), **provenance()}
    run_id = new_run_id(cfg.target, cfg.subset, cfg.to_dict())
    staged = StagedRun(Path(cfg.runs_dir), run_id)
    with staged as path:
        write_json_atomic(path / "config.json", cfg_dict)
        stage = train_kan(cfg, dataset, progress, save_dir=path / "kan")
        preds = _predictions_frame(stage, cfg.uncertainty is not False)
        preds.to_csv(path / "predictions.csv", index=False)
        importance = stage.importance()
        importance.to_csv(path / "importance.csv", index=False)
        curve = pd.DataFrame([{"member": i, **row} for i, m in enumerate(stage.members) for row in m.curve_])
        curve.to_csv(path / "loss_curve.csv", index=False)
        figures.network_diagram(stage.kept[0], dataset.feature_names, path / "figures" / "network.png",
                                output=network_output_label(cfg))
        figures.nz_chart(preds, path / "figures" / "residual_chart.png",
                         title=f"KAN minus {target_label(cfg)}, {len(dataset.frame)} nuclei",
                         unit_label="KAN - AME2020 [MeV]")
        metrics = {**stage.metrics(), "target": cfg.target, "n_nuclei": len(dataset.frame),
                   "dropped_without_model": dataset.dropped}
        if cfg.uncertainty is False and "ensemble" in metrics:
            metrics["ensemble"].pop("calibration_test")
        if cfg.model:
            metrics["model_rms_mev"] = {part: rms((dataset.frame["ME"] - dataset.frame["ME_model"])[dataset.mask(part)])
                                        for part in ("train", "test", "all")}
        symbolic = None
        record_notes(path, metrics, "data", dataset.notes)
        if cfg.stage != "kan":
            symbolic = symbolic_stage(cfg, stage, path, progress)
            metrics["formula"] = symbolic["formula"]
            record_notes(path, metrics, "symbolic", symbolic["notes"])
            if progress:
                progress("symbolic stage")
        if cfg.stage == "all" and cfg.crosscheck != "none" and symbolic and symbolic["formula"]:
            report = crosscheck_run(path, cfg.crosscheck, cfg.crosscheck_budget, seed=cfg.seed,
                                    generations=cfg.crosscheck_generations)
            metrics["crosscheck"] = _crosscheck_summary(report)
            if progress:
                progress(f"cross-check ({report['engine']})")
        if cfg.stage == "all" and cfg.extrapolate:
            from kansym.extrapolate import extrapolate_run
            ext = extrapolate_run(path, cfg.chains, loaded=(cfg, stage))
            metrics.update(_extrapolation_summary(ext))
            record_notes(path, metrics, "extrapolation", ext["notes"])
            if progress:
                progress("extrapolation")
        metrics["wall_time_total_s"] = round(time.perf_counter() - t0, 3)
        write_json_atomic(path / "metrics.json", metrics)
    return DiscoverResult(staged.final, cfg_dict, metrics, importance,
                          tuple(n for notes in metrics["notes"].values() for n in notes), symbolic)


def record_notes(path: Path, metrics: dict, stage: str, notes) -> None:
    """Keep a stage's notes (each once) in ``metrics["notes"][stage]`` and rewrite ``notes.txt``."""
    from kansym.runs import write_text_atomic

    metrics.setdefault("notes", {})[stage] = list(dict.fromkeys(map(str, notes)))
    write_text_atomic(path / "notes.txt", "".join(f"{st}: {n}\n" for st, ns in metrics["notes"].items() for n in ns))


def far_summary(report: dict) -> dict:
    """The headline numbers of a far-extrapolation report (see ``kansym.farcheck``)."""
    dev = {ref: {k: d[k] for k in ("rms_inside", "max_abs_inside", "rms_beyond", "max_abs_beyond")}
           for ref, d in report["deviation_mev"].items()}
    return {"domain": report["domain"], "n_nuclei": report["n_nuclei"], "n_beyond_ame2020": report["n_beyond_ame2020"],
            "passed": report["passed"], "failures": report["failures"], "non_finite": report["non_finite"],
            "deviation_mev": dev, "fraction_outside_model_spread": report["fraction_outside_model_spread"]}


def load_run_stage(run_dir: Path) -> tuple[DiscoverConfig, KanStage]:
    """Rebuild the dataset and the trained networks of an existing run directory."""
    from kansym.runs import RunDir

    rd = RunDir(Path(run_dir))
    cfg = DiscoverConfig.from_dict(rd.config).resolved()
    kan_dir = rd.path / "kan"
    if not (kan_dir / "scalers.json").exists() and not any(kan_dir.glob("seed_*/scalers.json")):
        raise KansymError(f"run {rd.id} has no KAN checkpoint (kan/); rerun `kansym discover`")
    dirs = [kan_dir] if (kan_dir / "scalers.json").exists() else sorted(kan_dir.glob("seed_*"))
    members = tuple(KANRegressor.load(d) for d in dirs)
    return cfg, assemble_stage(load_dataset(cfg), members, cfg.aggregate)


FORMULA_DEPENDENT = ("crosscheck.json", "crosscheck.tex", "extrapolation.csv", "extrapolation.json",
                     "figures/chain_*.png", "figures/far_*.png")
"""Artifacts computed from the formula (or with it), stale once the symbolic stage is rerun."""


def _remove(path: Path, patterns) -> list[str]:
    gone = []
    for pattern in patterns:
        for f in sorted(path.glob(pattern)):
            f.unlink()
            gone.append(str(f.relative_to(path)))
    return gone


def rerun_symbolic(run_dir: Path, **overrides) -> dict:
    """Run the symbolic stage again on an existing run (e.g. with another ``lib``).

    The run is updated as a whole (``kansym.runs.RunUpdate``): formula, candidates, edge fits and
    ``metrics.json`` change together; the cross-check and extrapolation results of the old formula are
    removed (listed in ``result["removed"]``) rather than left beside a formula they do not describe."""
    from kansym.runs import RunDir, RunUpdate

    RunDir(Path(run_dir)).metrics  # a run without readable metrics fails here, before anything is copied
    with RunUpdate(run_dir) as path:
        rd = RunDir(path)
        metrics = rd.metrics
        cfg, stage = load_run_stage(path)
        overrides = {k: v for k, v in overrides.items() if v is not None}
        cfg = replace(cfg, **overrides).resolved()
        config = rd.config
        config.update({k: getattr(cfg, k) for k in overrides})  # config.json says what the formula was made with
        write_json_atomic(path / "config.json", config)
        shutil.rmtree(path / "figures" / "edges", ignore_errors=True)
        removed = _remove(path, FORMULA_DEPENDENT)
        result = symbolic_stage(cfg, stage, path)
        metrics["formula"] = result["formula"]
        for key in ("crosscheck", "extrapolation", "far_extrapolation"):
            metrics.pop(key, None)
        metrics.get("notes", {}).pop("extrapolation", None)
        record_notes(path, metrics, "symbolic", result["notes"])
        write_json_atomic(path / "metrics.json", metrics)
    return {**result, "removed": removed}


def rerun_extrapolate(run_dir: Path, chains, beyond: int = 10, against=("frdm12", "ws4"), both_sides: bool = False,
                      isotones=()) -> dict:
    """Chain extrapolation and far check of an existing run (``kansym.extrapolate.extrapolate_run``);
    the run's extrapolation files, chain figures and ``metrics.json`` are replaced together."""
    from kansym.extrapolate import extrapolate_run
    from kansym.runs import RunDir, RunUpdate

    RunDir(Path(run_dir)).metrics
    with RunUpdate(run_dir) as path:
        metrics = RunDir(path).metrics
        _remove(path, ("figures/chain_*.png", "figures/far_*.png"))
        report = extrapolate_run(path, chains, beyond, against, both_sides, isotones=isotones,
                                 loaded=load_run_stage(path))
        metrics.update(_extrapolation_summary(report))
        config = RunDir(path).config  # config.json says what the extrapolation files were made with
        config.update({"extrapolate": True, "chains": list(chains),
                       "extrapolation_options": {"beyond": beyond, "against": list(report["against"]),
                                                 "both_sides": both_sides, "isotones": list(isotones)}})
        write_json_atomic(path / "config.json", config)
        record_notes(path, metrics, "extrapolation", report["notes"])
        write_json_atomic(path / "metrics.json", metrics)
    return report


def rerun_crosscheck(run_dir: Path, engine: str = "auto", time_budget: float | None = None, maxsize: int = 30,
                     seed: int = 0, pysr_hof: Path | None = None, generations: int = 50) -> dict:
    """Cross-check of an existing run (``kansym.crosscheck.crosscheck_run``); the run's cross-check files
    and ``metrics.json`` are replaced together."""
    from kansym.runs import RunDir, RunUpdate

    RunDir(Path(run_dir)).metrics
    with RunUpdate(run_dir) as path:
        metrics = RunDir(path).metrics
        report = crosscheck_run(path, engine, time_budget, maxsize, seed, pysr_hof, generations=generations)
        metrics["crosscheck"] = _crosscheck_summary(report)
        write_json_atomic(path / "metrics.json", metrics)
    return report


def crosscheck_run(run_dir: Path, engine: str = "auto", time_budget: float | None = None, maxsize: int = 30,
                   seed: int = 0, pysr_hof: Path | None = None, beyond: int = 10,
                   generations: int = 50) -> dict:
    """Run an engine on a run's data selection, split and target; write crosscheck.json/.tex into the run."""
    from kansym import features as feat
    from kansym.crosscheck import (compare, crosscheck_tex, extrapolation_set, import_hof,
                                   make_engine)
    from kansym.export import formula_from_entry
    from kansym.runs import RunDir, write_text_atomic

    rd = RunDir(Path(run_dir))
    if not (rd.path / "formula.json").exists():
        raise KansymError(f"run {rd.id} has no formula to cross-check; run `kansym discover` without --stage kan")
    kan = formula_from_entry(rd.read_json("formula.json"))
    cfg = DiscoverConfig.from_dict(rd.config).resolved()
    ds = load_dataset(cfg)
    names = ds.feature_names
    if pysr_hof is not None:
        result = import_hof(Path(pysr_hof), names)
    else:
        eng = make_engine(engine, time_budget, maxsize, seed, generations)
        tr = ds.mask("train")
        result = eng.fit(ds.X[tr], ds.y[tr], names)
    ex = extrapolation_set(ds.frame[["Z", "N"]], beyond)
    extrap_X = feat.features(ex["Z"], ex["N"], cfg.features).to_numpy()
    from kansym.farcheck import make_judge

    report = compare(kan, result, ds, names, extrap_X, judge=make_judge(ds, cfg.selection(), cfg.features))
    report.update({"run_id": rd.id, "time_budget_s": time_budget, "maxsize": maxsize, "seed": seed,
                   "generations": None if pysr_hof is not None else generations})
    write_json_atomic(rd.path / "crosscheck.json", report)
    write_text_atomic(rd.path / "crosscheck.tex", crosscheck_tex(report))
    return report


def _crosscheck_summary(report: dict) -> dict:
    sel = next((r for r in report["rows"][1:] if r["selected"]), None)
    return {"engine": report["engine"], "selected": sel, "equivalence": report.get("equivalence")}


def _extrapolation_summary(report: dict) -> dict:
    return {"extrapolation": {k: v for k, v in report.items() if k.startswith("mean_chain")},
            "far_extrapolation": {p: far_summary(r) for p, r in report["far"].items()}}


def export_formula(run_dir: Path, name: str, registry: Path = Path("formulas"), force: bool = False) -> tuple[Path, Path]:
    """Copy a run's formula into the registry as ``NAME.json`` and ``NAME.tex``."""
    import re

    from kansym import export
    from kansym.runs import RunDir

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}", name):
        raise KansymError(f"formula name {name[:40]!r} must be 1-100 letters, digits, '_', '.', '-'")
    if Path(registry).exists() and not Path(registry).is_dir():
        raise KansymError(f"--registry {registry} is not a directory")
    rd = RunDir(Path(run_dir))
    entry = rd.read_json("formula.json") if (rd.path / "formula.json").exists() else None
    if entry is None:
        raise KansymError(f"run {rd.id} has no formula; run `kansym discover` without --stage kan")
    formula = export.formula_from_entry(entry)
    context = {k: v for k, v in entry.items() if k in ("run_id", "target", "model", "selection", "features", "split",
                                                       "seed", "kansym_version", "data_sha256")}
    lhs = TARGET_SYMBOLS.get(entry.get("target"), "y")
    return export.write_formula(Path(registry), name, formula, entry["metrics"], context, lhs, force=force)
