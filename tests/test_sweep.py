"""Sweeps: validated before any fit, resumable, the same on local processes and a Dask cluster."""

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import TINY
from kansym.cli.commands import app
from kansym.pipeline.config import DiscoverConfig
from kansym.errors import KansymError
from kansym.network.execution import Execution
from kansym.runs.store import gather
from kansym.pipeline.sweep import MAX_POINTS, parse_grid, plan, run_sweep, scratch_dir

runner = CliRunner()
FIXED = ["--steps", "3", "--refine", "5", "--width", "2", "--crosscheck", "none", "--extrapolate", "false",
         "--features", "zn", "--lib", "poly"]


def _base(tmp_path):
    return DiscoverConfig(target="be", runs_dir=str(tmp_path), features="zn", lib="poly", **TINY)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", ""])
    proc.wait()
    return proc.pid


def _owned(directory, pid):
    """``directory`` as a kansym process ``pid`` leaves it: created, with its owner file."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / ".owner-pid").write_text(str(pid))
    return directory


def _states(sweep):
    table = pd.read_csv(sweep.root / "summary.csv", keep_default_na=False)
    return dict(zip(table["run_id"], table["state"])), dict(zip(table["run_id"], table["reason"]))


def _files(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.suffix in (".csv", ".json") and p.name not in ("summary.csv", "metrics.json",
                                                                                 "config.json")}


def test_grid_parsing():
    assert parse_grid("seed=0:3") == ("seed", [0, 1, 2])
    assert parse_grid("lamb=1e-3,3e-3") == ("lamb", [1e-3, 3e-3])
    assert parse_grid("width=5;10,3") == ("width", [(5,), (10, 3)])


@pytest.mark.parametrize("spec,match", [("nonsense=1,2", "unknown sweep option"), ("seed=a:b", "START:STOP"),
                                        ("lamb=abc", "not a valid value"), ("seed", "NAME=VALUES"),
                                        ("width=2;a", "not a valid value"), ("seed=1,2,1", "repeats the value 1"),
                                        ("seed=0:100000000", f"at most {MAX_POINTS}"),
                                        ("seed=\uff10:\uff12", "non-ASCII digit"),  # fullwidth 0:2
                                        ("seed=\u0663", "non-ASCII digit"),  # Arabic-Indic 3
                                        ("lamb=1e-3,\uff11e-3", "non-ASCII digit")])
def test_bad_grid_rejected_before_any_fit(spec, match, tmp_path):
    r = runner.invoke(app, ["sweep", "--grid", spec, *FIXED, "--runs-dir", str(tmp_path / "runs")])
    assert r.exit_code == 2 and match in r.output and not (tmp_path / "runs").exists()
    assert len(r.output.strip().splitlines()) == 1 and "Traceback" not in r.output


def test_oversized_product_of_grids_rejected(tmp_path):
    r = runner.invoke(app, ["sweep", "--grid", "seed=0:100", "--grid", "grid=3,4,5,6,7,8,9,10,11,12,13", *FIXED,
                            "--runs-dir", str(tmp_path / "runs")])
    assert r.exit_code == 2 and "100 x 11 has 1100 points" in r.output and not (tmp_path / "runs").exists()
    assert len(r.output.strip().splitlines()) == 1


def test_invalid_point_rejected_before_any_fit(tmp_path):
    with pytest.raises(KansymError, match="--width"):
        plan(_base(tmp_path), {"width": [(2,), (0,)]}, tmp_path)
    assert not any(tmp_path.iterdir())


def test_sweep_is_resumable_and_identical_on_a_dask_cluster(tmp_path):
    pytest.importorskip("distributed")
    grids = {"seed": [0, 1]}
    local = plan(_base(tmp_path / "a"), grids, tmp_path / "a")
    table, done = run_sweep(local, Execution(jobs=1))
    assert len(done) == 2 and len(table) == 2 and (local.root / "summary.png").exists()
    assert run_sweep(local, Execution(jobs=1))[1] == []  # resumed: nothing left to run
    cluster = plan(_base(tmp_path / "b"), grids, tmp_path / "b")
    run_sweep(cluster, Execution(jobs=2, backend="dask"))
    assert local.root.name == cluster.root.name  # the sweep's name depends on its grids, not on where it runs
    assert _files(local.root) == _files(cluster.root)  # predictions, candidates, formulas: bit for bit
    rows = gather(local.root)
    assert set(rows["status"]) == {"ok"} and set(rows["config.seed"]) == {0, 1}


def test_cli_sweep_json(tmp_path):
    r = runner.invoke(app, ["sweep", "--grid", "seed=0:1", *FIXED, "--runs-dir", str(tmp_path), "--jobs", "1",
                            "--json"])
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["points"] == 1 and len(rep["summary"]) == 1 and "pareto" in rep["summary"][0]


def test_interrupted_points_are_completed_in_place(tmp_path):
    sw = plan(_base(tmp_path), {"seed": [0, 1]}, tmp_path)
    (a, _), (b, _) = sw.points
    dead = _dead_pid()
    # a sweep killed while computing point a: its scratch directory, with the run's staging directory inside
    staged = _owned(_owned(scratch_dir(sw.root, a), dead) / f".partial-{a}-s", dead)
    (staged / "config.json").write_text("{}")
    # point b: a staging directory of an older version, and a point directory that never got its metrics
    _owned(sw.root / f".partial-{b}-s", dead)
    (sw.root / b).mkdir()
    (sw.root / b / "config.json").write_text("{}")
    table, done = run_sweep(sw, Execution(jobs=1))
    assert done == [a, b] and table["state"].tolist() == ["done", "done"]
    assert sorted(p.name for p in sw.root.iterdir()) == sorted([a, b, "summary.csv", "summary.pdf", "summary.png"])  # no -2
    assert json.loads((sw.root / a / "config.json").read_text())["runs_dir"] == str(sw.root)
    assert json.loads((sw.root / b / "formula.json").read_text())["run_id"] == b


def test_summary_lists_every_point_and_unreadable_points_are_recomputed(tmp_path):
    sw = plan(_base(tmp_path), {"min_z": [30, 200], "seed": [0, 1]}, tmp_path)  # min_z=200 leaves no nuclei
    (a, _), (b, _), (c, _), (d, _) = sw.points
    sw.root.mkdir()
    _owned(scratch_dir(sw.root, b), os.getpid())  # another live process is computing b
    table, done = run_sweep(sw, Execution(jobs=1))
    state, reason = _states(sw)
    assert done == [a] and list(state) == [a, b, c, d] and table["run_id"].tolist() == [a, b, c, d]
    assert state == {a: "done", b: "missing", c: "failed", d: "failed"}
    assert "another kansym process" in reason[b] and "no nuclei left" in reason[c] and reason[a] == ""

    (sw.root / a / "metrics.json").write_text('{"rmse_mev": ')  # a finished point, damaged
    (sw.root / a / "old.txt").write_text("the damaged copy")
    _owned(scratch_dir(sw.root, a), os.getpid())
    run_sweep(sw, Execution(jobs=1))  # a and b are busy elsewhere: nothing is touched
    state, reason = _states(sw)
    assert state[a] == "missing" and (sw.root / a / "old.txt").exists()

    (scratch_dir(sw.root, a) / ".owner-pid").write_text(str(_dead_pid()))  # its process was killed
    table, done = run_sweep(sw, Execution(jobs=1))
    state, reason = _states(sw)
    assert done == [a] and state == {a: "done", b: "missing", c: "failed", d: "failed"}
    assert not (sw.root / a / "old.txt").exists() and "rmse_mev" in json.loads((sw.root / a / "metrics.json").read_text())
    assert sorted(p.name for p in sw.root.iterdir()) == sorted([a, scratch_dir(sw.root, b).name, "summary.csv",
                                                                 "summary.pdf", "summary.png"])
    assert table["pareto"].any() and not table.loc[table["state"] != "done", "pareto"].any()


def test_cli_failed_point_exits_1_with_summary(tmp_path):
    r = runner.invoke(app, ["sweep", "--grid", "min_z=200", *FIXED, "--runs-dir", str(tmp_path), "--jobs", "1"])
    assert r.exit_code == 1 and "1 of 1 points failed" in r.output and "no nuclei left" in r.output
    (root,) = tmp_path.glob("sweep-*")
    table = pd.read_csv(root / "summary.csv")
    assert table["state"].tolist() == ["failed"] and not list(root.glob(".partial-*"))


def test_a_finished_point_edited_since_is_checked_and_redone(tmp_path):
    sw = plan(_base(tmp_path), {"seed": [0]}, tmp_path)
    (a, _), = sw.points
    run_sweep(sw, Execution(jobs=1))
    metrics = json.loads((sw.root / a / "metrics.json").read_text())
    real = metrics["rmse_mev"]["test"]
    metrics["rmse_mev"]["test"] = 0.001  # an edit the summary (and its Pareto set) would otherwise take as is
    (sw.root / a / "metrics.json").write_text(json.dumps(metrics))
    said = []
    table, done = run_sweep(sw, Execution(jobs=1), progress=said.append)
    assert done == [a] and table.loc[0, "state"] == "done"
    assert any(line.startswith(f"point {a} is run again: its files disagree with its networks") for line in said), said
    assert json.loads((sw.root / a / "metrics.json").read_text())["rmse_mev"]["test"] == real
    assert table.loc[0, "kan_rmse_mev.test"] == pytest.approx(real)


def test_a_point_holding_another_points_run_is_redone(tmp_path):
    """Probe 30: a finished point whose folder holds another point's run (copied over it) passed the check of its
    files and its numbers were summarised under its own settings; its config.json must be its plan's."""
    import shutil

    sw = plan(_base(tmp_path), {"seed": [0, 1]}, tmp_path)
    (a, _), (b, _) = sw.points
    run_sweep(sw, Execution(jobs=1))
    shutil.rmtree(sw.root / b)
    shutil.copytree(sw.root / a, sw.root / b)
    table, done = run_sweep(sw, Execution(jobs=1))
    assert done == [b] and json.loads((sw.root / b / "config.json").read_text())["seed"] == 1
    assert table.set_index("run_id").loc[b, "config.seed"] == 1
