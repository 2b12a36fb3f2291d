"""What a physicist reads, built in memory: parameter tables with PDG rounding, LaTeX snippets and registry
entries (text), and figures (``matplotlib.figure.Figure`` objects); ``kansym.runs`` writes them."""

from kansym.report.export import (
    describe_fit,
    formula_entry,
    formula_figure,
    formula_tex,
    parameter_rows,
)
from kansym.symbolic.latex import pdg_round, shorthand
from kansym.report.figures import (
    candidates_plot,
    chain_plot,
    edge_plots,
    far_plot,
    network_diagram,
    new_figure,
    nz_plot,
)

__all__ = [
    "candidates_plot", "chain_plot", "describe_fit", "edge_plots", "far_plot", "formula_entry", "formula_figure",
    "formula_tex", "network_diagram", "new_figure", "nz_plot", "parameter_rows", "pdg_round", "shorthand",
]
