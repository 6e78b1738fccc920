"""Time steppers: spectral steppers with the shared rollout, and the porous-medium diffrax solve."""

from neuralpde.solvers._base import AbstractStepper, SemiLinearPDE
from neuralpde.solvers.adaptive import AdvectivePDE, CFLAdaptiveInterval, speed_tracking_rollout
from neuralpde.solvers.etdrk2 import ETDRK2
from neuralpde.solvers.etdrk4 import ETDRK4
from neuralpde.solvers.fno_crank_nicolson import FNOCrankNicolson
from neuralpde.solvers.porous_medium_solve import SolverOptions, solve_porous_medium
from neuralpde.solvers.rollout import repeat, rollout

STEPPERS: dict[str, type[AbstractStepper]] = {
    "fno_crank_nicolson": FNOCrankNicolson,
    "etdrk2": ETDRK2,
    "etdrk4": ETDRK4,
}

__all__ = [
    "ETDRK2",
    "ETDRK4",
    "STEPPERS",
    "AbstractStepper",
    "AdvectivePDE",
    "CFLAdaptiveInterval",
    "FNOCrankNicolson",
    "SemiLinearPDE",
    "SolverOptions",
    "repeat",
    "rollout",
    "solve_porous_medium",
    "speed_tracking_rollout",
]
