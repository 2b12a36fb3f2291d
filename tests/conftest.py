"""Shared fixtures: tiny, fast KAN runs on the real bundled data."""

import pytest

from kansym.pipeline.discovery import discover
from kansym.pipeline.config import DiscoverConfig

TINY = dict(steps=3, grid=3, refine=(5,), width=(2,), lamb=1e-3, crosscheck="none", extrapolate=False, ensemble=1)


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
