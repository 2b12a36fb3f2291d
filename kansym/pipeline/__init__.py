"""The recipe and its stages: ``DiscoverConfig``, ``fit_recipe``, ``discover``, stage reruns, the checked export
to the formula registry, sweeps and Table 1."""

from kansym.pipeline.config import DiscoverConfig, load_dataset, run_config
from kansym.pipeline.recipe import FormulaSearch, KanStage, fit_recipe, load_run_stage, search_formulas, train_kan
from kansym.pipeline.discovery import DiscoverResult, discover, rerun_crosscheck, rerun_extrapolate, rerun_symbolic
from kansym.pipeline.registry import export_formula
from kansym.pipeline.sweep import Sweep, plan, run_sweep
from kansym.pipeline.table1 import write_table1

__all__ = [
    "DiscoverConfig", "DiscoverResult", "FormulaSearch", "KanStage", "Sweep", "discover", "export_formula",
    "fit_recipe", "load_dataset", "load_run_stage", "plan", "rerun_crosscheck", "rerun_extrapolate",
    "rerun_symbolic", "run_config", "run_sweep", "search_formulas", "train_kan", "write_table1",
]
