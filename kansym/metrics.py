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
