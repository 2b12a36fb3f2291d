"""``DiscoverConfig``: every option of a discovery run, its per-target defaults and checks, and the
dataset it selects."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from kansym import __version__
from kansym.nuclear import tables
from kansym.nuclear.baselines import check_baseline
from kansym.choices import (
    Aggregate,
    Beyond,
    Engine,
    PoorEdges,
    Stage,
    Subset,
    Target,
    Trainer,
    Weights,
)
from kansym.checks.crosscheck import check_engine_options, make_engine
from kansym.errors import KansymError, choose
from kansym.nuclear.features import feature_names
from kansym.network.regressor import KANRegressor, TrainSchedule
from kansym.nuclear.nuclides import MAX_CHAINS, element_z
from kansym.runs.migrate import config_record
from kansym.runs.store import enclosing_run, unwritable_dir
from kansym.symbolic.search import SearchBudget as structures_budget
from kansym.symbolic.library import resolve_library
from kansym.nuclear.targets import Dataset, Selection, build_dataset, parse_split

# Per-target defaults; explicit options override them.
#  be/even-even: the KAN binding-energy paper's selection (even-even, Z, N >= 30), inputs Z, N plus the
#  distances to the nearest magic numbers; the network ([n_in, 5, 1] pruned to one hidden node) learns BE
#  minus a refitted liquid drop (ldx), so the formula is the drop plus the network's shell composition.
#  residual: the KAN-WS4 setting (Z, N, P, S; 2340 nuclei; random 80/20).
TARGET_DEFAULTS = {
    "be": dict(min_z=30, min_n=30, max_unc=None, features="znst", width=(5,), split="random:0.8", max_hidden=1,
               ensemble=4, refine=(5, 10, 20), steps=20, baseline="ldx", search_budget=90.0,
               crosscheck_generations=50),
    "me": dict(min_z=30, min_n=30, max_unc=None, features="znv", width=(5,), split="random:0.8", max_hidden=3,
               ensemble=4, refine=(5, 10, 20), steps=20, baseline="linear", search_budget=90.0,
               crosscheck_generations=50),
    "residual": dict(min_z=8, min_n=8, max_unc=0.1, features="znps", width=(10,), split="random:0.8", model="ws4",
                     ensemble=4, refine=(5, 10), steps=20, baseline="none", search_budget=60.0,
                     crosscheck_generations=10),
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
    aggregate: str = "median"  # how ensemble members combine: median or mean (kansym.network.ensemble)
    uncertainty: bool | None = None  # per-nucleus sigma_ens; None: whenever the ensemble has >= 2 members
    beyond: str = "clamp"  # network inputs outside the training range: clamp or spline (kansym.network.regressor)
    trainer: str = "fast"  # code that trains the network: fast (kansym.network.fastfit) or pykan (MultKAN.fit)
    detrend: bool | None = None  # None: on for be/me, off for residual (used when baseline is 'linear')
    baseline: str | None = None  # None: ldx for be, linear for me, none for residual (kansym.nuclear.baselines)
    max_hidden: int | None = -1  # -1: target default; None: no cap on hidden nodes after pruning
    symbolic_from: str = "coarse"  # network the symbolic stage reads: coarse (pruned, first grid) or final
    seed: int = 0
    lib: str = "physics+poly"  # libraries joined by '+', each giving its own candidates
    r2_min: float = 0.9
    poor_edges: str = "best"
    max_constants: int | None = None  # None: 30 for residual targets (a correction over the whole chart); else 10
    # for (N, Z) inputs, like the published two-input formulas, and 12 for the others
    search_budget: float | None = None  # wall-clock seconds for the whole formula search (kansym.symbolic.search);
    # None: 90 for be/me, 60 for residual (whose training and cross-check take longer on 2340 nuclei)
    cv_folds: int = 5  # folds of the cross-validation that scores formula structures
    weights: str = "none"  # fits weighted by none or dme: 1 / (dME^2 + weight_floor^2) (kansym.nuclear.targets)
    weight_floor: float = 0.1  # s of the dME weights [MeV]
    expand: bool = False  # also try the monomial expansion of the network (polynomial candidates)
    joint: bool = False  # also try other well-fitting edge functions, combined and refitted jointly
    stage: str = "all"
    crosscheck: str = "auto"  # engine for the cross-check stage: auto, pyoperon, pysr or none
    crosscheck_budget: float | None = None  # wall-clock cap [s]; None: the search ends after its generations
    crosscheck_generations: int | None = None  # a fixed search length: same seed, same front on any machine;
    # None: 50 for be/me, 10 for residual (about the same evaluations on its ~4x larger training set)
    extrapolate: bool = True  # run the extrapolation stage on ``chains``
    chains: tuple[str, ...] = ("Zr", "Nd", "Hg", "Fm")
    runs_dir: str = "runs"

    def resolved(self, environment: bool = True, crosscheck_rerun: bool = False) -> "DiscoverConfig":
        """A copy with every per-target default filled in, validated. With ``environment`` the runs directory
        must be writable and the cross-check engine installed (for a new run; a recorded one skips both).
        ``crosscheck_rerun``: a recorded run whose cross-check settings are those of `kansym crosscheck RUN`, which
        may have run whatever its stage."""
        target = Target.parse(self.target, "target")
        stage = Stage.parse(self.stage, "stage")
        d = TARGET_DEFAULTS[target]
        subset = Subset.parse(self.subset or ("all" if target == "residual" else "even-even"), "subset")
        uses_paper_cuts = self.target != "residual" and subset == "even-even"
        fill = {
            "target": target,
            "stage": stage,
            "subset": subset,
            "features": self.features or d["features"],
            "split": self.split or d["split"],
            "width": tuple(self.width) if self.width else d["width"],
            "min_z": self.min_z if self.min_z is not None else (d["min_z"] if uses_paper_cuts else 8),
            "min_n": self.min_n if self.min_n is not None else (d["min_n"] if uses_paper_cuts else 8),
            "max_unc": (d["max_unc"] if uses_paper_cuts or self.target == "residual" else 0.1)
            if self.max_unc == -1.0 else self.max_unc,
            "model": self.model or d.get("model"),
            # an explicit --baseline linear detrends on any target (a residual one too); else as the target does
            "detrend": self.detrend if self.detrend is not None else (self.target != "residual"
                                                                      or self.baseline == "linear"),
            "baseline": self.baseline or d["baseline"],
            "max_hidden": d.get("max_hidden") if self.max_hidden == -1 else self.max_hidden,
            "ensemble": self.ensemble if self.ensemble is not None else d["ensemble"],
            "refine": tuple(self.refine) if self.refine is not None else d["refine"],
            "steps": self.steps if self.steps is not None else d["steps"],
            "search_budget": self.search_budget if self.search_budget is not None else d["search_budget"],
            "crosscheck_generations": self.crosscheck_generations if self.crosscheck_generations is not None
            else d["crosscheck_generations"],
            "max_constants": self.max_constants if self.max_constants is not None
            else (30 if target == "residual" else 10 if (self.features or d["features"]) == "zn" else 12),
        }
        if not self.chains:  # no chain to extrapolate: the stage is off (as `--chains ''` says)
            fill["extrapolate"] = False
        out = replace(self, **fill)
        out._check_numbers(environment)
        if out.ensemble < 1:
            raise KansymError(f"--ensemble must be >= 1, got {out.ensemble}")
        if out.uncertainty is not None and out.ensemble < 2:
            raise KansymError(f"--{'' if out.uncertainty else 'no-'}uncertainty needs --ensemble 2 or more: one network "
                              "gives no spread, hence no sigma_ens (the default ensemble for residual targets is 4)")
        if out.ensemble == 1 and str(out.aggregate) != DiscoverConfig.aggregate:
            raise KansymError(f"--aggregate {str(out.aggregate)[:20]} has no effect with one network (--ensemble 1): "
                              "it combines the members of an ensemble")
        if str(out.weights) == "none" and out.weight_floor != DiscoverConfig.weight_floor:
            raise KansymError(f"--weight-floor {out.weight_floor!r} has no effect without --weights dme")
        if str(out.crosscheck) == "none" and (out.crosscheck_budget is not None
                                              or out.crosscheck_generations != d["crosscheck_generations"]):
            raise KansymError("--crosscheck-budget and --crosscheck-generations have no effect with --crosscheck none")
        if out.stage != "all" and not crosscheck_rerun and (
                str(out.crosscheck) not in ("auto", "none") or out.crosscheck_budget is not None
                or out.crosscheck_generations != d["crosscheck_generations"]):
            raise KansymError(f"--crosscheck, --crosscheck-budget and --crosscheck-generations have no effect with "
                              f"--stage {out.stage}: the cross-check runs after the symbolic stage of --stage all "
                              "(or later: `kansym crosscheck RUN` takes these options)")
        out = replace(out, aggregate=Aggregate.parse(out.aggregate, "--aggregate rule"),
                      poor_edges=PoorEdges.parse(out.poor_edges, "--poor-edges mode"),
                      crosscheck=Engine.parse(out.crosscheck, "--crosscheck engine"),
                      beyond=Beyond.parse(out.beyond, "--beyond-range rule"),
                      trainer=Trainer.parse(out.trainer, "--trainer"), weights=Weights.parse(out.weights, "--weights"))
        if out.grid < 1 or any(g <= out.grid for g in out.refine) or list(out.refine) != sorted(set(out.refine)):
            raise KansymError(f"--grid must be >= 1 and --refine strictly increasing above it; got grid {out.grid}, "
                              f"refine {list(out.refine)}")
        choose("--symbolic-from network", out.symbolic_from, ("coarse", "final"))
        check_engine_options("auto", out.crosscheck_budget, seed=out.seed, generations=out.crosscheck_generations)
        if environment and out.crosscheck != "none" and out.stage == "all":
            make_engine(out.crosscheck, out.crosscheck_budget, seed=out.seed,
                        generations=out.crosscheck_generations)  # fail fast if the engine is missing
        structures_budget(out.search_budget)
        if not (isinstance(out.weight_floor, (int, float)) and not isinstance(out.weight_floor, bool)
                and 0.001 <= out.weight_floor <= 10):
            raise KansymError(f"--weight-floor must be a number of MeV in [0.001, 10], got {out.weight_floor!r}")
        if out.weights != "none" and out.trainer != "fast":
            raise KansymError("--weights needs --trainer fast: pykan's own MultKAN.fit has no sample weights")
        if not (isinstance(out.cv_folds, int) and 2 <= out.cv_folds <= 20):
            raise KansymError(f"--cv-folds must be an integer in 2 .. 20, got {out.cv_folds!r}")
        if isinstance(out.max_constants, bool) or not isinstance(out.max_constants, int) or \
                not 1 <= out.max_constants <= 100:
            raise KansymError(f"--max-constants must lie in 1 .. 100, got {out.max_constants}")
        for part in out.libraries:
            resolve_library(part)  # validates --lib early
        out.selection()  # validates subset and cuts
        check_baseline(out.baseline, out.target, feature_names(out.features))
        if out.baseline == "linear" and not out.detrend:
            out = replace(out, baseline="none")  # --no-detrend on a target whose default is linear
        if out.target != "residual" and out.model:
            raise KansymError(f"--model is for residual targets (the mass model whose residual the network learns); "
                              f"a {out.target} run takes none, got {str(out.model)[:20]!r}")
        if out.target == "residual":
            tables.check_model(out.model)
        parse_split(out.split)
        # the network checks its own settings (width, spline order, rule beyond the range, schedule)
        KANRegressor(width=out.width, k=out.k, schedule=out.schedule(), beyond=out.beyond)
        return out

    def _check_numbers(self, environment: bool = True) -> None:
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
            if not (math.isfinite(value) and 0 <= value <= MAX_LAMBDA):
                bad(option, value, f"must lie in [0, {MAX_LAMBDA:g}] (a larger weight leaves the fit nothing but the "
                                   "penalty)")
        if self.crosscheck_budget is not None and not (math.isfinite(self.crosscheck_budget)
                                                       and 0 < self.crosscheck_budget <= 86400):
            bad("--crosscheck-budget", self.crosscheck_budget, "must be a number of seconds in (0, 86400]")
        # a [n_in, w, 1] float64 network with grid g holds ~ w (n_in + 1)(g + k) coefficients; these caps keep
        # every allowed setting far inside the memory of a laptop
        if self.max_hidden is not None and self.max_hidden > 1000:
            bad("--max-hidden", self.max_hidden, "must be at most 1000 (the widest hidden layer allowed)")
        if self.width and (any(int(w) > 1000 for w in self.width) or len(self.width) > 10):
            bad("--width", list(self.width), "allows at most 10 hidden layers of at most 1000 nodes")
        if self.grid > 1000 or any(g > 1000 for g in self.refine):
            bad("--grid/--refine", [self.grid, *self.refine], "must be at most 1000 intervals")
        if self.steps is not None and self.steps > 100_000:
            bad("--steps", self.steps, "must be at most 100000")
        if self.ensemble is not None and self.ensemble > 64:
            bad("--ensemble", self.ensemble, "must be at most 64")
        problem = unwritable_dir(Path(self.runs_dir)) if environment else None
        if problem:
            bad("--runs-dir", self.runs_dir, problem)
        if environment:
            inside = enclosing_run(Path(self.runs_dir))
            if inside is not None:
                bad("--runs-dir", self.runs_dir, f"lies inside the run {inside.name}; runs are written beside each "
                    "other, not into one")
        if len(self.chains) > MAX_CHAINS:
            bad("--chains", f"{len(self.chains)} chains", f"takes at most {MAX_CHAINS} chains")
        if self.extrapolate:  # stored in config.json for later stages too, so checked whatever the stage
            zs = [element_z(chain) for chain in self.chains]  # an unknown element fails now, not after training
            twice = sorted({c for c, z in zip(self.chains, zs) if zs.count(z) > 1})
            if twice:
                bad("--chains", ",".join(self.chains), f"names one chain twice ({', '.join(twice)[:40]}); name each "
                    "once")

    @property
    def libraries(self) -> tuple[str, ...]:
        """The edge-function libraries of ``lib`` ('physics+poly' -> ('physics', 'poly')), as given."""
        if not isinstance(self.lib, str):
            raise KansymError(f"--lib must be text, got {self.lib!r}")
        parts = tuple(part.strip() for part in self.lib.split("+"))
        if not all(parts):
            raise KansymError(f"--lib {self.lib[:60]!r} has an empty part; join libraries or function lists with '+', "
                              "e.g. physics+poly")
        if len(set(parts)) < len(parts):
            raise KansymError(f"--lib {self.lib[:60]!r} names a library twice; name each once")
        return parts

    def selection(self) -> Selection:
        return Selection(self.subset, self.min_z, self.min_n, self.max_unc, self.include_estimated)

    def schedule(self) -> TrainSchedule:
        return TrainSchedule(grids=(self.grid, *self.refine), steps=self.steps, lamb=self.lamb,
                             lamb_l1=self.lamb_l1, lamb_entropy=self.lamb_entropy, prune=self.prune,
                             max_hidden=self.max_hidden, trainer=str(self.trainer))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["width"] = list(self.width) if self.width else None
        d["refine"] = list(self.refine) if self.refine is not None else None
        d["chains"] = list(self.chains)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "DiscoverConfig":
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in config_record(d).items() if k in names}  # old formats: kansym.runs.migrate
        for key in ("width", "refine", "chains"):
            if kw.get(key) is not None:
                kw[key] = tuple(kw[key])
        return cls(**kw)


MAX_LAMBDA = 1000.0
"""Largest regularisation weight (--lamb, --lamb-l1, --lamb-entropy)."""

RECORD_EXTRAS = {"kansym_version": "str", "data_sha256": "dict", "extrapolation_options": "dict",
                 "formula_kansym_version": "str", "crosscheck_seed": "int", "crosscheck_maxsize": "int",
                 "library_versions": "dict"}
"""Fields a run's ``config.json`` holds beside the options: provenance, the last extrapolation's options, the
version of a symbolic-stage rerun (else the formula's version is the run's), the seed and largest expression
size of a cross-check rerun (else the run's seed and size 30) and the versions of the numerical libraries."""


RECORD_REQUIRED = ("target", "seed", "features", "split", "subset")
"""Options every version of a run's ``config.json`` has held and on which its numbers depend: a record without one
is refused rather than read with the default."""


def _field_kind(annotation: str) -> tuple[str, bool]:
    """('str' | 'int' | 'float' | 'bool' | 'ints' | 'strs', may be null) of a DiscoverConfig annotation."""
    optional = annotation.endswith("| None")
    base = annotation.removesuffix("| None").strip()
    return {"tuple[int, ...]": "ints", "tuple[str, ...]": "strs"}.get(base, base), optional


def _has_kind(value, kind: str) -> bool:
    whole = lambda v: isinstance(v, int) and not isinstance(v, bool)  # noqa: E731
    return {"str": lambda v: isinstance(v, str) and len(v) <= 1000,
            "int": whole,
            "float": lambda v: whole(v) or isinstance(v, float),
            "bool": lambda v: isinstance(v, bool),
            "dict": lambda v: isinstance(v, dict),
            "ints": lambda v: isinstance(v, list) and len(v) <= 1000 and all(map(whole, v)),
            "strs": lambda v: isinstance(v, list) and len(v) <= 1000 and all(isinstance(x, str) for x in v),
            }[kind](value)


def run_config(record: dict, where: str = "config.json") -> DiscoverConfig:
    """The configuration a run directory records, checked as a schema before use: every option has the type of
    its :class:`DiscoverConfig` field (a whole number is not text, a list is not a string) and a value that
    ``kansym discover`` accepts (without the checks of a new run's environment: its runs directory and engine).
    Errors name the field."""
    if not isinstance(record, dict):
        raise KansymError(f"{where} does not hold a JSON object")
    missing = [k for k in RECORD_REQUIRED if k not in record]
    if missing:
        raise KansymError(f"{where}: field {missing[0]!r} is missing (every kansym run records it; a default is not "
                          "filled in)")
    kinds = {f.name: _field_kind(str(f.type)) for f in fields(DiscoverConfig)}
    kinds |= {k: (v, True) for k, v in RECORD_EXTRAS.items()}
    for key, value in record.items():
        if key not in kinds:
            continue  # an option of another kansym version, never read
        kind, optional = kinds[key]
        if not ((value is None and optional) or _has_kind(value, kind)):
            expected = {"ints": "a list of whole numbers", "strs": "a list of names", "int": "a whole number",
                        "float": "a number", "bool": "true or false", "str": "text", "dict": "an object"}[kind]
            raise KansymError(f"{where}: field {key!r} must be {expected}{' or null' if optional else ''}, "
                              f"got {str(value)[:40]!r}")
    versions = record.get("library_versions")
    if versions is not None and not (len(versions) <= len(LIBRARIES) and all(
            k in LIBRARIES and (v is None or (isinstance(v, str) and re.fullmatch(r"[0-9A-Za-z.+!-]{1,40}", v)))
            for k, v in versions.items())):
        raise KansymError(f"{where}: field 'library_versions' must map {', '.join(LIBRARIES)} to version strings")
    try:
        return DiscoverConfig.from_dict(record).resolved(environment=False,
                                                         crosscheck_rerun="crosscheck_seed" in record)
    except KansymError as exc:
        raise KansymError(f"{where}: {exc}") from None


def load_dataset(cfg: DiscoverConfig) -> Dataset:
    return build_dataset(cfg.selection(), cfg.target, cfg.features, cfg.split, cfg.seed, cfg.model, cfg.weights,
                         cfg.weight_floor)


def provenance() -> dict:
    return {"kansym_version": __version__, "data_sha256": tables.data_hashes()}


LIBRARIES = ("numpy", "scipy", "sympy", "pandas", "scikit-learn", "torch", "pykan", "pyoperon")
"""The libraries whose versions decide a run's last digits (a run is bit-identical only with the same ones)."""


def library_versions() -> dict:
    """{library: installed version, or None where it is not installed} for :data:`LIBRARIES`."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in LIBRARIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out
