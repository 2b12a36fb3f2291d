"""Speed of independent fits on more workers, with identical results.

A 4-point sweep (``--grid seed=0:4``, every other option the default of ``kansym discover --target be``)
run with ``--jobs 1`` and on a local Dask cluster of 2 single-threaded workers (processes); the results
must be identical bit for bit and the ratio of wall times is the figure of merit (target <= 0.6).
"""

import tempfile
import time
from pathlib import Path

from _common import write_result

from kansym.config import DiscoverConfig
from kansym.execution import Execution, available_cpus
from kansym.sweep import plan, run_sweep


def files(root: Path) -> dict:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.suffix in (".csv", ".json") and p.name not in ("summary.csv", "metrics.json",
                                                                                 "config.json", "crosscheck.json")}



def main():
    times, roots = {}, {}
    for label, execution in (("jobs_1", Execution(jobs=1)), ("dask_local_2_workers", Execution(jobs=2, backend="dask"))):
        runs = Path(tempfile.mkdtemp(prefix="kansym-bench-"))
        sweep = plan(DiscoverConfig(target="be", runs_dir=str(runs)), {"seed": [0, 1, 2, 3]}, runs)
        t = time.perf_counter()
        table, done = run_sweep(sweep, execution)
        times[label], roots[label] = round(time.perf_counter() - t, 1), sweep.root
        print(label, times[label], "s", flush=True)
    identical = files(roots["jobs_1"]) == files(roots["dask_local_2_workers"])
    write_result("scaling", {
        "selection": "kansym discover --target be defaults; sweep --grid seed=0:4 (4 points)",
        "cpus_available": available_cpus(),
        "wall_s": times, "ratio_dask2_over_jobs1": round(times["dask_local_2_workers"] / times["jobs_1"], 3),
        "target_ratio": 0.6, "identical_bit_for_bit": identical,
        "compared": "predictions, candidates, edges, importance, loss curves, formula.json, extrapolation (not wall "
                    "times, i.e. metrics.json and crosscheck.json)",
    })


if __name__ == "__main__":  # Dask's local cluster starts its workers as new processes
    main()
