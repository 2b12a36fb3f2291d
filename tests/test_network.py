"""KAN training stage: run directory, determinism, containment, importance, bad input."""

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from kansym.cli.commands import app
from kansym.errors import KansymError
from kansym.network.regressor import KANRegressor, contained
from kansym.pipeline.discovery import discover
from kansym.pipeline.config import DiscoverConfig
from kansym.runs.store import StagedRun, list_runs
from kansym.runs.artifacts import load_network

from conftest import tiny_config

runner = CliRunner()


def test_run_directory_contents(tiny_run):
    d = tiny_run.run_dir
    for name in ("config.json", "metrics.json", "predictions.csv", "importance.csv", "loss_curve.csv",
                 "figures/network.png", "figures/residual_chart.png", "kan/model_state", "kan/scalers.json"):
        assert (d / name).exists(), name
    assert (d / "figures/network.png").stat().st_size > 1000
    cfg = json.loads((d / "config.json").read_text())
    assert cfg["seed"] == 0 and cfg["features"] == "znst" and cfg["min_z"] == 30
    assert len(cfg["data_sha256"]) >= 8 and cfg["kansym_version"]
    m = json.loads((d / "metrics.json").read_text())
    assert m["n_nuclei"] == 538 and m["counts"]["train"] + m["counts"]["test"] == 538
    assert all(np.isfinite(v) for v in m["rmse_mev"].values())
    preds = pd.read_csv(d / "predictions.csv")
    assert list(preds.columns[:7]) == ["Z", "N", "A", "split", "target", "prediction", "residual"]
    assert np.allclose(preds.target - preds.prediction, preds.residual)


def test_checkpoint_reloads_to_same_predictions(tiny_run):
    d = tiny_run.run_dir
    reg = load_network(d / "kan")
    preds = pd.read_csv(d / "predictions.csv")
    from kansym.nuclear.features import features
    X = features(preds.Z, preds.N, "znst").to_numpy()
    assert np.allclose(reg.predict(X), preds.prediction, rtol=0, atol=1e-9)


def test_importance_sums_to_one(tiny_run):
    imp = pd.read_csv(tiny_run.run_dir / "importance.csv")
    assert list(imp.feature) == ["Z", "N", "s_Z", "s_N", "t_Z", "t_N"]
    assert imp.importance.sum() == pytest.approx(1.0)
    assert (imp.importance >= 0).all()


def test_same_seed_bit_identical(tmp_path):
    a = discover(tiny_config(tmp_path / "a"))
    b = discover(tiny_config(tmp_path / "b"))
    assert a.metrics["rmse_mev"] == b.metrics["rmse_mev"]
    pa = (a.run_dir / "predictions.csv").read_bytes()
    pb = (b.run_dir / "predictions.csv").read_bytes()
    assert pa == pb


def test_global_state_untouched_and_nothing_written_outside(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(1234)
    np.random.seed(1234)
    expected_t, expected_np = torch.rand(3), np.random.rand(3)
    torch.manual_seed(1234)
    np.random.seed(1234)
    dtype = torch.get_default_dtype()
    before = set(os.listdir(tmp_path))
    res = discover(tiny_config(tmp_path, runs_dir="myruns"))
    assert torch.equal(torch.rand(3), expected_t)
    assert np.array_equal(np.random.rand(3), expected_np)
    assert torch.get_default_dtype() == dtype
    assert set(os.listdir(tmp_path)) - before == {"myruns"}
    assert [p.name for p in (tmp_path / "myruns").iterdir()] == [res.run_dir.name]


def test_run_ids_cannot_collide(tmp_path):
    (tmp_path / "x").mkdir()  # a finished run with this id
    (tmp_path / "x" / "config.json").write_text("{}")
    with StagedRun(tmp_path, "x") as first, StagedRun(tmp_path, "x") as second:  # two started together
        assert first != second
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x", "x-2", "x-3"]
    assert (tmp_path / "x" / "config.json").read_text() == "{}"  # the existing run is untouched


def test_interrupted_run_leaves_no_run_directory(tmp_path):
    staged = StagedRun(tmp_path, "r1")
    with pytest.raises(KeyboardInterrupt):
        with staged as path:
            (path / "config.json").write_text("{}")
            raise KeyboardInterrupt
    assert not (tmp_path / "r1").exists()
    assert staged.path.name.startswith(".partial-r1")
    assert list_runs(tmp_path) == []


def test_run_failing_before_writing_anything_leaves_nothing(tmp_path):
    """A run that fails before it wrote a file (e.g. a training loss that is not finite) leaves no .partial-*
    folder holding only its owner file behind."""
    staged = StagedRun(tmp_path, "r1")
    with pytest.raises(KansymError):
        with staged:
            raise KansymError("training loss is not finite")
    assert list(tmp_path.iterdir()) == []


def test_bad_checkpoint(tmp_path):
    (tmp_path / "kan").mkdir()
    (tmp_path / "kan" / "scalers.json").write_text("{not json")
    with pytest.raises(KansymError, match="cannot load the KAN checkpoint"):
        load_network(tmp_path / "kan")


@pytest.mark.parametrize("kw,match", [
    (dict(width=(0,)), "--width"),
    (dict(grid=0), "--grid"),
    (dict(refine=(2,)), "--refine"),
    (dict(steps=0), "--steps"),
    (dict(k=9), "--k"),
    (dict(target="bogus"), "valid choices"),
    (dict(features="nope"), "valid choices"),
    (dict(ensemble=0), "--ensemble"),
])
def test_bad_training_options(tmp_path, kw, match):
    with pytest.raises(KansymError, match=match):
        cfg = tiny_config(tmp_path, **kw).resolved()
        KANRegressor(width=cfg.width, k=cfg.k, schedule=cfg.schedule())


def test_model_without_coverage_reports_dropped(tmp_path):
    # KTUY05 covers Z >= 2 but not every light nucleus in AME2020 with Z, N >= 2
    cfg = tiny_config(tmp_path, target="residual", model="ktuy05", subset="all", min_z=2, min_n=2, max_unc=None,
                      features="zn", split="random:0.8")
    from kansym.pipeline.config import load_dataset
    ds = load_dataset(cfg.resolved())
    full = DiscoverConfig(**{**cfg.resolved().to_dict(), "model": None, "target": "be", "width": (2,),
                             "refine": (5,), "crosscheck_generations": None}).resolved()
    assert len(load_dataset(full).frame) - len(ds.frame) == ds.dropped
    if ds.dropped:
        assert "were dropped" in ds.notes[0]


def test_unavailable_model_cli(tmp_path):
    r = runner.invoke(app, ["discover", "--target", "residual", "--model", "bhagwat14", "--runs-dir", str(tmp_path)])
    assert r.exit_code == 2 and "Bhagwat" in r.output


def test_cli_discover_runs_show(tmp_path):
    args = ["discover", "--stage", "kan", "--crosscheck", "none", "--steps", "2", "--refine", "5", "--width", "2", "--quiet",
            "--ensemble", "1", "--runs-dir", str(tmp_path)]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    run_dir = Path(r.output.strip().splitlines()[-1])
    assert run_dir.exists()
    r = runner.invoke(app, ["runs", "--runs-dir", str(tmp_path)])
    assert r.exit_code == 0 and run_dir.name[:10] in r.output
    r = runner.invoke(app, ["show", run_dir.name, "--runs-dir", str(tmp_path)])
    assert r.exit_code == 0 and "KAN RMSE" in r.output
    r = runner.invoke(app, ["show", "nonexistent", "--runs-dir", str(tmp_path)])
    assert r.exit_code == 2 and "no run" in r.output


def test_contained_restores_cwd_on_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RuntimeError):
        with contained(0):
            raise RuntimeError("boom")
    assert Path.cwd() == tmp_path


def test_ensemble_members_in_child_processes(tmp_path):
    res = discover(tiny_config(tmp_path, ensemble=2, steps=2))
    d = res.run_dir
    assert sorted(p.name for p in (d / "kan").iterdir()) == ["seed_0", "seed_1"]
    imp = pd.read_csv(d / "importance.csv")
    assert imp.importance.sum() == pytest.approx(1.0) and (imp["std"] >= 0).all()
    # the ensemble prediction is the mean of the reloaded members
    from kansym.pipeline.recipe import load_run_stage
    _, stage = load_run_stage(d)
    preds = pd.read_csv(d / "predictions.csv")
    assert np.allclose(stage.prediction, preds.prediction, atol=1e-9)
    # an in-process fit with the same seed equals the child-process member bit for bit
    solo = discover(tiny_config(tmp_path / "solo", steps=2))
    X = stage.dataset.X
    assert np.array_equal(load_network(solo.run_dir / "kan").predict(X), stage.members[0].predict(X))
