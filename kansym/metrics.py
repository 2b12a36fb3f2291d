"""Accuracy measures shared by every stage (MeV in, MeV out)."""

from __future__ import annotations

import numpy as np

SPLITS = ("train", "test", "all")


def rms(x) -> float:
    """Root mean square of x (MeV); NaN for an empty array. A NaN in x gives NaN (never hidden)."""
    x = np.asarray(x, dtype=np.float64)
    if not x.size:
        return float("nan")
    with np.errstate(over="ignore"):  # a runaway candidate's RMS is inf, reported as such
        return float(np.sqrt(np.mean(x * x)))


def rmse_by_split(pred, y, masks: dict) -> dict[str, float]:
    """{split: RMS of pred - y over the rows of that split's boolean mask}."""
    pred, y = np.asarray(pred, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return {k: rms(pred[m] - y[m]) for k, m in masks.items()}


def pareto_mask(values, eligible=None) -> np.ndarray:
    """Rows of ``values`` (one objective per column, smaller is better) that no other eligible row dominates
    (as good in every objective and better in at least one); rows outside ``eligible`` are never on the front."""
    v = np.asarray(values, dtype=np.float64)
    ok = np.ones(len(v), dtype=bool) if eligible is None else np.asarray(eligible, dtype=bool)
    front = np.zeros(len(v), dtype=bool)
    for i in np.flatnonzero(ok):
        others = v[ok]
        front[i] = not (np.all(others <= v[i], axis=1) & np.any(others < v[i], axis=1)).any()
    return front
