"""Shared fixtures: tiny, fast KAN runs on the real bundled data."""

import pytest

from kansym.pipeline.discovery import discover
from kansym.pipeline.config import DiscoverConfig

TINY = dict(steps=3, grid=3, refine=(5,), width=(2,), lamb=1e-3, crosscheck="none", extrapolate=False, ensemble=1)


def uncrosschecked_copy(run_dir, tmp_path):
    """A copy of a shared run under ``tmp_path`` without any cross-check (another test may have cross-checked the
    shared run), as the run was before: config.json says none and metrics.json has no cross-check section."""
    import json
    import shutil

    run = tmp_path / run_dir.name
    shutil.copytree(run_dir, run)
    for name in ("crosscheck.json", "crosscheck.tex"):
        (run / name).unlink(missing_ok=True)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "crosscheck": "none", "crosscheck_budget": None,
                                                 "crosscheck_generations": 50}))
    metrics = json.loads((run / "metrics.json").read_text())
    metrics.pop("crosscheck", None)
    (run / "metrics.json").write_text(json.dumps(metrics))
    return run


def tiny_config(tmp_path, **kw) -> DiscoverConfig:
    base = dict(target="be", runs_dir=str(tmp_path / "runs"), stage="kan", **TINY)
    base.update(kw)
    return DiscoverConfig(**base)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """One tiny end-to-end KAN run shared by the read-only tests."""
    tmp = tmp_path_factory.mktemp("tiny")
    return discover(tiny_config(tmp))


@pytest.fixture(scope="session")
def formula_run(tmp_path_factory):
    """One tiny run through the symbolic stage ([2, 2, 1] on Z, N), shared by the read-only tests."""
    tmp = tmp_path_factory.mktemp("formula")
    return discover(tiny_config(tmp, stage="all", steps=4, features="zn", lib="poly"))
