"""The networks: the KAN regressor that contains pykan's side effects, the fast trainer, ensembles and their consensus, and where ensemble members train."""

from kansym.network.regressor import KANRegressor, TrainSchedule, contained, prediction_importance
from kansym.network.fastfit import fit_stage
from kansym.network.ensemble import Consensus, calibration, combine, consensus
from kansym.network.execution import Execution, run_tasks

__all__ = [
    "Consensus", "Execution", "KANRegressor", "TrainSchedule", "calibration", "combine", "consensus",
    "contained", "fit_stage", "prediction_importance", "run_tasks",
]
