"""kansym: symbolic-regression discovery of nuclear-mass formulas with Kolmogorov-Arnold networks."""

__version__ = "0.1.0"

from kansym.errors import KansymError  # noqa: E402

__all__ = ["KansymError", "__version__"]
