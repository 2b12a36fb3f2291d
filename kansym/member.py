"""One ensemble member as a task for :func:`kansym.execution.run_tasks`: fit a KAN on the arrays of a job
and save it into the job's folder (a shared file system on a cluster)."""

from __future__ import annotations

from pathlib import Path

from kansym.network import KANRegressor, TrainSchedule


def fit_member(job: dict) -> list[dict]:
    """Fit the network described by ``job`` (settings, seed, X/y train and test arrays, ``out_dir``), save it
    to ``out_dir`` and return its loss curve. Pure apart from that folder; the seed is in the job."""
    s = dict(job["settings"])
    sched = dict(s["schedule"])
    sched["grids"] = tuple(sched["grids"])
    reg = KANRegressor(width=tuple(s["width"]), k=s["k"], schedule=TrainSchedule(**sched), seed=s["seed"],
                       detrend=s["detrend"], baseline=s.get("baseline"),
                       feature_names=tuple(s.get("feature_names", ())), beyond=s.get("beyond", "clamp"))
    reg.fit(job["X"], job["y"], job["X_test"], job["y_test"])
    reg.save(Path(job["out_dir"]))
    return reg.curve_
