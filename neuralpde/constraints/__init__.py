"""Conservation constraints: linear laws ``G u = b`` imposed on a prediction, hard or probabilistic;
and soft ones: discrete PDE residuals between a frame and the next, as a weighted penalty, and a
coordinate-network PINN for the 1D porous-medium equation as a baseline.

Axis names: ``n`` values of a flattened field (``u.reshape(-1)``), ``k`` conditions, ``member``
predictions of an ensemble.
"""

from neuralpde.constraints.builders import (
    mass_balance_constraint,
    mass_constraint,
    zero_mean_constraint,
)
from neuralpde.constraints.constrained_rollout import (
    CORRECTIONS,
    ConstrainedRollout,
    constrained_rollout,
)
from neuralpde.constraints.coordinate_pinn import (
    CoordinateMLP,
    GPMEProblem1D,
    PINNConfig,
    fit_coordinate_pinn,
    gpme_residual,
    residual_adaptive_points,
)
from neuralpde.constraints.ensemble import ensemble_moments
from neuralpde.constraints.linear_constraint import LinearConstraint
from neuralpde.constraints.local_hard_constraint import LocalHardConstraint, LocalSolveStats
from neuralpde.constraints.mass_budget import MassBudget, read_mass_budget
from neuralpde.constraints.navier_stokes_residual import NavierStokesResidual
from neuralpde.constraints.porous_medium_residual import PorousMediumResidual
from neuralpde.constraints.probconserv import hard_projection, probconserv_update
from neuralpde.constraints.residual_penalty import (
    AbstractResidual,
    residual_loss,
    residual_penalty,
)
from neuralpde.constraints.subdomain_balance import BalanceStats, SubdomainBalance
from neuralpde.constraints.zero_mean_output import ZeroMeanOutput

__all__ = [
    "CORRECTIONS",
    "AbstractResidual",
    "BalanceStats",
    "ConstrainedRollout",
    "CoordinateMLP",
    "GPMEProblem1D",
    "LinearConstraint",
    "LocalHardConstraint",
    "LocalSolveStats",
    "MassBudget",
    "NavierStokesResidual",
    "PINNConfig",
    "PorousMediumResidual",
    "SubdomainBalance",
    "ZeroMeanOutput",
    "constrained_rollout",
    "ensemble_moments",
    "fit_coordinate_pinn",
    "gpme_residual",
    "hard_projection",
    "mass_balance_constraint",
    "mass_constraint",
    "probconserv_update",
    "read_mass_budget",
    "residual_adaptive_points",
    "residual_loss",
    "residual_penalty",
    "zero_mean_constraint",
]
