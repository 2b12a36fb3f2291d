"""The joint edge search (``--joint``): other well-fitting edge functions combined and refitted jointly (real data,
pykan, SymPy)."""

import json
import shutil

import pytest
from typer.testing import CliRunner

from conftest import tiny_config
from kansym.cli.commands import app
from kansym.pipeline.discovery import discover
from kansym.symbolic.candidates import MAX_JOINT_COMBINATIONS, TOP_PER_EDGE, joint_networks
from kansym.symbolic.formula import fit_network
from kansym.symbolic.library import resolve_library
from kansym.pipeline.config import load_dataset
from kansym.pipeline.recipe import load_run_stage

runner = CliRunner()


@pytest.fixture(scope="module")
def joint_run(tmp_path_factory):
    """A tiny run through the symbolic stage with the joint edge search on (Z, N, v_Z, v_N)."""
    tmp = tmp_path_factory.mktemp("joint")
    return discover(tiny_config(tmp, stage="all", steps=4, features="znv", joint=True))


def test_joint_networks_swap_edges_nearest_first(joint_run):
    """Each combination gives its edges one of their best fits (or x); the first ones swap a single edge, the
    chosen combination is never repeated and at most MAX_JOINT_COMBINATIONS are built."""
    cfg, stage = load_run_stage(joint_run.run_dir)
    ds = load_dataset(cfg)
    reg = stage.kept[0].snapshot(cfg.symbolic_from)
    net = fit_network(reg, ds.X[ds.mask("train")], resolve_library("physics"), on_poor="best")
    others = joint_networks(net)
    active = net.active_edges()
    assert active and 0 < len(others) <= MAX_JOINT_COMBINATIONS
    options = []
    for k in active:
        e = net.edges[k]
        ranked = [c.name for c in e.alternatives if c.name not in ("0", e.chosen.name)]
        options.append([e.chosen.name, *ranked[: TOP_PER_EDGE - 1], *(["x"] if "x" in ranked[TOP_PER_EDGE - 1:] else [])])
    sums = []
    for other in others:
        names = [other.edges[k].chosen.name for k in active]
        assert all(name in opts for name, opts in zip(names, options)), (names, options)
        ranks = [opts.index(name) for name, opts in zip(names, options)]
        assert any(ranks)  # never the chosen combination
        sums.append(sum(ranks))
    assert sums == sorted(sums) and sums[0] == 1  # nearest combinations first: a single edge one place down


def test_a_joint_run_is_checked_and_its_setting_is_recorded(joint_run, tmp_path):
    """The joint candidates are listed with their route; show accepts the run, and refuses it once config.json says
    the search did not run."""
    table = (joint_run.run_dir / "candidates.csv").read_text()
    assert ",joint," in table
    assert runner.invoke(app, ["show", str(joint_run.run_dir)]).exit_code == 0
    run = tmp_path / joint_run.run_dir.name
    shutil.copytree(joint_run.run_dir, run)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "joint": False}))
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 2 and "joint edge search" in r.output.replace("\n", " "), r.output
