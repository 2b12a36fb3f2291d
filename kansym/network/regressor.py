"""KAN fit / predict / prune wrapper that contains pykan's side effects.

pykan seeds torch, numpy and random globally, prints, draws tqdm bars, and writes checkpoints and
``copy_temp*`` files into the current directory. Every call into pykan here runs inside
:func:`contained`, which works in a scratch directory, captures output, switches on float64 and
deterministic algorithms, and restores all global state afterwards. Same seed -> same bits.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import random
import tempfile
import threading
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from kansym.nuclear.baselines import Baseline, fit_baseline
from kansym.choices import Beyond, Trainer
from kansym.errors import KansymError
from kansym.network.fastfit import fit_stage, unsupported
from kansym.safeio import pid_alive


_CONTAINED = threading.RLock()
"""Held while pykan code runs: its seeds, dtype, cwd and streams are the process's, so threads take turns."""


@contextlib.contextmanager
def contained(seed: int, workdir: str | os.PathLike | None = None):
    """Run pykan code with a local seed, float64, deterministic kernels, one thread and a scratch cwd.

    Global RNG states, the default dtype, the deterministic-algorithms flag, the thread count, the
    working directory and stdout/stderr are all restored on exit. Threads of one process take turns.
    """
    with _CONTAINED:
        with _contained(seed, workdir) as scratch:
            yield scratch


@contextlib.contextmanager
def _contained(seed: int, workdir: str | os.PathLike | None = None):
    import torch

    rng_state = (torch.get_rng_state(), np.random.get_state(), random.getstate())
    dtype, deterministic = torch.get_default_dtype(), torch.are_deterministic_algorithms_enabled()
    threads = torch.get_num_threads()
    cwd = os.getcwd()
    with contextlib.ExitStack() as stack:
        scratch = workdir or stack.enter_context(tempfile.TemporaryDirectory(prefix=scratch_prefix("pykan")))
        Path(scratch, "model").mkdir(parents=True, exist_ok=True)  # pykan's prune() logs there
        try:
            torch.set_default_dtype(torch.float64)
            torch.use_deterministic_algorithms(True)
            # one thread: the networks are tiny, more threads only oversubscribe the cores, and the
            # floating-point reduction order (hence the bits) must not depend on the machine
            torch.set_num_threads(1)
            torch.manual_seed(seed)
            np.random.seed(seed % 2**32)
            random.seed(seed)
            os.chdir(scratch)
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                yield Path(scratch)
        finally:
            os.chdir(cwd)
            torch.set_num_threads(threads)
            torch.set_default_dtype(dtype)
            torch.use_deterministic_algorithms(deterministic)
            torch.set_rng_state(rng_state[0])
            np.random.set_state(rng_state[1])
            random.setstate(rng_state[2])


def scratch_prefix(kind: str) -> str:
    """Prefix of this process's scratch directories in the system temp dir: kansym-<kind>-<pid>-."""
    return f"kansym-{kind}-{os.getpid()}-"


def clean_stale_scratch() -> list[Path]:
    """Remove scratch directories left in the temp dir by kansym processes that no longer run (e.g. after
    SIGKILL, which skips every cleanup); return them."""
    import re
    import shutil


    removed = []
    for p in Path(tempfile.gettempdir()).glob("kansym-*-*-*"):
        m = re.fullmatch(r"kansym-(pykan|ensemble)-(\d+)-.*", p.name)
        if m and p.is_dir() and not pid_alive(int(m.group(2))):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


@dataclass(frozen=True)
class Scaler:
    """Affine map x' = (x - center) / scale, per column."""

    center: tuple[float, ...]
    scale: tuple[float, ...]

    def __post_init__(self):
        if len(self.center) != len(self.scale) or not all(np.isfinite(self.center)) or \
                not all(np.isfinite(s) and s > 0 for s in self.scale):
            raise ValueError("a scaler needs finite centres and finite positive scales, one per column")

    @classmethod
    def minmax(cls, x: np.ndarray) -> "Scaler":
        """Map each column's [min, max] onto [-1, 1] (constant columns are only centred)."""
        lo, hi = x.min(axis=0), x.max(axis=0)
        half = np.where(hi > lo, (hi - lo) / 2.0, 1.0)
        return cls(tuple(map(float, (hi + lo) / 2.0)), tuple(map(float, half)))

    @classmethod
    def standard(cls, x: np.ndarray) -> "Scaler":
        """Zero mean, unit standard deviation per column."""
        sd = x.std(axis=0)
        return cls(tuple(map(float, x.mean(axis=0))), tuple(map(float, np.where(sd > 0, sd, 1.0))))

    def forward(self, x: np.ndarray) -> np.ndarray:
        return (x - np.asarray(self.center)) / np.asarray(self.scale)

    def inverse(self, x: np.ndarray) -> np.ndarray:
        return x * np.asarray(self.scale) + np.asarray(self.center)


@dataclass(frozen=True)
class TrainSchedule:
    """The training recipe: grid refinement stages, LBFGS steps per stage, sparsity and pruning."""

    grids: tuple[int, ...] = (3, 5, 10, 20)
    steps: int = 20  # LBFGS steps per grid stage (the command line's default)
    lamb: float = 1e-3  # overall sparsity weight in the first (sparsifying) stage
    lamb_l1: float = 1.0
    lamb_entropy: float = 2.0
    prune: bool = True
    node_th: float = 1e-2
    edge_th: float = 3e-2
    prune_steps: int | None = None  # LBFGS steps after pruning (default: ``steps``)
    max_hidden: int | None = None  # keep at most this many hidden nodes per layer (highest attribution)
    # 'fast' (kansym.network.fastfit) or 'pykan' (MultKAN.fit): the same training evaluated by different code;
    # the networks differ by training noise
    trainer: str = "fast"

    def __post_init__(self):
        if not self.grids or any(g < 1 for g in self.grids) or list(self.grids) != sorted(self.grids):
            raise KansymError(f"grid schedule must be increasing positive integers, got {self.grids}")
        if self.steps < 1:
            raise KansymError(f"--steps must be >= 1, got {self.steps}")
        if self.lamb < 0 or self.lamb_l1 < 0 or self.lamb_entropy < 0:
            raise KansymError("sparsity weights (--lamb) must be >= 0")
        if self.max_hidden is not None and self.max_hidden < 1:
            raise KansymError(f"--max-hidden must be >= 1, got {self.max_hidden}")
        Trainer.parse(self.trainer, "trainer")


@dataclass(eq=False)
class KANRegressor(RegressorMixin, BaseEstimator):
    """A pykan MultKAN on scaled inputs and outputs, trained with LBFGS, sparsified and pruned.

    ``width`` is the hidden layer widths (e.g. (5,) for [n_in, 5, 1]). Learned state (trailing ``_``)
    is set by :meth:`fit`. Targets and predictions are in the caller's units (MeV).
    The network learns y minus a baseline fitted by least squares on the training data
    (``trend_``, a :class:`kansym.nuclear.baselines.Baseline`): with ``detrend`` a linear function of the
    inputs, with ``baseline='ld'``/``'ldx'`` a refitted liquid drop. Binding energies span
    400-2600 MeV; removing the baseline lets the network resolve the MeV-scale structure.

    **Beyond the training range** (``beyond='clamp'``, the default): the input of every layer is
    clamped, variable by variable, to the range it spans on the training nuclei (``bounds_``), so each
    edge function continues as a constant past the last value it was trained on. pykan's splines live
    on a grid that ends at the training range plus k extension intervals, where the B-spline basis no
    longer sums to one; past that the spline part is zero and only the SiLU base term remains. Inputs
    just beyond the data would land on that unconstrained part (one network of an ensemble can move
    by MeV there). Clamping changes nothing on the training nuclei (bit for bit), and a hidden node
    driven past its trained range by an unseen combination of inputs is held at the edge too.
    ``beyond='spline'`` evaluates pykan's network as it is.
    """

    width: tuple[int, ...] = (5,)
    k: int = 3
    schedule: TrainSchedule = field(default_factory=TrainSchedule)
    seed: int = 0
    detrend: bool = False  # subtract a least-squares linear function of the inputs before training
    baseline: str | None = None  # 'ld', 'ldx', 'linear' or 'none' (see kansym.nuclear.baselines); overrides detrend
    feature_names: tuple[str, ...] = ()  # input names; a liquid-drop baseline needs Z and N
    beyond: str = "clamp"  # inputs outside the training range: 'clamp' (see below) or 'spline' (pykan as is)

    @property
    def baseline_kind(self) -> str:
        return self.baseline or ("linear" if self.detrend else "none")

    def __post_init__(self):
        if not self.width or any(int(w) < 1 for w in self.width):
            raise KansymError(f"--width must be positive integers, got {self.width}")
        if len(self.width) > 10 or any(int(w) > 1000 for w in self.width):
            raise KansymError(f"--width allows at most 10 hidden layers of at most 1000 nodes, got {list(self.width)[:11]}")
        if not 1 <= self.k <= 5:
            raise KansymError(f"--k (spline order) must be between 1 and 5, got {self.k}")
        Beyond.parse(self.beyond, "rule beyond the training range")

    # ------------------------------------------------------------------ training
    def fit(self, X: np.ndarray, y: np.ndarray, X_test=None, y_test=None, progress=None,
            sample_weight=None) -> "KANRegressor":
        """Train on (X, y); X_test / y_test only feed the recorded test-loss curve. ``sample_weight`` (one
        positive number per row, None: all equal) weights the baseline's least squares and the network's squared
        errors (scaled to mean 1; the training curve is then the weighted RMSE)."""
        from kan import MultKAN

        X = np.asarray(X, dtype=np.float64)
        data = self._scaled_data(X, y, X_test, y_test, sample_weight)
        s = self.schedule
        curve: list[dict] = []

        def run(model, stage, steps, lamb):
            return self._train_stage(model, data, stage, steps, lamb, curve, progress)

        with contained(self.seed):
            width = [X.shape[1], *map(int, self.width), 1]
            model = MultKAN(width=width, grid=s.grids[0], k=self.k, seed=self.seed, auto_save=False,
                            ckpt_path="model", device="cpu")
            model = run(model, f"sparsify g={s.grids[0]}", s.steps, s.lamb)
            if s.prune:
                model = self._prune(model, data["train_input"])
                model = run(model, "retrain pruned", s.prune_steps or s.steps, 0.0)
            self.coarse_model_ = self._quiet(model.copy())
            for g in s.grids[1:]:
                model = self._quiet(model.refine(g))
                model = run(model, f"refine g={g}", s.steps, 0.0)
            self.importance_ = self._importance(model, data["train_input"], X)
            self.bounds_ = layer_bounds(model, data["train_input"])
            self.coarse_bounds_ = layer_bounds(self.coarse_model_, data["train_input"])
        self.model_ = model
        self.curve_ = curve
        self.n_features_in_ = X.shape[1]
        return self

    def _scaled_data(self, X: np.ndarray, y, X_test, y_test, sample_weight=None) -> dict:
        """Fit the input scaler, the baseline and the output scaler on the training rows; pykan's data dict of
        scaled tensors (train and test; ``train_weight`` with weights)."""
        import torch

        y = np.asarray(y, dtype=np.float64).reshape(-1, 1)
        if not (np.isfinite(X).all() and np.isfinite(y).all()):
            raise KansymError("training data contain NaN or infinite values")
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64).ravel()
        if w is not None:
            if len(w) != len(y) or not (np.isfinite(w).all() and (w > 0).all()):
                raise KansymError("sample weights must be one finite, positive number per training row")
            if self.schedule.trainer != "fast":
                raise KansymError("weighted training needs the fast trainer (--trainer fast); pykan's own "
                                  "MultKAN.fit has no sample weights")
            w = w / np.mean(w)
        if X_test is None or len(X_test) == 0:
            X_test, y_test = X, y
        X_test = np.asarray(X_test, dtype=np.float64)
        y_test = np.asarray(y_test, dtype=np.float64).reshape(-1, 1)
        self.x_scaler_ = Scaler.minmax(X)
        names = tuple(self.feature_names) or tuple(f"x{i}" for i in range(X.shape[1]))
        if len(names) != X.shape[1]:
            raise KansymError(f"feature_names has {len(names)} names for {X.shape[1]} input columns")
        self.trend_ = fit_baseline(self.baseline_kind, X, y.ravel(), names, w)
        y = y - self._trend(X).reshape(-1, 1)
        y_test = y_test - self._trend(X_test).reshape(-1, 1)
        self.y_scaler_ = Scaler.standard(y)
        t = lambda a: torch.tensor(np.ascontiguousarray(a), dtype=torch.float64)  # noqa: E731
        data = {"train_input": t(self.x_scaler_.forward(X)), "train_label": t(self.y_scaler_.forward(y)),
                "test_input": t(self.x_scaler_.forward(X_test)), "test_label": t(self.y_scaler_.forward(y_test))}
        if w is not None:
            data["train_weight"] = t(w.reshape(-1, 1))
        return data

    def _train_stage(self, model, data: dict, stage: str, steps: int, lamb: float, curve: list, progress):
        """One training stage of ``model``; its loss curve [MeV] appended to ``curve``."""
        try:
            try:
                res = self._fit_stage(model, data, steps, lamb, True)
            except UnboundLocalError:
                # pykan's grid update fails when a pruned node's samples are degenerate; train on
                # without updating the grid in this stage
                res = self._fit_stage(model, data, steps, lamb, False)
        except KansymError:
            raise
        except (RuntimeError, ValueError, UnboundLocalError, IndexError) as exc:
            raise KansymError(f"KAN training failed in stage '{stage}' ({type(exc).__name__}: {exc}); "
                              "try another --seed, a smaller --lamb or fewer --steps") from None
        for tr, te in zip(res["train_loss"], res["test_loss"]):
            curve.append({"stage": stage, "grid": model.grid, "train_rmse": float(tr) * self.y_scaler_.scale[0],
                          "test_rmse": float(te) * self.y_scaler_.scale[0]})
        if progress:
            progress(stage)
        return model

    def _prune(self, model, x):
        """pykan's node + edge pruning, optionally capped at ``max_hidden`` nodes per hidden layer.

        Hidden nodes left without any input edge are constant; pykan's grid update divides by their
        zero spread and produces NaN, so they are removed as well.
        """
        s = self.schedule
        if s.max_hidden is None:
            model = self._quiet(model.prune(node_th=s.node_th, edge_th=s.edge_th))
        else:
            model(x)
            model.attribute()
            keep = []
            for layer in range(1, len(model.width) - 1):
                score = model.node_scores[layer].detach().numpy()
                order = [int(i) for i in np.argsort(-score, kind="stable") if score[i] > s.node_th][: s.max_hidden]
                keep.append(sorted(order) or [int(np.argmax(score))])
            model = self._quiet(model.prune_node(active_neurons_id=keep, log_history=False))
            model(x)
            model.attribute()
            model.prune_edge(s.edge_th, log_history=False)
        model(x)
        alive = [[int(i) for i in np.flatnonzero(model.acts[layer].std(dim=0).numpy() > 0)] or [0]
                 for layer in range(1, len(model.width) - 1)]
        if any(len(a) < model.acts[layer + 1].shape[1] for layer, a in enumerate(alive)):
            model = self._quiet(model.prune_node(active_neurons_id=alive, log_history=False))
            model(x)
        return model

    def snapshot(self, which: str = "final") -> "KANRegressor":
        """This regressor with the final network or the coarse one (pruned, before grid refinement)."""
        self._check_fitted()
        if which == "final":
            return self
        if which != "coarse":
            raise KansymError(f"unknown network snapshot {which!r}; valid choices: final, coarse")
        other = copy.copy(self)
        other.model_ = self.coarse_model_
        other.bounds_ = self.coarse_bounds_
        return other

    def _fit_stage(self, model, data, steps, lamb, update_grid):
        s = self.schedule
        grid_steps = dict(stop_grid_update_step=max(steps // 2, 1), grid_update_num=min(10, max(steps // 2, 1)))
        if s.trainer == "fast" and unsupported(model) is None:
            res = fit_stage(model, data, steps, lamb, s.lamb_l1, s.lamb_entropy, update_grid, **grid_steps)
        elif "train_weight" in data:
            raise KansymError(f"weighted training needs the fast trainer, which cannot train this network "
                              f"({unsupported(model)})")
        else:
            res = model.fit(data, opt="LBFGS", steps=steps, lamb=lamb, lamb_l1=s.lamb_l1, lamb_entropy=s.lamb_entropy,
                            update_grid=update_grid, **grid_steps)
        if not np.isfinite(res["train_loss"][-1]):
            raise ValueError("the training loss is not finite")
        return res

    def _trend(self, X: np.ndarray) -> np.ndarray:
        return self.trend_.predict(np.asarray(X, dtype=np.float64))

    @staticmethod
    def _quiet(model):
        """pykan's prune/refine return models with auto_save=True; switch checkpoint writing off."""
        model.auto_save = False
        return model

    # ------------------------------------------------------------------ inference
    def _check_fitted(self):
        check_is_fitted(self, "model_")  # sklearn's NotFittedError: call fit() or load() first

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "model_")

    def _forward(self, X: np.ndarray, bounds) -> tuple[np.ndarray, list[np.ndarray]]:
        """The network's scaled output for rows of X with layer inputs clamped to ``bounds`` (None: as
        pykan has it), and the per-layer masks of clamped rows."""
        import torch

        self._check_fitted()
        with contained(self.seed), torch.no_grad(), clamped(self.model_, bounds) as seen, warnings.catch_warnings():
            # pykan's forward records each edge's spread over the rows: for one row torch warns of zero freedom
            warnings.filterwarnings("ignore", message=r"std\(\): degrees of freedom", category=UserWarning)
            out = self.model_(torch.tensor(self.x_scaler_.forward(X), dtype=torch.float64))
        return out.numpy(), seen

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predictions in target units for rows of X."""
        self._check_fitted()
        X = np.asarray(X, dtype=np.float64)
        out, _ = self._forward(X, self.bounds_ if self.beyond == "clamp" else None)
        return self.y_scaler_.inverse(out).ravel() + self._trend(X)

    def record_agrees(self, X_train: np.ndarray) -> str | None:
        """None if what training recorded from the training rows ``X_train`` (a checkpoint's scalers.json) is what
        the networks give on them now, else the name of what is not: the clamping bounds of both networks (final
        and coarse: the ranges their layers' inputs span) and the inputs' importance."""
        import torch

        self._check_fitted()
        X_train = np.asarray(X_train, dtype=np.float64)
        x = torch.tensor(self.x_scaler_.forward(X_train), dtype=torch.float64)
        for model, recorded in ((self.model_, self.bounds_), (self.coarse_model_, self.coarse_bounds_)):
            if recorded is None:
                continue
            with contained(self.seed):
                now = layer_bounds(model, x)
            if len(now) != len(recorded) or not all(
                    np.allclose(a, b, rtol=1e-9, atol=1e-12) for pair_now, pair_rec in zip(now, recorded)
                    for a, b in zip(pair_now, pair_rec)):
                return "clamping bounds (bounds or coarse_bounds)"
        with contained(self.seed):
            now = self._importance(self.model_, x, X_train)
        if not np.allclose(now, self.importance_, rtol=1e-9, atol=1e-12):
            return "importance"
        return None

    def _importance(self, model, x, X_train: np.ndarray) -> np.ndarray:
        """:func:`prediction_importance` of ``model`` on the scaled training inputs ``x`` (rows ``X_train``):
        pykan's attribution after a plain forward pass, which caches the activations it reads."""
        out = model(x).detach().numpy()
        return prediction_importance(model.feature_score.detach().numpy(), float(out.std()) * self.y_scaler_.scale[0],
                                     self.trend_, X_train)

    def outside(self, X: np.ndarray) -> np.ndarray:
        """Per row of X: True where some layer's input lies outside its training range (a clamped value)."""
        X = np.asarray(X, dtype=np.float64)
        self._check_fitted()
        if self.bounds_ is None:
            return np.zeros(len(X), dtype=bool)
        _, seen = self._forward(X, self.bounds_)
        return np.any(seen, axis=0)

    @property
    def pruned_width_(self) -> list[int]:
        """Nodes per layer after pruning, e.g. [2, 2, 1]."""
        self._check_fitted()
        return [w[0] if isinstance(w, list) else int(w) for w in self.model_.width]

    # ------------------------------------------------------------------ persistence
    def checkpoint_meta(self) -> dict:
        """Everything of a fitted regressor beside pykan's own checkpoint files, as plain data (``scalers.json``;
        written by :func:`kansym.runs.artifacts.save_network`, read by :meth:`load`)."""
        self._check_fitted()
        return {"width": list(self.width), "k": self.k, "seed": self.seed, "schedule": asdict(self.schedule),
                "beyond": self.beyond, "bounds": _bounds_json(self.bounds_),
                "coarse_bounds": _bounds_json(self.coarse_bounds_),
                "detrend": self.detrend, "baseline": self.baseline, "feature_names": list(self.feature_names),
                "trend": self.trend_.to_dict(),
                "x_scaler": asdict(self.x_scaler_), "y_scaler": asdict(self.y_scaler_),
                "importance": list(map(float, self.importance_)), "n_features_in": self.n_features_in_}

    @classmethod
    def from_checkpoint(cls, meta: dict, model, coarse) -> "KANRegressor":
        """A fitted regressor from its checkpoint: ``meta`` (``scalers.json`` in the current format, see
        :mod:`kansym.runs.migrate`) and pykan's final and coarse networks (read by
        :func:`kansym.runs.artifacts.load_network`). Inconsistent parts raise (ValueError, KeyError, ...)."""
        sched = dict(meta["schedule"])
        sched["grids"] = tuple(sched["grids"])
        self = cls(width=tuple(meta["width"]), k=meta["k"], schedule=TrainSchedule(**sched), seed=meta["seed"],
                   detrend=meta["detrend"], baseline=meta.get("baseline"),
                   feature_names=tuple(meta.get("feature_names", ())), beyond=meta["beyond"])
        self.trend_ = Baseline.from_dict(meta["trend"])
        self.model_ = self._quiet(model)
        self.coarse_model_ = self._quiet(coarse)
        self.x_scaler_ = Scaler(**{k: tuple(v) for k, v in meta["x_scaler"].items()})
        self.y_scaler_ = Scaler(**{k: tuple(v) for k, v in meta["y_scaler"].items()})
        self.importance_ = np.asarray(meta["importance"], dtype=float)
        self.bounds_ = _bounds_load(meta["bounds"])  # None: pykan's network as it is (no clamping rule)
        self.coarse_bounds_ = _bounds_load(meta["coarse_bounds"])
        self.n_features_in_ = int(meta["n_features_in"])
        _check_shapes(self)
        self.curve_ = []
        return self


def layer_bounds(model, x) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """(min, max) of each layer's input variables when ``model`` runs on ``x`` (scaled inputs)."""
    import torch

    with torch.no_grad():
        model(x)
        return tuple((a.min(dim=0).values.numpy().copy(), a.max(dim=0).values.numpy().copy())
                     for a in model.acts[: model.depth])


@contextlib.contextmanager
def clamped(model, bounds):
    """While active, every layer of ``model`` sees its inputs clamped to ``bounds`` (see ``layer_bounds``).

    Yields a list that collects, per layer and call, a boolean row mask of inputs that were clamped.
    ``bounds=None`` leaves the network as it is.
    """
    import torch

    seen: list[np.ndarray] = []
    if bounds is None:
        yield seen
        return

    def hook_for(lo, hi):
        lo_t, hi_t = torch.as_tensor(lo), torch.as_tensor(hi)

        def hook(_module, args):
            x = args[0]
            seen.append(((x < lo_t) | (x > hi_t)).any(dim=1).numpy())
            return (torch.clamp(x, lo_t, hi_t),)
        return hook

    handles = [layer.register_forward_pre_hook(hook_for(lo, hi)) for layer, (lo, hi) in zip(model.act_fun, bounds)]
    try:
        yield seen
    finally:
        for h in handles:
            h.remove()


def _bounds_json(bounds):
    return None if bounds is None else [[list(map(float, lo)), list(map(float, hi))] for lo, hi in bounds]


def _check_shapes(reg: "KANRegressor") -> None:
    """Scalers, layer bounds and both networks of a loaded checkpoint describe the same inputs."""
    n = reg.n_features_in_
    for name, sc in (("x_scaler", reg.x_scaler_), ("y_scaler", reg.y_scaler_)):
        want = n if name == "x_scaler" else 1
        if not (len(sc.center) == len(sc.scale) == want and np.all(np.isfinite(sc.center + sc.scale))):
            raise ValueError(f"{name} does not describe {want} finite column(s)")
    for label, model, bounds in (("model", reg.model_, reg.bounds_), ("coarse", reg.coarse_model_, reg.coarse_bounds_)):
        if model.width_in[0] != n:
            raise ValueError(f"the {label} network takes {model.width_in[0]} inputs, the scalers {n}")
        if bounds is None:
            continue
        if not all(np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)) for lo, hi in bounds):
            raise ValueError(f"the {label} network's layer bounds hold a number that is not finite (NaN or infinite)")
        if len(bounds) != model.depth or any(lo.shape != (w,) or hi.shape != (w,) or not np.all(lo <= hi)
                                             for (lo, hi), w in zip(bounds, model.width_in)):
            raise ValueError(f"the {label} network's layer bounds do not match its {model.depth} layers")


def _bounds_load(saved):
    return None if saved is None else tuple((np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64))
                                            for lo, hi in saved)


def input_spread(f, X: np.ndarray) -> np.ndarray:
    """Per column j of X: the standard deviation over the rows of f(X) - f(X with column j at its mean), in
    the units of f (MeV for a baseline); |w_j| std(x_j) for a linear f, 0 for a column f ignores."""
    X = np.asarray(X, dtype=np.float64)
    full = f(X)
    spread = np.zeros(X.shape[1])
    for j in range(X.shape[1]):
        held = X.copy()
        held[:, j] = X[:, j].mean()
        spread[j] = np.std(full - f(held))
    return spread


def prediction_importance(network_score, network_spread: float, trend: Baseline, X: np.ndarray) -> np.ndarray:
    """Each input's share of the spread of the prediction over the training rows X, normalised to sum to 1.

    The network's part is pykan's attribution (``feature_score``, in units of the spread of the network's
    output) times that spread [MeV]; the baseline's part is its :func:`input_spread` [MeV]. An input that
    moves the prediction only through the baseline (e.g. a 0/1 parity column in a linear baseline, which
    pruning leaves without an edge) thus gets its share.
    """
    score = np.asarray(network_score, dtype=np.float64) * network_spread
    return normalized(score + input_spread(trend.predict, X))


def normalized(score: np.ndarray) -> np.ndarray:
    """Scores scaled to sum to 1 (uniform if all are zero); a NaN or infinite score is an error."""
    score = np.asarray(score, dtype=np.float64)
    if not np.isfinite(score).all():
        raise KansymError(f"feature importance is not finite ({score.tolist()}): the network is degenerate; "
                          "try another --seed or a smaller --lamb")
    score = np.clip(score, 0.0, None)
    total = score.sum()
    return score / total if total > 0 else np.full_like(score, 1.0 / len(score))
