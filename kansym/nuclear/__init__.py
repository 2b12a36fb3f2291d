"""Nuclear data and physics inputs: mass tables with provenance, nuclide helpers, input features, targets and their selections and splits, physics baselines (energies in MeV)."""

from kansym.nuclear.tables import (
    AME_EDITIONS,
    MODELS,
    PAPER_MODELS,
    check_model,
    data_hashes,
    load_experiment,
    load_model,
)
from kansym.nuclear.nuclides import be_from_me, chain_nuclei, element_symbol, element_z, separation_energies
from kansym.nuclear.features import FEATURE_SETS, NEUTRON_MAGIC, PROTON_MAGIC, all_features, feature_names
from kansym.nuclear.targets import SUBSETS, TARGETS, Dataset, Selection, build_dataset, nuclei, parse_split
from kansym.nuclear.baselines import BASELINES, LIQUID_DROP, Baseline, check_baseline, fit_baseline
from kansym.nuclear.survey import model_survey

__all__ = [
    "AME_EDITIONS", "BASELINES", "Baseline", "Dataset", "FEATURE_SETS", "LIQUID_DROP", "MODELS",
    "NEUTRON_MAGIC", "PAPER_MODELS", "PROTON_MAGIC", "SUBSETS", "Selection", "TARGETS", "all_features",
    "be_from_me", "build_dataset", "chain_nuclei", "check_baseline", "check_model", "data_hashes",
    "element_symbol", "element_z", "feature_names", "fit_baseline", "load_experiment", "load_model",
    "model_survey", "nuclei", "parse_split", "separation_energies",
]
