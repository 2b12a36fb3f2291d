"""kansym: symbolic-regression discovery of nuclear-mass formulas with Kolmogorov-Arnold networks.

Notebook entry points (imported on first use, so ``import kansym`` stays light):
``KANSymbolicRegressor`` (scikit-learn estimator), ``nuclei`` (the bundled nuclei as a DataFrame),
``Formula`` (a refitted closed form), ``DiscoverConfig`` and ``discover`` (the full pipeline), ``chain`` (an
isotopic chain's nuclei, for ``KANSymbolicRegressor.predict_nuclei``).
"""

__version__ = "0.2.0"

from kansym.errors import KansymError  # noqa: E402

_LAZY = {"KANSymbolicRegressor": "kansym.estimator", "nuclei": "kansym.nuclear.targets", "Formula": "kansym.symbolic.formula",
         "DiscoverConfig": "kansym.pipeline.config", "discover": "kansym.pipeline.discovery",
         "chain": "kansym.pipeline.predict"}

__all__ = ["KansymError", "__version__", *_LAZY]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'kansym' has no attribute {name!r}")
