"""One ensemble member as a task for :func:`kansym.network.execution.run_tasks`: fit the job's network on its
arrays and save it into the job's folder (a shared file system on a cluster)."""

from __future__ import annotations

from pathlib import Path

from kansym.runs.artifacts import save_network


def fit_member(job: dict) -> list[dict]:
    """Fit ``job["network"]`` (an unfitted ``KANRegressor`` that carries its seed) on the job's train and test
    arrays (weighted by ``job["w"]`` when given), save it to ``job["out_dir"]`` and return its loss curve."""
    reg = job["network"]
    reg.fit(job["X"], job["y"], job["X_test"], job["y_test"], sample_weight=job.get("w"))
    save_network(reg, Path(job["out_dir"]))
    return reg.curve_
