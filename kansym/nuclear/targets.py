"""Nuclide selections (subsets and cuts), regression targets and seeded train/test splits.

Targets, all in MeV: ``be`` binding energy, ``me`` atomic mass excess,
``residual`` = ME(experiment) - ME(model) for a named mass model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import pandas as pd

from kansym.nuclear import features as feat
from kansym.nuclear import tables
from kansym.nuclear.nuclides import ME_H, ME_N, be_from_me
from kansym.metrics import SPLITS
from kansym.errors import KansymError, choose

SUBSETS = MappingProxyType({
    "all": lambda z, n: np.ones(len(z), dtype=bool),
    "even-even": lambda z, n: (z % 2 == 0) & (n % 2 == 0),
    "odd-a": lambda z, n: (z + n) % 2 == 1,
    "odd-odd": lambda z, n: (z % 2 == 1) & (n % 2 == 1),
    "even-z": lambda z, n: z % 2 == 0,
    "even-n": lambda z, n: n % 2 == 0,
})


@dataclass(frozen=True)
class TargetKind:
    """What a regression target means, in one place: the AME2020 quantity learned [MeV], how a prediction of it
    becomes a mass excess ME and a binding energy BE, and how reports name it ({model}: the mass model's label)."""

    name: str
    symbol: str  # LaTeX left-hand side of its formula
    fitted_to: str  # caption text: what a formula of this target was fitted to
    label: str  # in words, for figure titles
    column: str  # what the network's output computes (before its baseline is subtracted)
    departure_max: float  # MeV: bound on a chosen formula's RMS departure beyond AME2020 (kansym.symbolic.search)
    needs_model: bool = False

    def values(self, nuclei: pd.DataFrame) -> pd.Series:
        """The target of selected nuclei (columns BE, ME and, for a residual, ME_model) [MeV]."""
        return {"be": lambda: nuclei["BE"], "me": lambda: nuclei["ME"],
                "residual": lambda: nuclei["ME"] - nuclei["ME_model"]}[self.name]()

    def to_me(self, z, n, pred, model_me=None) -> np.ndarray:
        """Mass excess [MeV] from a prediction (``model_me``: the model's ME, for a residual)."""
        if self.name == "be":
            return z * ME_H + n * ME_N - pred
        return pred if self.name == "me" else model_me + pred

    def to_be(self, z, n, pred, model_me=None) -> tuple[np.ndarray, np.ndarray | None]:
        """(binding energy [MeV], the correction itself for a residual, else None) from a prediction."""
        if self.name == "be":
            return pred, None
        if self.name == "me":
            return be_from_me(z, n, pred), None
        return be_from_me(z, n, model_me + pred), pred

    def text(self, field: str, model_label: str | None) -> str:
        """A naming field with the model's label filled in."""
        return getattr(self, field).format(model=model_label or "model")


TARGET_KINDS = MappingProxyType({
    "be": TargetKind("be", "B", "the AME2020 binding energies", "AME2020 binding energy", "BE", 10.0),
    "me": TargetKind("me", "\\Delta", "the AME2020 mass excesses", "AME2020 mass excess", "ME", 10.0),
    "residual": TargetKind("residual", "\\delta M", "the mass-excess differences AME2020 minus {model}",
                           "AME2020 - {model} mass excess", "ME(AME2020) - ME({model})", 1.0, needs_model=True),
})
TARGETS = tuple(TARGET_KINDS)
SPLIT_KINDS = ("random:FRACTION", "kfold:K[:FOLD]", "new-in-ame2020", "none")
MIN_SPLIT_NUCLEI = 10  # fewest nuclei a random or k-fold split may leave on either side (each test fold)


@dataclass(frozen=True)
class Selection:
    """Which AME2020 nuclides enter: a subset plus cuts (Z, N >= min, uncertainty <= max_unc MeV)."""

    subset: str = "all"
    min_z: int = 8
    min_n: int = 8
    max_unc: float | None = 0.1
    include_estimated: bool = False

    def describe(self) -> str:
        """The selection in words: 'even-even, Z >= 30, N >= 30, dME <= 0.1 MeV, measured only'."""
        unc = "no uncertainty cut" if self.max_unc is None else f"dME <= {self.max_unc} MeV"
        return (f"{self.subset}, Z >= {self.min_z}, N >= {self.min_n}, {unc}, "
                + ("estimated values included" if self.include_estimated else "measured only"))

    def __post_init__(self):
        if not isinstance(self.subset, str):
            raise KansymError(f"subset must be a name such as 'even-even', got {self.subset!r}")
        choose("subset", self.subset, SUBSETS)
        for option, value in (("--min-z", self.min_z), ("--min-n", self.min_n)):
            if not (_is_integer(value) and 0 <= value <= 300):
                raise KansymError(f"{option} must be an integer in 0 .. 300, got {value!r}")
        if self.max_unc is not None and not (_is_real(self.max_unc) and np.isfinite(self.max_unc) and self.max_unc > 0):
            raise KansymError(f"--max-unc must be a positive number of MeV (or none), got {self.max_unc!r}")
        if not isinstance(self.include_estimated, (bool, np.bool_)):
            raise KansymError(f"include_estimated must be True or False, got {self.include_estimated!r} "
                              f"({type(self.include_estimated).__name__})")


def _is_integer(value) -> bool:
    """An int or NumPy integer, not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value) -> bool:
    """A real number (int, float or NumPy scalar), not a bool or a string."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def select_nuclei(sel: Selection, experiment: pd.DataFrame | None = None) -> pd.DataFrame:
    """AME2020 rows passing ``sel``; raises naming the cut that leaves no nuclei."""
    df = tables.load_experiment("ame2020") if experiment is None else experiment
    z, n = df["Z"].to_numpy(), df["N"].to_numpy()
    cuts = [
        (f"subset {sel.subset}", SUBSETS[sel.subset](z, n)),
        (f"Z >= {sel.min_z}", z >= sel.min_z),
        (f"N >= {sel.min_n}", n >= sel.min_n),
    ]
    if not sel.include_estimated:
        cuts.append(("measured only (no '#' values)", ~df["estimated"].to_numpy()))
    if sel.max_unc is not None:
        cuts.append((f"uncertainty <= {sel.max_unc} MeV", df["dME"].to_numpy() <= sel.max_unc + 1e-12))
    keep = np.ones(len(df), dtype=bool)
    for name, mask in cuts:
        keep &= mask
        if not keep.any():
            raise KansymError(f"no nuclei left after the cut {name!r} (selection: {sel.describe()})")
    return df[keep].reset_index(drop=True)


# --------------------------------------------------------------------------- splits

def fisher_yates(n: int, rng: np.random.Generator) -> np.ndarray:
    """A permutation of range(n) by the Fisher-Yates shuffle driven by ``rng``."""
    perm = np.arange(n)
    for i in range(n - 1, 0, -1):
        j = int(rng.integers(0, i + 1))
        perm[i], perm[j] = perm[j], perm[i]
    return perm


def parse_split(spec: str) -> tuple[str, tuple]:
    """Parse a split spec into (kind, args); invalid specs list the valid forms."""
    bad = KansymError(f"unknown split {spec!r}; valid choices: {', '.join(SPLIT_KINDS)} "
                      "(e.g. random:0.8, kfold:3, kfold:5:2)")
    if spec in ("new-in-ame2020", "none"):
        return spec, ()
    kind, colon, rest = spec.partition(":")
    if colon and not rest.strip() or rest != rest.strip() or not spec.isascii():
        raise bad  # 'random:' or 'kfold:' with nothing after the colon, spaces, non-ASCII digits
    try:
        if kind == "random":
            frac = float(rest) if rest else 0.8
            if not 0.0 < frac < 1.0:
                raise KansymError(f"split {spec!r}: the train fraction must lie strictly between 0 and 1")
            return "random", (frac,)
        if kind == "kfold":
            parts = [int(p) for p in rest.split(":")] if rest else [3]
            k, fold = parts[0], (parts[1] if len(parts) > 1 else 0)
            if len(parts) > 2 or k < 2 or not 0 <= fold < k:
                raise KansymError(f"split {spec!r}: need kfold:K[:FOLD] with K >= 2 and 0 <= FOLD < K")
            return "kfold", (k, fold)
    except KansymError:
        raise
    except ValueError:
        raise bad from None
    raise bad


def check_split_sizes(spec: str, kind: str, args: tuple, n: int, min_nuclei: int = MIN_SPLIT_NUCLEI) -> None:
    """Refuse a random or k-fold split of ``n`` nuclei that leaves fewer than ``min_nuclei`` on either side
    (for k-fold: in the smallest test fold); one-line KansymError stating the bound."""
    if kind == "random":
        n_train = int(round(args[0] * n))
        if min(n_train, n - n_train) < min_nuclei:
            raise KansymError(f"split {spec!r} leaves {n_train} training and {n - n_train} test nuclei of {n}; "
                              f"each side needs at least {min_nuclei}" + _fraction_hint(n, min_nuclei))
    elif kind == "kfold":
        k = args[0]
        if n // k < min_nuclei:
            bound = (f"so K <= {n // min_nuclei} for these {n} nuclei" if n // min_nuclei >= 2
                     else f"{n} nuclei are too few for 2 folds; use --split none")
            raise KansymError(f"split {spec!r}: {k} folds of {n} nuclei leave {n // k} nuclei in the smallest test "
                              f"fold; each fold needs at least {min_nuclei}, {bound}")


def _fraction_hint(n: int, min_nuclei: int) -> str:
    """The admissible train fractions for ``n`` nuclei, as the tail of a message."""
    if n < 2 * min_nuclei:
        return f"; {n} nuclei are too few for a test split, use --split none"
    return f", i.e. a train fraction between {min_nuclei / n:.3g} and {1 - min_nuclei / n:.3g} here"


def split_labels(nuclei: pd.DataFrame, spec: str, seed: int = 0, min_nuclei: int = MIN_SPLIT_NUCLEI) -> np.ndarray:
    """'train' / 'test' per row of ``nuclei`` (needs Z, N) for a split spec and seed; random and k-fold
    splits that leave fewer than ``min_nuclei`` on either side (in a test fold) are refused."""
    kind, args = parse_split(spec)
    n = len(nuclei)
    check_split_sizes(spec, kind, args, n, min_nuclei)
    labels = np.full(n, "train", dtype=object)
    if kind == "none":
        if n < min_nuclei:
            raise KansymError(f"{n} selected nuclei are too few to train on; a fit needs at least {min_nuclei}: "
                              "widen the selection")
        return labels
    if kind == "new-in-ame2020":
        old = tables.load_experiment("ame2016")
        measured_2016 = set(zip(old.loc[~old["estimated"], "Z"], old.loc[~old["estimated"], "N"]))
        new = np.array([(z, nn) not in measured_2016 for z, nn in zip(nuclei["Z"], nuclei["N"])], dtype=bool)
        labels[new] = "test"
        if not 1 <= new.sum() < n:  # a held-out set was asked for: none, or nothing left to train on, is refused
            raise KansymError(f"split {spec!r} leaves {int(new.sum())} of the {n} selected nuclei new in AME2020 "
                              "(the test set) and the rest to train on; widen the selection or use --split none")
        if min(n - new.sum(), new.sum()) < min_nuclei:
            raise KansymError(f"split {spec!r} leaves {n - int(new.sum())} training and {int(new.sum())} test nuclei "
                              f"(new in AME2020) of {n}; each side needs at least {min_nuclei}: widen the selection"
                              + (" or use --split none" if n >= min_nuclei else ""))
        return labels
    rng = np.random.default_rng(seed)
    if kind == "random":
        perm = rng.permutation(n)
        labels[perm[int(round(args[0] * n)):]] = "test"
    else:
        k, fold = args
        perm = fisher_yates(n, rng)
        folds = np.empty(n, dtype=np.int64)
        folds[perm] = np.arange(n) * k // n
        labels[folds == fold] = "test"
    if not (labels == "train").any() or not (labels == "test").any():
        raise KansymError(f"split {spec!r} leaves an empty train or test set for {n} nuclei")
    return labels


# --------------------------------------------------------------------------- datasets

@dataclass(frozen=True)
class Dataset:
    """A regression table: ``frame`` holds Z, N, A, features, ``y`` (target, MeV) and ``split``."""

    frame: pd.DataFrame
    feature_names: tuple[str, ...]
    target: str
    model: str | None
    dropped: int = 0  # selected nuclei without a value in the model table
    notes: tuple[str, ...] = field(default=())

    @property
    def X(self) -> np.ndarray:
        return self.frame[list(self.feature_names)].to_numpy(dtype=np.float64)  # Z, N, A cast to float

    @property
    def y(self) -> np.ndarray:
        return self.frame["y"].to_numpy(dtype=np.float64)

    @property
    def w(self) -> np.ndarray | None:
        """Weights of the fits (column ``weight``, e.g. :func:`dme_weights`), None when the fits are unweighted."""
        return self.frame["weight"].to_numpy(dtype=np.float64) if "weight" in self.frame else None

    def mask(self, part: str) -> np.ndarray:
        """Boolean rows of 'train', 'test' or 'all'."""
        if part == "all":
            return np.ones(len(self.frame), dtype=bool)
        return (self.frame["split"] == part).to_numpy()

    def masks(self) -> dict[str, np.ndarray]:
        """{part: :meth:`mask`} for every part of :data:`kansym.metrics.SPLITS` (train, test, all)."""
        return {part: self.mask(part) for part in SPLITS}


def attach_model(nuclei: pd.DataFrame, model: str) -> tuple[pd.DataFrame, int]:
    """Join a model's ME (column ME_model) on (Z, N); returns rows with coverage and the number dropped."""
    m = tables.load_model(model)
    merged = nuclei.merge(m, on=["Z", "N"], how="left")
    covered = merged["ME_model"].notna().to_numpy()
    return merged[covered].reset_index(drop=True), int((~covered).sum())


WEIGHTS = ("none", "dme")
"""Weightings of the fits: none, or dme (:func:`dme_weights`)."""


def dme_weights(dme, floor: float) -> np.ndarray:
    """Weights 1 / (dME^2 + s^2) of nuclei whose measured mass excess has uncertainty ``dme`` [MeV], with a
    floor s = ``floor`` [MeV] (the accuracy a model can reach, so that the best-measured nuclei do not dominate),
    scaled to mean 1 (the scale changes no fit)."""
    d = np.asarray(dme, dtype=np.float64)
    if not (np.isfinite(d).all() and (d >= 0).all()):
        raise KansymError("weights from dME need a finite, non-negative uncertainty for every nucleus")
    w = 1.0 / (d ** 2 + float(floor) ** 2)
    return w / np.mean(w)


def build_dataset(sel: Selection, target: str, feature_set: str, split: str = "random:0.8",
                  seed: int = 0, model: str | None = None, weights: str = "none",
                  weight_floor: float = 0.1) -> Dataset:
    """Select nuclei, attach the target, features, split labels and (``weights='dme'``) the weights of
    :func:`dme_weights` with floor ``weight_floor`` [MeV]."""
    kind = TARGET_KINDS[choose("target", target, TARGETS)]
    names = feat.feature_names(feature_set)
    if kind.needs_model and model is None:
        raise KansymError("target 'residual' needs a mass model (--model), e.g. ws4")
    nuclei = select_nuclei(sel)
    dropped, notes = 0, []
    if model is not None:
        model = tables.check_model(model).name
        nuclei, dropped = attach_model(nuclei, model)
        if dropped:
            notes.append(f"{dropped} selected nuclei have no {tables.MODELS[model].label} value and were dropped")
        if nuclei.empty:
            raise KansymError(f"model {model} covers none of the selected nuclei")
    y = kind.values(nuclei)
    frame = nuclei.copy()
    fx = feat.features(frame["Z"], frame["N"], feature_set)
    for c in fx.columns:
        if c not in frame:  # Z, N, A stay integer columns
            frame[c] = fx[c].to_numpy()
    frame["y"] = y.to_numpy(dtype=np.float64)
    frame["split"] = split_labels(frame, split, seed)
    if choose("weights", weights, WEIGHTS) == "dme":
        frame["weight"] = dme_weights(frame["dME"], weight_floor)
    return Dataset(frame=frame, feature_names=names, target=target, model=model,
                   dropped=dropped, notes=tuple(notes))


def nuclei(subset: str = "all", min_z: int = 8, min_n: int = 8, max_unc: float | None = 0.1,
           include_estimated: bool = False, features: str | None = None, models=()) -> pd.DataFrame:
    """The bundled AME2020 nuclei of a selection as one DataFrame, for notebooks.

    Columns: Z, N, A, element, ME (mass excess), dME (its uncertainty), BE (binding energy), estimated
    (AME's '#' values), all in MeV; the columns of the feature set ``features`` (e.g. 'znv': Z, N and the
    distances to the nearest magic numbers); and ``ME_<model>`` for each mass model in ``models`` (NaN where
    the model has no value). ``max_unc=None`` keeps every uncertainty. ``include_estimated`` must be a bool
    (a string such as "no" is refused, not read by its truthiness); ``models`` may be one name or a list.
    """
    frame = select_nuclei(Selection(subset, min_z, min_n, max_unc, include_estimated))
    if models is None:
        models = ()
    if not isinstance(models, (str, list, tuple)):
        raise KansymError(f"models must be a mass model's name or a list of names, got {type(models).__name__}")
    models = (models,) if isinstance(models, str) else tuple(models)
    twice = sorted({m for m in models if models.count(m) > 1}, key=str)
    if twice:
        raise KansymError(f"models names {str(twice[0])[:40]!r} twice; name each mass model once")
    if features is not None:
        cols = feat.features(frame["Z"], frame["N"], features)
        frame = pd.concat([frame, cols[[c for c in cols.columns if c not in frame.columns]]], axis=1)
    for name in models:
        spec = tables.check_model(name)
        m = tables.load_model(spec.name).rename(columns={"ME_model": f"ME_{spec.name}"})
        frame = frame.merge(m[["Z", "N", f"ME_{spec.name}"]], on=["Z", "N"], how="left")
    return frame.reset_index(drop=True)
