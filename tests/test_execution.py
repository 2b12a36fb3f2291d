"""Independent fits on local processes or a Dask cluster give the same networks, bit for bit."""

import os
import time

import pytest
from typer.testing import CliRunner

from conftest import tiny_config
from kansym.cli.commands import app
from kansym.pipeline.config import load_dataset
from kansym.errors import KansymError
from kansym.network.execution import Execution, available_cpus, run_tasks
from kansym.pipeline.recipe import train_kan

runner = CliRunner()


def _boom(x):
    if x == 2:
        raise ValueError("task 2 broke")
    return x * x


def test_available_cpus_follow_the_affinity_mask():
    if hasattr(os, "sched_getaffinity"):
        assert available_cpus() == len(os.sched_getaffinity(0))
    assert Execution().workers == available_cpus() and Execution(jobs=3).workers == 3


def test_results_keep_the_order_of_the_tasks_and_errors_surface():
    assert run_tasks(_boom, [0, 1, 3], Execution(jobs=2)) == [0, 1, 9]
    with pytest.raises(ValueError, match="task 2 broke"):
        run_tasks(_boom, [1, 2, 3], Execution(jobs=2))


def test_ensemble_identical_on_one_process_two_processes_and_a_dask_cluster(tmp_path):
    pytest.importorskip("distributed")
    cfg = tiny_config(tmp_path, ensemble=2, features="zn").resolved()
    ds = load_dataset(cfg)
    runs = {name: train_kan(cfg, ds, execution=ex) for name, ex in
            (("loky-1", Execution(jobs=1)), ("loky-2", Execution(jobs=2)),
             ("dask-local-2", Execution(jobs=2, backend="dask")))}
    ref = runs["loky-1"].prediction.tobytes()
    assert all(stage.prediction.tobytes() == ref for stage in runs.values())
    assert all([m.seed for m in stage.members] == [cfg.seed, cfg.seed + 1] for stage in runs.values())


def test_unreachable_scheduler_fails_fast_with_its_address(tmp_path):
    pytest.importorskip("distributed")
    t0 = time.perf_counter()
    with pytest.raises(KansymError, match="tcp://127.0.0.1:9"):
        Execution(backend="dask", scheduler="tcp://127.0.0.1:9").checked().reachable()
    r = runner.invoke(app, ["discover", "--backend", "dask", "--scheduler", "tcp://127.0.0.1:9",
                            "--runs-dir", str(tmp_path / "runs")])
    assert r.exit_code == 2 and "tcp://127.0.0.1:9" in r.output and "Traceback" not in r.output
    assert time.perf_counter() - t0 < 30 and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("args,match", [(["--jobs", "0"], "--jobs"), (["--backend", "mpi"], "--backend"),
                                        (["--scheduler", "tcp://x:1"], "needs --backend dask")])
def test_bad_execution_options(args, match, tmp_path):
    r = runner.invoke(app, ["discover", *args, "--runs-dir", str(tmp_path / "runs")])
    assert r.exit_code == 2 and match in r.output and not (tmp_path / "runs").exists()
