"""Old formats become the current one in kansym.runs.migrate, and only there."""

import numpy as np

from kansym.nuclear.baselines import Baseline
from kansym.pipeline.config import DiscoverConfig
from kansym.runs.migrate import checkpoint_meta, config_record


def test_old_run_configs_read_as_they_ran():
    old = {"target": "be", "detrend": True, "lib": "physics"}
    new = config_record(old)
    assert new == {**old, "baseline": "linear", "aggregate": "mean", "trainer": "pykan", "lib": "physics+poly"}
    assert old == {"target": "be", "detrend": True, "lib": "physics"}  # the record read is not changed
    cfg = DiscoverConfig.from_dict(old)
    assert (cfg.baseline, cfg.aggregate, cfg.trainer, cfg.lib) == ("linear", "mean", "pykan", "physics+poly")
    current = {"target": "be", "baseline": "ldx", "aggregate": "median", "trainer": "fast", "lib": "physics",
               "crosscheck_generations": 50}
    assert config_record(current) == current


def test_old_checkpoints_read_as_they_ran():
    meta = {"schedule": {"grids": [3, 5]}, "trend": [[0.5, -1.0], 2.0], "n_features_in": 2}
    new = checkpoint_meta(meta)
    assert new["schedule"]["trainer"] == "pykan" and new["beyond"] == "spline" and new["bounds"] is None
    trend = Baseline.from_dict(new["trend"])
    X = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert trend.kind == "linear" and np.allclose(trend.predict(X), X @ [0.5, -1.0] + 2.0)
    flat = Baseline.from_dict(checkpoint_meta({**meta, "trend": [[0.0, 0.0], 0.0]})["trend"])
    assert flat.kind == "none" and np.all(flat.predict(X) == 0)
    assert "trainer" not in meta["schedule"]  # the record read is not changed


def test_the_known_fields_are_the_written_ones(tiny_run):
    """What the readers accept without refusing is exactly what the writers write: a checkpoint's scalers.json and
    a run's config.json."""
    import json

    from kansym.pipeline.registry import CONFIG_FIELDS
    from kansym.runs.migrate import CHECKPOINT_FIELDS

    scalers = next(tiny_run.run_dir.glob("kan/**/scalers.json"))
    assert set(json.loads(scalers.read_text())) == CHECKPOINT_FIELDS
    assert set(json.loads((tiny_run.run_dir / "config.json").read_text())) <= CONFIG_FIELDS


def test_a_run_records_the_library_versions_it_was_made_with(tiny_run, tmp_path):
    """config.json names the numerical libraries' versions; show prints them and, where the installed ones differ,
    says so (a rerun is bit-identical only with the same ones); a malformed record is refused."""
    import json
    import shutil

    from typer.testing import CliRunner

    from kansym.cli.commands import app
    from kansym.pipeline.config import LIBRARIES, library_versions

    runner = CliRunner()
    config = json.loads((tiny_run.run_dir / "config.json").read_text())
    assert config["library_versions"] == library_versions() and set(config["library_versions"]) == set(LIBRARIES)
    assert config["library_versions"]["numpy"] == __import__("numpy").__version__
    run = tmp_path / tiny_run.run_dir.name
    shutil.copytree(tiny_run.run_dir, run)
    r = runner.invoke(app, ["show", str(run)])
    assert r.exit_code == 0 and "made with" in r.output and "installed now" not in r.output, r.output
    for versions, ok in (({**config["library_versions"], "numpy": "1.0.0"}, True),
                         ({"numpy": "1.0$\\input{x}"}, False), ({"evil": "1.0"}, False)):
        (run / "config.json").write_text(json.dumps({**config, "library_versions": versions}))
        r = runner.invoke(app, ["show", str(run)])
        text = " ".join(r.output.split())
        if ok:
            assert r.exit_code == 0 and "installed now: numpy" in text, r.output
        else:
            assert r.exit_code == 2 and "library_versions" in text, r.output
