"""Sweeps: validated before any fit, resumable, the same on local processes and a Dask cluster."""

import json

import pytest
from typer.testing import CliRunner

from conftest import TINY
from kansym.cli import app
from kansym.config import DiscoverConfig
from kansym.errors import KansymError
from kansym.execution import Execution
from kansym.runs import gather
from kansym.sweep import parse_grid, plan, run_sweep

runner = CliRunner()
FIXED = ["--steps", "3", "--refine", "5", "--width", "2", "--crosscheck", "none", "--extrapolate", "false",
         "--features", "zn", "--lib", "poly"]


def _base(tmp_path):
    return DiscoverConfig(target="be", runs_dir=str(tmp_path), features="zn", lib="poly", **TINY)


def _files(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.suffix in (".csv", ".json") and p.name not in ("summary.csv", "metrics.json",
                                                                                 "config.json")}


def test_grid_parsing():
    assert parse_grid("seed=0:3") == ("seed", [0, 1, 2])
    assert parse_grid("lamb=1e-3,3e-3") == ("lamb", [1e-3, 3e-3])
    assert parse_grid("width=5;10,3") == ("width", [(5,), (10, 3)])


@pytest.mark.parametrize("spec,match", [("nonsense=1,2", "unknown sweep option"), ("seed=a:b", "START:STOP"),
                                        ("lamb=abc", "not a valid value"), ("seed", "NAME=VALUES")])
def test_bad_grid_rejected_before_any_fit(spec, match, tmp_path):
    r = runner.invoke(app, ["sweep", "--grid", spec, *FIXED, "--runs-dir", str(tmp_path / "runs")])
    assert r.exit_code == 2 and match in r.output and not (tmp_path / "runs").exists()


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
