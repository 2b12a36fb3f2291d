"""Child-process entry point that trains one ensemble member: ``python -m kansym.member JOB_DIR``.

JOB_DIR holds ``job.json`` (regressor settings) and ``data.npz`` (train and test arrays); the fitted
network is saved into JOB_DIR with its loss curve in ``curve.json``. Running members as separate
interpreters keeps them independent of how the parent was started (scripts need no main guard).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from kansym.network import KANRegressor, TrainSchedule


def run(job_dir: Path) -> None:

    job = json.loads((job_dir / "job.json").read_text())
    data = np.load(job_dir / "data.npz")
    sched = job["schedule"]
    sched["grids"] = tuple(sched["grids"])
    reg = KANRegressor(width=tuple(job["width"]), k=job["k"], schedule=TrainSchedule(**sched), seed=job["seed"],
                       detrend=job["detrend"], baseline=job.get("baseline"),
                       feature_names=tuple(job.get("feature_names", ())), beyond=job.get("beyond", "clamp"))
    reg.fit(data["X"], data["y"], data["X_test"], data["y_test"])
    reg.save(job_dir)
    (job_dir / "curve.json").write_text(json.dumps(reg.curve_))


if __name__ == "__main__":
    run(Path(sys.argv[1]))
