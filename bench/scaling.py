"""Speed of independent fits on more workers, with identical results.

1. A 4-point sweep (``--grid seed=0:4``, every other option the default of ``kansym discover --target be``);
2. Table 1 (``kansym table1``: five models, split seed 0, defaults: 20 member fits);

each run with ``--jobs 1``, on a local Dask cluster of 2 single-threaded workers (processes, started inside
the timing) and with ``--jobs 2`` (local loky processes); the results must be identical bit for bit and the
ratio of wall times is the figure of merit (target for Dask <= 0.6). A sweep point is a whole run (KAN,
formula search, pyoperon cross-check, extrapolation), so 4 points on 2 workers also pay for the imbalance
of their durations; Table 1's tasks are single network fits.
"""

import tempfile
import time
from pathlib import Path

from _common import write_result

from kansym.pipeline.config import DiscoverConfig
from kansym.network.execution import Execution, available_cpus
from kansym.pipeline.sweep import plan, run_sweep
from kansym.pipeline.table1 import table1


def files(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.suffix in (".csv", ".json") and p.name not in ("summary.csv", "metrics.json",
                                                                                 "config.json", "crosscheck.json")}



EXECUTIONS = (("jobs_1", lambda: Execution(jobs=1)),
              ("dask_local_2_workers", lambda: Execution(jobs=2, backend="dask")),
              ("loky_2_workers", lambda: Execution(jobs=2)))


def sweep_case():
    times, roots = {}, {}
    for label, execution in EXECUTIONS:
        runs = Path(tempfile.mkdtemp(prefix="kansym-bench-"))
        sweep = plan(DiscoverConfig(target="be", runs_dir=str(runs)), {"seed": [0, 1, 2, 3]}, runs)
        t = time.perf_counter()
        run_sweep(sweep, execution())
        times[label], roots[label] = round(time.perf_counter() - t, 1), sweep.root
        print("sweep", label, times[label], "s", flush=True)
    return {"selection": "kansym discover --target be defaults; sweep --grid seed=0:4 (4 points)", "wall_s": times,
            "ratio_dask2_over_jobs1": round(times["dask_local_2_workers"] / times["jobs_1"], 3),
            "ratio_loky2_over_jobs1": round(times["loky_2_workers"] / times["jobs_1"], 3),
            "identical_bit_for_bit": files(roots["jobs_1"]) == files(roots["dask_local_2_workers"])
            == files(roots["loky_2_workers"]),
            "compared": "predictions, candidates, edges, importance, loss curves, formula.json, extrapolation (not "
                        "wall times, i.e. metrics.json and crosscheck.json)"}


def table1_case():
    times, frames = {}, {}
    for label, execution in EXECUTIONS:
        t = time.perf_counter()
        frames[label] = table1(seeds=1, execution=execution()).drop(columns="wall_time_s")
        times[label] = round(time.perf_counter() - t, 1)
        print("table1", label, times[label], "s", flush=True)
    return {"selection": "kansym table1 --seeds 1 (5 models, split seed 0, 4 members each: 20 fits)", "wall_s": times,
            "ratio_dask2_over_jobs1": round(times["dask_local_2_workers"] / times["jobs_1"], 3),
            "ratio_loky2_over_jobs1": round(times["loky_2_workers"] / times["jobs_1"], 3),
            "identical_bit_for_bit": frames["jobs_1"].equals(frames["dask_local_2_workers"])
            and frames["jobs_1"].equals(frames["loky_2_workers"]),
            "compared": "every column of the table except the wall time"}


def main():
    write_result("scaling", {"cpus_available": available_cpus(), "target_ratio": 0.6,
                             "table1": table1_case(), "sweep": sweep_case()})


if __name__ == "__main__":  # Dask's local cluster starts its workers as new processes
    main()
