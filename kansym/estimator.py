"""``KANSymbolicRegressor``: the kansym recipe as a scikit-learn estimator for notebooks.

    from kansym import KANSymbolicRegressor, nuclei
    df = nuclei(subset="even-even", min_z=30, min_n=30, max_unc=None, features="zn")
    est = KANSymbolicRegressor(random_state=0).fit(df[["Z", "N"]], df["BE"])
    print(est.fit_report()); est.latex(); est.predict(df[["Z", "N"]])

``fit`` trains the pruned KAN (ensemble, clamping, baseline) and runs the symbolic stage with exactly the
recipe ``kansym discover`` uses (``kansym.pipeline.recipe.fit_recipe``), with the
command line's defaults for ``--target be``. Arrays are in MeV when they are energies; the far-extrapolation
check needs the nuclear tables and is applied by ``kansym discover``, not to arbitrary arrays. Bad arguments
raise ``kansym.KansymError``, a ``ValueError`` as scikit-learn expects.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import replace
from enum import Enum
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from kansym.nuclear.baselines import LIQUID_DROP, check_baseline
from kansym.nuclear.features import FEATURE_SETS, check_derived
from kansym.pipeline.config import MAX_LAMBDA, DiscoverConfig
from kansym.errors import KansymError, real_numbers, unmasked
from kansym.report.export import parameter_rows
from kansym.symbolic.formula import Formula, variable_symbols
from kansym.pipeline.predict import nuclei_frame, predict_table
from kansym.pipeline.recipe import fit_recipe, round_trip_candidates
from kansym.pipeline.registry import check_run
from kansym.runs.store import RunDir
from kansym.nuclear.targets import SUBSETS, Dataset, split_labels

MIN_SAMPLES = 10
MAX_ABS_VALUE = 1e12  # larger inputs or targets are refused: their squares in the least squares lose all precision or overflow


class KANSymbolicRegressor(RegressorMixin, BaseEstimator):
    """Pruned KAN -> edge fits -> closed-form formula with refitted constants.

    Parameters are those of ``kansym discover`` (see ``kansym discover --help``); ``None`` means the
    command line's default for binding energies. ``test_fraction`` of the rows (seeded by
    ``random_state``) is held out to score the candidates.

    Inputs: a DataFrame, or a plain array (columns named by ``feature_names``, else ``x0, x1, ...``).
    ``baseline='auto'`` subtracts the refitted liquid drop (``ldx``) when two columns are named Z and N;
    without them (e.g. a plain array) it falls back to ``linear`` (a least-squares linear function of the
    inputs) with a UserWarning and a note in ``notes_``, so plain arrays just work. An explicit ``'ld'`` or
    ``'ldx'`` without Z and N columns is refused with a KansymError naming the missing columns.

    Fitted attributes: ``network_`` (the KAN stage: members, consensus, ``predict``), ``candidates_``
    (one row per candidate formula, like PySR's ``equations_``), ``formula_`` (the chosen
    :class:`kansym.symbolic.formula.Formula`, or None when no candidate qualifies), ``notes_``,
    ``feature_names_in_``, ``n_features_in_``.
    """

    def __init__(self, *, width=None, grid=3, refine=None, k=3, steps=None, lamb=1e-3, prune=True,
                 max_hidden="auto", baseline="auto", ensemble=1, aggregate="median", beyond="clamp",
                 trainer="fast", lib="physics+poly", r2_min=0.9, poor_edges="best", max_constants=12, expand=False,
                 joint=False, lamb_l1=1.0, lamb_entropy=2.0, symbolic_from="coarse", search_budget=None, cv_folds=5,
                 uncertainty=None, test_fraction=0.2, random_state=0):
        self.width = width
        self.grid = grid
        self.refine = refine
        self.k = k
        self.steps = steps
        self.lamb = lamb
        self.prune = prune
        self.max_hidden = max_hidden
        self.baseline = baseline
        self.ensemble = ensemble
        self.aggregate = aggregate
        self.beyond = beyond
        self.trainer = trainer
        self.lib = lib
        self.r2_min = r2_min
        self.poor_edges = poor_edges
        self.max_constants = max_constants
        self.expand = expand
        self.joint = joint
        self.lamb_l1 = lamb_l1
        self.lamb_entropy = lamb_entropy
        self.symbolic_from = symbolic_from
        self.search_budget = search_budget
        self.cv_folds = cv_folds
        self.uncertainty = uncertainty
        self.test_fraction = test_fraction
        self.random_state = random_state

    # ------------------------------------------------------------------ fit

    _REALS = ("lamb", "lamb_l1", "lamb_entropy", "r2_min", "test_fraction")
    _WHOLE = ("grid", "k", "ensemble", "max_constants", "cv_folds", "random_state")
    _FLAGS = ("prune", "expand", "joint")

    def _check_arguments(self) -> None:
        """Each argument of the right type (NumPy scalars count as numbers, booleans do not), before any of them
        is used; errors name the argument."""
        def number(v):
            return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))

        def bad(name, what):
            raise KansymError(f"{name} must be {what}, got {getattr(self, name)!r}")

        for name in self._REALS:
            if not number(getattr(self, name)) or not np.isfinite(getattr(self, name)):
                bad(name, "a finite number")
        for name in ("lamb", "lamb_l1", "lamb_entropy"):
            if not 0 <= getattr(self, name) <= MAX_LAMBDA:
                bad(name, f"a number in [0, {MAX_LAMBDA:g}]")
        for name in self._WHOLE:
            if not isinstance(getattr(self, name), (int, np.integer)) or isinstance(getattr(self, name), bool):
                bad(name, "a whole number")
        for name in ("steps", "search_budget"):
            v = getattr(self, name)
            if v is not None and (not number(v) or (name == "steps" and not isinstance(v, (int, np.integer)))):
                bad(name, "None or a " + ("whole number" if name == "steps" else "number of seconds"))
        for name in self._FLAGS:
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                bad(name, "True or False")
        if self.uncertainty is not None and not isinstance(self.uncertainty, (bool, np.bool_)):
            bad("uncertainty", "None, True or False")
        whole = (int, np.integer)
        if not (self.max_hidden in ("auto", None) or (isinstance(self.max_hidden, whole)
                                                       and not isinstance(self.max_hidden, bool))):
            bad("max_hidden", "'auto', None or a whole number")
        for name in ("width", "refine"):
            v = getattr(self, name)
            items = (v,) if isinstance(v, whole) and name == "width" else v
            if v is not None and not (isinstance(items, (tuple, list)) and len(items) and all(
                    isinstance(w, whole) and not isinstance(w, bool) for w in items)):
                bad(name, "None, a whole number or a non-empty tuple of them" if name == "width" else "None or a "
                    "non-empty tuple of whole numbers")

    def _config(self, names: tuple[str, ...]):
        """(resolved DiscoverConfig, note or None) for inputs ``names``, baseline by :func:`choose_baseline`."""
        self._check_arguments()
        width = (self.width,) if isinstance(self.width, (int, np.integer)) else self.width
        try:
            cfg = self._discover_config(width)
        except KansymError as exc:  # the checks speak in options; here they name the estimator's arguments
            raise KansymError(argument_names(str(exc))) from None
        baseline, note = choose_baseline(self.baseline, names)
        check_baseline(baseline, "be", names)
        return replace(cfg, baseline=baseline, detrend=baseline != "none"), note

    def _discover_config(self, width) -> DiscoverConfig:
        """The recipe's configuration of these arguments, as plain Python numbers (NumPy scalars converted: pykan
        writes its settings as YAML and seeds Python's ``random``)."""
        def whole(v):
            return None if v is None else int(v)

        def real(v):
            return None if v is None else float(v)

        return DiscoverConfig(target="be", width=None if width is None else tuple(map(int, width)), grid=int(self.grid),
                              refine=None if self.refine is None else tuple(map(int, self.refine)), k=int(self.k),
                              steps=whole(self.steps), lamb=real(self.lamb), prune=bool(self.prune),
                              max_hidden=-1 if self.max_hidden == "auto" else whole(self.max_hidden),
                              ensemble=int(self.ensemble), aggregate=self.aggregate, beyond=self.beyond,
                              trainer=self.trainer, lib=self.lib, r2_min=real(self.r2_min), poor_edges=self.poor_edges,
                              max_constants=int(self.max_constants), expand=bool(self.expand),
                              joint=bool(self.joint),
                              lamb_l1=real(self.lamb_l1), lamb_entropy=real(self.lamb_entropy),
                              symbolic_from=self.symbolic_from, search_budget=real(self.search_budget),
                              cv_folds=int(self.cv_folds),
                              uncertainty=None if self.uncertainty is None else bool(self.uncertainty),
                              seed=int(self.random_state), stage="symbolic", crosscheck="none",
                              extrapolate=False).resolved(environment=False)

    def fit(self, X, y, feature_names=None, sample_weight=None) -> "KANSymbolicRegressor":
        """Fit on rows of ``X`` (a DataFrame, or an array with ``feature_names``) and targets ``y``, weighted by
        ``sample_weight`` (one positive number per row, e.g. 1/(dME^2 + s^2); None: unweighted). The weights enter
        the network's squared errors, the baseline's and every formula's least squares and the constants' errors
        (which do not depend on the weights' scale: they are used divided by their median); RMSEs stay unweighted."""

        self._check_arguments()
        X, names = _as_matrix(X, feature_names)
        check_derived(X, names)  # a kansym feature set's derived columns must be those of each row's (Z, N)
        y = _targets(y, len(X))
        if len(y) and np.ptp(y) <= 1e-12 * max(1.0, float(np.abs(y).max())):
            raise KansymError("y is constant: there is nothing for a formula to learn (its constants would fit "
                             "rounding noise)")
        distinct = len(np.unique(X, axis=0)) if len(X) else 0
        if distinct < MIN_SAMPLES:
            raise KansymError(f"X has {distinct} distinct rows; a formula needs at least {MIN_SAMPLES} different "
                             "inputs")
        if sample_weight is not None:
            sample_weight = _weights(sample_weight, len(X))
        if not 0 <= self.test_fraction < 0.9:
            raise KansymError(f"test_fraction must lie in [0, 0.9), got {self.test_fraction!r}")
        n_train = int(round(len(X) * (1 - self.test_fraction)))
        if n_train < max(MIN_SAMPLES, 2 * int(self.max_constants)):
            raise KansymError(f"{n_train} training rows are too few for formulas of up to {self.max_constants} "
                             f"constants (need at least {max(MIN_SAMPLES, 2 * int(self.max_constants))})")
        cfg, note = self._config(names)
        if note:
            warnings.warn(note, UserWarning, stacklevel=2)
        frame = pd.DataFrame(X, columns=list(names))
        frame["y"] = y
        if sample_weight is not None:  # only the ratios matter: scaled to median 1 so that no tolerance sees the scale
            frame["weight"] = sample_weight / np.median(sample_weight)
        spec = "none" if self.test_fraction == 0 else f"random:{1 - self.test_fraction}"
        frame["split"] = split_labels(frame, spec, self.random_state, min_nuclei=1)
        self.fit_dataset(Dataset(frame, names, "custom", None), cfg)
        if note:
            self.notes_ = (note, *self.notes_)
        return self

    def fit_dataset(self, dataset, config, judge=None, save_dir: Path | None = None, progress=None,
                    symbolic: bool = True, execution=None) -> "KANSymbolicRegressor":
        """Fit on a :class:`kansym.nuclear.targets.Dataset` (rows, features, target and split) with a resolved
        :class:`kansym.pipeline.config.DiscoverConfig`: the one recipe behind :meth:`fit` and ``kansym discover``.
        ``judge`` (``kansym.checks.farcheck``) applies the far-extrapolation check to every candidate;
        ``save_dir`` keeps the networks' checkpoints; ``symbolic=False`` stops after the networks;
        ``execution`` (:class:`kansym.network.execution.Execution`) says where ensemble members train."""

        stage, search = fit_recipe(dataset, config, judge, save_dir, progress, symbolic, execution)
        self.config_ = config
        self.network_ = stage
        self.search_ = search
        self.candidates_ = (_with_sympy(search.table(), round_trip_candidates(search, dataset.feature_names))
                            if search else pd.DataFrame())
        self.formula_ = search.chosen.formula if search is not None and search.chosen is not None else None
        self.notes_ = tuple(search.notes) if search is not None else ()
        self.feature_names_in_ = np.array(dataset.feature_names, dtype=object)
        self.n_features_in_ = len(dataset.feature_names)
        return self

    # ------------------------------------------------------------------ use

    def __getstate__(self):
        """An unfitted estimator pickles and copies like any scikit-learn estimator; a fitted one holds pykan's
        networks, which do not (they keep lambdas): fit under ``kansym discover`` and reload the run instead."""
        if hasattr(self, "network_"):
            raise TypeError("a fitted KANSymbolicRegressor cannot be pickled or deep-copied (pykan's networks hold "
                            "functions that do not pickle): run `kansym discover` (or keep its run directory) and "
                            "reload it with KANSymbolicRegressor.from_run(path); sklearn.base.clone gives an unfitted "
                            "copy")
        return dict(self.__dict__)

    def _rows(self, X) -> np.ndarray:
        check_is_fitted(self, "network_")
        if hasattr(X, "columns"):
            missing = [n for n in self.feature_names_in_ if n not in X.columns]
            if missing:
                raise KansymError(f"X lacks the columns {', '.join(missing)} the estimator was fitted on")
            X = X[list(self.feature_names_in_)]
        X, _ = _as_matrix(X, tuple(self.feature_names_in_))
        if X.shape[1] != self.n_features_in_:
            raise KansymError(f"X has {X.shape[1]} columns; the estimator was fitted on {self.n_features_in_}")
        check_derived(X, tuple(self.feature_names_in_))
        return X

    def score(self, X, y, sample_weight=None) -> float:
        """R^2 of :meth:`predict` (the formula) on rows of ``X`` against ``y``, checked as :meth:`fit` checks them."""
        from sklearn.metrics import r2_score

        y = _targets(y)
        pred = self.predict(X)
        if len(pred) != len(y):
            raise KansymError(f"X has {len(pred)} rows but y has {len(y)} values")
        return float(r2_score(y, pred, sample_weight=None if sample_weight is None else _weights(sample_weight, len(y))))

    def predict(self, X, use: str = "formula") -> np.ndarray:
        """Predictions on rows of ``X``: from the chosen formula (``use='formula'``) or the network (``'kan'``).
        Rows where the prediction is not finite (inputs far outside any nucleus) are kept as NaN or inf, with a
        RuntimeWarning naming how many."""
        X = self._rows(X)
        if use not in ("formula", "kan"):
            raise KansymError(f"use must be 'formula' or 'kan', got {use!r}")
        if use == "kan":
            stage = self.network_
            pred, _, cons = stage.predict(X)
            why = stage.left_out(cons)
            if why:
                warnings.warn(f"KAN members diverging over these {len(X)} rows, left out for all of them: {why} (the "
                              "network's consensus is decided over the rows of one call, so its value for a row can "
                              "depend on the other rows)", UserWarning, stacklevel=2)
        else:
            pred = self._formula(None).evaluate(X)
        bad = int((~np.isfinite(pred)).sum())
        if bad:
            warnings.warn(f"the {use} prediction is not finite on {bad} of {len(pred)} rows", RuntimeWarning,
                          stacklevel=2)
        return pred

    def predict_nuclei(self, Z, N, use: str = "both") -> pd.DataFrame:
        """Mass table of nuclei (Z, N) (whole numbers or arrays of them): BE, ME, S_n, S_2n, S_p, S_2p, Q_alpha,
        Q_beta_minus [MeV], each with its predictive 1-sigma uncertainty (``kansym.checks.masstable``), the source
        ('kan', 'formula'; ``use='both'`` gives one row each) and the measured AME2020 values: the frame
        ``kansym predict`` writes. The features are built from (Z, N); a derived quantity is given only where its
        neighbour is among the nuclei asked for. An estimator fitted with ``fit`` must have a kansym feature set as
        its columns (e.g. Z, N) and binding energies as ``y``."""
        check_is_fitted(self, "network_")
        sources = {"both": ("kan", "formula"), "kan": ("kan",), "formula": ("formula",)}.get(use) \
            if isinstance(use, str) else None
        if sources is None:
            raise KansymError(f"use must be 'kan', 'formula' or 'both', got {str(use)[:20]!r}")
        nuclei = nuclei_frame(Z, N)
        cfg = self._nuclear_config()
        z, n = nuclei["Z"].to_numpy(), nuclei["N"].to_numpy()
        inside, selection = self._fitted_selection(cfg)
        outside = int((~inside(z, n)).sum())
        if outside:
            warnings.warn(f"{outside} of the {len(nuclei)} nuclei lie outside the selection the estimator was fitted on "
                          f"({selection}): extrapolation", UserWarning, stacklevel=2)
        found = predict_table(cfg, self.network_, self.formula_, nuclei, sources)
        for note in found.notes:
            warnings.warn(note, UserWarning, stacklevel=2)
        return found.table

    def _fitted_selection(self, cfg):
        """(inside(z, n) -> bool array, description): the nuclei the estimator was fitted on, as a selection: a run's
        (subset, Z >= min_z, N >= min_n), or for :meth:`fit` the rows given (their parity and Z and N ranges)."""
        frame = self.network_.dataset.frame
        if self.network_.dataset.target != "custom":
            return (lambda z, n: SUBSETS[cfg.subset](z, n) & (z >= cfg.min_z) & (n >= cfg.min_n),
                    f"{cfg.subset}, Z >= {cfg.min_z}, N >= {cfg.min_n}")
        fz, fn = frame["Z"].to_numpy(), frame["N"].to_numpy()
        subset = "even-even" if SUBSETS["even-even"](fz, fn).all() else "all"
        lo_z, hi_z, lo_n, hi_n = int(fz.min()), int(fz.max()), int(fn.min()), int(fn.max())
        return (lambda z, n: SUBSETS[subset](z, n) & (z >= lo_z) & (z <= hi_z) & (n >= lo_n) & (n <= hi_n),
                f"the rows given to fit: {subset}, Z = {lo_z}-{hi_z}, N = {lo_n}-{hi_n}")

    def _nuclear_config(self) -> DiscoverConfig:
        """The configuration whose features are this estimator's columns (a kansym feature set)."""
        names = tuple(self.feature_names_in_)
        if self.config_.features in FEATURE_SETS and FEATURE_SETS[self.config_.features] == names:
            return self.config_
        found = [k for k, v in FEATURE_SETS.items() if v == names]
        if not found:
            raise KansymError(f"predict_nuclei builds its inputs from (Z, N); the estimator was fitted on the columns "
                              f"{', '.join(names)[:80]}, which are not a kansym feature set "
                              f"({', '.join(f'{k}: {chr(44).join(v)}' for k, v in list(FEATURE_SETS.items())[:3])}, ...)")
        return replace(self.config_, features=found[0])

    def eval_uncertainty(self, X) -> np.ndarray:
        """One-standard-error band of the chosen formula from its constants' covariance (MeV)."""
        return self._formula(None).eval_uncertainty(self._rows(X))

    def _formula(self, index) -> Formula:
        check_is_fitted(self, "network_")
        if str(self.config_.stage) == "kan":
            raise KansymError("this run's stage was kan (the network only): it has no formula search; run `kansym "
                              "symbolic RUN` on it, or use predict(X, use='kan')")
        if index is None:
            if self.formula_ is None:
                raise KansymError("no candidate formula qualified (see notes_ and candidates_); pick one with "
                                  "sympy(index) or raise max_constants")
            return self.formula_
        if "formula" not in self.candidates_:
            raise KansymError("this run was written before kansym kept every candidate's formula (candidates.json): "
                              "its candidates are the candidates.csv table and only the chosen formula is rebuilt "
                              "(sympy() or latex() without an index); rerun `kansym symbolic` on it to keep them")
        n = len(self.candidates_)
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not -n <= index < n:
            raise KansymError(f"index must be None or a whole number in 0 .. {n - 1} (a row of candidates_; "
                              f"negative counts from the end, as in Python), got {str(index)[:20]!r}")
        return self.candidates_["formula"].iloc[index]

    def sympy(self, index: int | None = None):
        """The chosen formula (or candidate ``index`` of ``candidates_``) as a SymPy expression."""
        return self._formula(index).sympy()

    def latex(self, index: int | None = None, precision: int = 5) -> str:
        """LaTeX of the chosen formula (or candidate ``index``), numbers to ``precision`` significant digits
        (3 .. 17)."""
        return self._formula(index).latex(precision=precision)

    def fit_report(self, min_correl: float = 0.5) -> str:
        """Text report: the formula, its constants with standard errors, the correlations above
        ``min_correl``, and RMSE (in the units of y) on the training and held-out rows."""

        if isinstance(min_correl, bool) or not isinstance(min_correl, (int, float, np.integer, np.floating)) or \
                not 0 <= min_correl <= 1:
            raise KansymError(f"min_correl must be a number in [0, 1], got {str(min_correl)[:20]!r}")
        f = self._formula(None)
        row = self.candidates_.loc[self.candidates_["chosen"]].iloc[0]
        lines = ["[[Formula]]", f"    {f.sympy()}", f"    candidate {row['name']} (route {row['route']}), "
                 f"{f.n_constants} constants, size {f.size}",
                 "[[Fit]]", f"    RMSE train {row['rmse_train_mev']:.6g}, held out {row['rmse_test_mev']:.6g}, "
                 f"all {row['rmse_all_mev']:.6g}", "[[Constants]]"]
        width = max(len(p.name) for p in f.parameters) if f.parameters else 1
        for r in parameter_rows(f):
            err = "undetermined" if r["stderr"] is None else f"+/- {r['stderr']:.6g}"
            rel = "" if r["relative_uncertainty"] is None else f" ({100 * r['relative_uncertainty']:.2f}%)"
            flag = f"  [{r['flag']}]" if r["flag"] else ""
            lines.append(f"    {r['name']:<{width}} = {r['value']:.10g} {err}{rel}  {r['shorthand']}{flag}")
        corr = np.asarray(f.correlations, dtype=float)
        pairs = sorted(((abs(corr[i, j]), i, j) for i in range(len(corr)) for j in range(i + 1, len(corr))
                        if np.isfinite(corr[i, j]) and abs(corr[i, j]) > min_correl), reverse=True)
        if pairs:
            lines.append(f"[[Correlations]] (unreported correlations are < {min_correl})")
            for _, i, j in pairs:
                lines.append(f"    C({f.parameters[i].name}, {f.parameters[j].name}) = {corr[i, j]:+.4f}")
        if self.notes_:
            lines.append("[[Notes]]")
            lines += [f"    {n}" for n in self.notes_]
        return "\n".join(lines)

    # ------------------------------------------------------------------ runs

    @classmethod
    def from_config(cls, cfg) -> "KANSymbolicRegressor":
        """An (unfitted) estimator with the settings of a resolved ``DiscoverConfig`` (choices as plain strings, as
        a new estimator holds them)."""
        names = ("width", "grid", "refine", "k", "steps", "lamb", "prune", "max_hidden", "baseline", "ensemble",
                 "aggregate", "beyond", "trainer", "lib", "r2_min", "poor_edges", "max_constants", "expand", "joint",
                 "lamb_l1", "lamb_entropy", "symbolic_from", "search_budget", "cv_folds", "uncertainty")
        settings = {name: getattr(cfg, name) for name in names}
        return cls(**{name: value.value if isinstance(value, Enum) else value for name, value in settings.items()},
                   random_state=cfg.seed)

    @classmethod
    def from_run(cls, run_dir) -> "KANSymbolicRegressor":
        """The estimator of a ``kansym discover`` run directory: its networks, candidates and formula."""

        if not isinstance(run_dir, (str, Path)) or not str(run_dir).strip():
            raise KansymError(f"from_run needs the path of a run directory (a str or Path), got {str(run_dir)[:40]!r}")
        try:
            if Path(run_dir).is_symlink() and not Path(run_dir).exists():
                raise KansymError(f"{str(run_dir)[:200]} is a symbolic link to no directory; give the run directory "
                                  "itself")
            rd = RunDir(Path(run_dir))
            missing = [f for f in ("config.json", "metrics.json", "kan") if not rd.file(f).exists()]
            if missing:
                raise KansymError(f"{str(run_dir)[:200]} is not a complete kansym run: no {', '.join(missing)}")
            # every check `kansym show` makes: it exposes what show would print (the formula read by name and
            # checked against the run's data, the candidates as candidates.json gives them, None for an older run)
            cfg, stage, formula, formulas = check_run(rd.path, with_candidates=True)
        except OSError as exc:  # a name too long, a loop of links, a folder that cannot be read
            raise KansymError(f"cannot read the run {str(run_dir)[:200]}: {exc.strerror or type(exc).__name__}") \
                from None
        est = cls.from_config(cfg)
        est.config_ = cfg
        est.network_ = stage
        est.search_ = None
        est.formula_ = formula
        table = rd.read_csv("candidates.csv") if rd.file("candidates.csv").exists() else pd.DataFrame()
        est.candidates_ = table if formulas is None else _with_sympy(table, formulas)
        notes = rd.metrics.get("notes", {})
        est.notes_ = tuple(n for stage_notes in notes.values() for n in stage_notes) if isinstance(notes, dict) else ()
        est.feature_names_in_ = np.array(stage.dataset.feature_names, dtype=object)
        est.n_features_in_ = len(stage.dataset.feature_names)
        return est


_ARGUMENTS = {"--seed": "random_state", "--beyond-range": "beyond"}


def argument_names(message: str) -> str:
    """A check's message with command-line options named as this estimator's arguments (--r2-min -> r2_min,
    --seed -> random_state)."""
    return re.sub(r"--[a-z0-9][a-z0-9-]*", lambda m: _ARGUMENTS.get(m.group(0), m.group(0)[2:].replace("-", "_")),
                  message)


def choose_baseline(baseline: str, names) -> tuple[str, str | None]:
    """(baseline, note) for inputs ``names``: 'auto' is ``ldx`` with Z and N columns, else ``linear`` with a
    note saying why; an explicit liquid drop without Z and N is a KansymError naming the missing columns."""
    missing = [v for v in ("Z", "N") if v not in names]
    if baseline == "auto":
        if not missing:
            return "ldx", None
        return "linear", (f"the inputs ({', '.join(names)}) have no column named {' or '.join(missing)}: the "
                          "liquid-drop baseline is unavailable, using baseline='linear' (a least-squares linear "
                          "function of the inputs); name the columns Z and N (DataFrame columns or feature_names) "
                          "for the physics baseline")
    if baseline in LIQUID_DROP and missing:
        raise KansymError(f"baseline={baseline!r} is a liquid drop in Z and N; the inputs ({', '.join(names)}) "
                          f"lack {', '.join(missing)}: name those columns (DataFrame columns or feature_names) "
                          "or use baseline='linear' or 'auto'")
    return baseline, None


def _targets(y, rows: int | None = None) -> np.ndarray:
    """``y`` as a float64 vector of finite numbers (one per row of X when ``rows`` is given), or a KansymError (a
    ValueError)."""
    if isinstance(y, (str, bytes)):
        raise KansymError("y must hold real numbers, one per row of X")
    y = unmasked(y, "y")
    real_numbers(np.asarray(y).dtype.kind, "y")
    if np.ndim(y) > 1 and (np.ndim(y) > 2 or np.shape(y)[1] != 1):
        raise KansymError(f"y must be one target per row (a vector or one column), got shape {np.shape(y)}")
    y = np.asarray(y, dtype=np.float64).ravel()  # arrays, pandas Series and one-column frames alike
    if rows is not None and len(y) != rows:
        raise KansymError(f"X has {rows} rows but y has {len(y)} values")
    if not np.isfinite(y).all():
        raise KansymError(f"y has {int((~np.isfinite(y)).sum())} NaN or infinite values")
    if y.size and np.abs(y).max() > MAX_ABS_VALUE:
        raise KansymError(f"y holds values up to {np.abs(y).max():.3g} in magnitude; beyond {MAX_ABS_VALUE:.0e} "
                         "the least squares overflow in float64: rescale it")
    return y


def _weights(sample_weight, rows: int) -> np.ndarray:
    """``sample_weight`` as a float64 vector of ``rows`` finite, positive numbers within float64's safe range, or
    a KansymError (a ValueError)."""
    if isinstance(sample_weight, (str, bytes)):
        raise KansymError("sample_weight must be numbers, one per row of X")
    sample_weight = unmasked(sample_weight, "sample_weight")
    real_numbers(np.asarray(sample_weight).dtype.kind, "sample_weight")
    try:
        w = np.asarray(sample_weight, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise KansymError("sample_weight must be numbers, one per row of X") from None
    if len(w) != rows:
        raise KansymError(f"X has {rows} rows but sample_weight has {len(w)} values")
    if not (np.isfinite(w).all() and (w > 0).all()):
        raise KansymError("sample_weight must be finite and positive (leave a row out instead of giving it weight 0)")
    if w.min() < 1 / MAX_ABS_VALUE or w.max() > MAX_ABS_VALUE:
        raise KansymError(f"sample_weight must lie in [{1 / MAX_ABS_VALUE:.0e}, {MAX_ABS_VALUE:.0e}] (weighted squared "
                         "errors overflow or vanish in float64 beyond): rescale them, only their ratios matter to the "
                         "constants' errors")
    return w


def _as_matrix(X, feature_names) -> tuple[np.ndarray, tuple[str, ...]]:
    """(float64 rows, names) from a DataFrame or an array; checks shape, finiteness and names."""
    given = None

    if hasattr(X, "toarray") and not hasattr(X, "columns"):  # scipy.sparse
        raise KansymError("X is a sparse matrix: pass a dense array (X.toarray()) or a DataFrame")
    if hasattr(X, "columns"):
        if getattr(X.columns, "nlevels", 1) > 1 or not X.columns.is_unique:
            raise KansymError("X's columns must be plain names, each once (got "
                             f"{'a MultiIndex' if getattr(X.columns, 'nlevels', 1) > 1 else 'a name twice'})")
        names = tuple(str(c) for c in X.columns)
        if feature_names is not None and tuple(feature_names) != names:
            raise KansymError("feature_names disagree with the DataFrame's columns; pass one or the other")
        for name, dt in zip(names, X.dtypes):
            real_numbers(getattr(dt, "kind", "O"), f"X's column {name[:40]!r}")
        X = X.to_numpy(dtype=np.float64, na_value=np.nan)  # a missing value is refused below as not finite
    else:
        X = unmasked(X, "X")
        real_numbers(np.asarray(X).dtype.kind, "X")
        X = np.asarray(X, dtype=np.float64)
        given = X.shape  # as the caller gave it (a 1-D row is read as one column below)
        if X.ndim == 1:
            X = X[:, None]
        names = tuple(feature_names) if feature_names is not None else tuple(f"x{i}" for i in range(X.shape[1]))
    if not all(isinstance(n, str) for n in names):
        raise KansymError(f"feature_names must be strings, got {[type(n).__name__ for n in names][:5]}")
    if X.ndim != 2 or X.shape[1] != len(names):
        shape = given or X.shape
        raise KansymError(f"X must be 2-D with one column per feature name ({len(names)}), got shape {shape}"
                         + (" (one row of a table is X[[i]], not X[i])" if len(shape) == 1 else ""))
    if X.shape[1] == 0:
        raise KansymError("X has no columns: give at least one input")
    if not np.isfinite(X).all():
        raise KansymError(f"X has {int((~np.isfinite(X)).sum())} NaN or infinite values")
    if X.size and np.abs(X).max() > MAX_ABS_VALUE:
        raise KansymError(f"X holds values up to {np.abs(X).max():.3g} in magnitude; inputs beyond {MAX_ABS_VALUE:.0e} "
                         "overflow the scaling and least squares in float64: rescale the column")
    if len(set(names)) != len(names):
        raise KansymError(f"feature_names must be distinct, got {list(names)}")
    bad = [n for n, s in zip(names, variable_symbols(names))
           if not _PLAIN_NAME.fullmatch(s.name) or s.name in _RESERVED or len(s.name) > MAX_NAME_LENGTH]
    if bad:
        raise KansymError(f"feature name {bad[0][:40]!r}: use a letter followed by letters and digits, with at most one "
                         f"'_' before a subscript (e.g. x1, v_Z), at most {MAX_NAME_LENGTH} characters, and none of "
                         f"{', '.join(sorted(_RESERVED))} (they are mathematical constants or functions)")
    taken = [n for n in names if n in _TABLE_COLUMNS]
    if taken:
        raise KansymError(f"feature name {taken[0]!r} is a column of kansym's own table ({', '.join(_TABLE_COLUMNS)}: "
                         "the target, the split and the weights); rename that input")
    clash = [n for n in names if _CONSTANT_NAME.fullmatch(n)]
    if clash:
        raise KansymError(f"feature name {clash[0]!r} is named like a formula's constant (a_V, c_1, w_Z: a_*, c_*, w_*); "
                         "rename that input")
    return X, names


_TABLE_COLUMNS = ("y", "split", "weight")
MAX_NAME_LENGTH = 64  # as a formula entry's variable names (kansym.symbolic.formula)
_CONSTANT_NAME = re.compile(r"[acw]_[A-Za-z0-9]+")
"""The names formulas give their constants: the baselines' a_V ... and w_Z, w_0, the network's c_1, c_2, ..."""
_PLAIN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*(_[A-Za-z0-9]+)?")
"""Feature names that print in LaTeX as themselves: 'a__b' would print as a power, 'x_' as an empty subscript."""
_RESERVED = frozenset({"pi", "E", "I", "oo", "zoo", "nan", "sin", "cos", "tan", "tanh", "exp", "log", "sqrt", "Abs",
                       "sign", "cbrt", "Max", "Min", "Pow", "Mul", "Add"})
"""Names SymPy reads as constants or functions: an input so named would be taken for one."""


def _with_sympy(table: pd.DataFrame, formulas) -> pd.DataFrame:
    out = table.copy()
    out["formula"] = list(formulas)
    out["sympy"] = [f.sympy() for f in formulas]
    return out
