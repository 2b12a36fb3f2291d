"""Sweeps: ``discover`` over the cartesian product of option grids, one run directory per point.

A sweep lives in ``<runs_dir>/sweep-<hash>/`` (the hash of its grids and fixed options), each point in
``p<k>-<config hash>/``; rerunning the same sweep skips the points already finished. Points are independent
tasks for :mod:`kansym.execution` (each point's own ensemble then trains in its worker, one process).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import pandas as pd

from kansym import figures as figs
from kansym.config import DiscoverConfig
from kansym.errors import KansymError
from kansym.execution import Execution, run_tasks
from kansym.pipeline import discover
from kansym.runs import config_hash, gather, write_text_atomic

TUPLE_FIELDS = {"width", "refine", "chains"}


def parse_value(name: str, text: str):
    """A DiscoverConfig value from text, typed like the field's default ('none' is None)."""
    known = {f.name: f for f in fields(DiscoverConfig)}
    if name not in known:
        raise KansymError(f"unknown sweep option {name!r}; options are DiscoverConfig fields such as "
                          "seed, width, lamb, steps, grid, lib, features, max_constants")
    text = text.strip()
    if text.lower() == "none" and name not in ("crosscheck", "baseline", "split", "lib"):  # 'none' is a choice there
        return None
    if name in TUPLE_FIELDS:
        parts = [t for t in text.replace("/", ",").split(",") if t]
        return tuple(int(t) for t in parts) if name != "chains" else tuple(parts)
    default = known[name].default
    try:
        if isinstance(default, bool):
            if text.lower() not in ("true", "false"):
                raise ValueError(text)
            return text.lower() == "true"
        if isinstance(default, int) or name in ("seed", "ensemble", "steps", "min_z", "min_n", "max_hidden"):
            return int(text)
        if isinstance(default, float) or name in ("max_unc", "crosscheck_budget"):
            value = float(text)
            if not math.isfinite(value):
                raise ValueError(text)
            return value
    except ValueError:
        raise KansymError(f"sweep option {name}: {text!r} is not a valid value") from None
    return text


def parse_grid(spec: str) -> tuple[str, list]:
    """'seed=0:5' (integers 0..4), 'width=5;10' or 'lamb=1e-3,3e-3' -> (field, values). For tuple options
    (width, refine, chains) points are separated by ';' and a point's items by ',' or '/'."""
    if "=" not in spec:
        raise KansymError(f"--grid {spec!r} must read NAME=VALUES, e.g. seed=0:5 or lamb=1e-3,3e-3")
    name, values = (t.strip() for t in spec.split("=", 1))
    name = name.replace("-", "_")
    if ":" in values and name not in TUPLE_FIELDS and name not in ("split", "lib"):
        lo, hi = values.split(":", 1)
        try:
            points = [str(v) for v in range(int(lo), int(hi))]
        except ValueError:
            raise KansymError(f"--grid {spec!r}: a range reads START:STOP with integers") from None
    else:
        points = [v for v in values.split(";" if name in TUPLE_FIELDS else ",") if v.strip()]
    if not points:
        raise KansymError(f"--grid {spec!r} has no values")
    return name, [parse_value(name, v) for v in points]


@dataclass(frozen=True)
class Sweep:
    """The points of a sweep: resolved configurations and their folder names under ``root``."""

    root: Path
    grid: dict
    points: tuple[tuple[str, DiscoverConfig], ...]


def plan(base: DiscoverConfig, grids: dict[str, list], runs_dir: Path) -> Sweep:
    """Every combination of ``grids`` on top of ``base``, each resolved (so an invalid value fails before
    any fit), in a folder named by the sweep's hash."""
    if not grids:
        raise KansymError("a sweep needs at least one --grid NAME=VALUES")
    names = list(grids)
    spec = {"base": base.to_dict(), "grid": {k: [list(v) if isinstance(v, tuple) else v for v in vals]
                                             for k, vals in grids.items()}}
    spec["base"].pop("runs_dir", None)
    root = Path(runs_dir) / f"sweep-{config_hash(spec)}"
    points = []
    for k, combo in enumerate(itertools.product(*(grids[n] for n in names))):
        cfg = replace(base, **dict(zip(names, combo)), runs_dir=str(root)).resolved()
        science = {key: v for key, v in cfg.to_dict().items() if key != "runs_dir"}  # where it is written: no part
        points.append((f"p{k:03d}-{config_hash(science)}", cfg))
    return Sweep(root, dict(grids), tuple(points))


def _run_point(task) -> str:
    name, cfg = task
    discover(cfg, execution=Execution(jobs=1), run_id=name)
    return name


def run_sweep(sweep: Sweep, execution: Execution | None = None, progress=None) -> tuple[pd.DataFrame, list[str]]:
    """Run the points not yet finished; return (summary of every finished point, the names run now).
    A failing point stops the sweep with its error; the points finished before it are kept."""
    sweep.root.mkdir(parents=True, exist_ok=True)
    todo = [(n, c) for n, c in sweep.points if not (sweep.root / n / "metrics.json").exists()]
    done = run_tasks(_run_point, todo, execution, progress=progress)
    table = summary(sweep)
    write_text_atomic(sweep.root / "summary.csv", table.to_csv(index=False))
    if len(table):
        figs.save(sweep_plot(table, list(sweep.grid)), sweep.root / "summary.png")
    return table, done


def summary(sweep: Sweep) -> pd.DataFrame:
    """One row per finished point: the grid values, the KAN's and the formula's RMSE, the formula's
    constants and far-extrapolation deviation, and whether it is on the Pareto set of (test RMSE,
    constants, far deviation)."""
    df = gather(sweep.root)
    if df.empty:
        return df
    df = df[df["status"] == "ok"].copy()
    names = {n for n, _ in sweep.points}
    df = df[df["run_id"].isin(names)]
    for g in sweep.grid:
        df.insert(1, g, df.get(f"config.{g}"))
    cols = ["formula.rmse_mev.test", "formula.n_constants", "formula.far_rms_beyond_mev"]
    for c in cols:
        if c not in df:
            df[c] = np.nan
    v = df[cols].to_numpy(dtype=float)
    ok = np.isfinite(v).all(axis=1)
    df["pareto"] = [bool(ok[i]) and not any(ok[j] and np.all(v[j] <= v[i]) and np.any(v[j] < v[i])
                                            for j in range(len(v))) for i in range(len(v))]
    return df.reset_index(drop=True)


def sweep_plot(table: pd.DataFrame, grid_names):
    """Formula accuracy (test RMSE) against constants, coloured by the RMS departure from the reference
    beyond AME2020; the Pareto set circled."""
    plt = figs._plt()
    from matplotlib.colors import LogNorm

    fig, ax = plt.subplots(figsize=(7, 4.8))
    x = table["formula.n_constants"].to_numpy(dtype=float)
    y = table["formula.rmse_mev.test"].to_numpy(dtype=float)
    d = table["formula.far_rms_beyond_mev"].to_numpy(dtype=float)
    fin = np.isfinite(d) & (d > 0)
    norm = LogNorm(vmin=max(np.nanmin(d[fin]), 1e-3), vmax=max(np.nanmax(d[fin]), 2e-3)) if fin.any() else None
    sc = ax.scatter(x, y, c=np.where(fin, d, np.nan), cmap="viridis", norm=norm, s=36, label="sweep points")
    par = table["pareto"].to_numpy(dtype=bool)
    ax.scatter(x[par], y[par], facecolors="none", edgecolors="r", s=110, lw=1.2, label="Pareto set")
    for xi, yi, lab in zip(x, y, table[list(grid_names)].astype(str).agg(", ".join, axis=1)):
        if np.isfinite(xi) and np.isfinite(yi):
            ax.annotate(lab, (xi, yi), fontsize=6, xytext=(3, 3), textcoords="offset points")
    if fin.any():
        fig.colorbar(sc, ax=ax, label="formula: RMS departure beyond AME2020 [MeV]")
    ax.set_xlabel("constants of the chosen formula")
    ax.set_ylabel("formula test RMSE [MeV]")
    ax.set_title(f"sweep over {', '.join(grid_names)}")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
