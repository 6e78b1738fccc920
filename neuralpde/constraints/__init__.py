"""Conservation constraints: linear laws ``G u = b`` imposed on a prediction, hard or probabilistic.

Axis names: ``n`` values of a flattened field (``u.reshape(-1)``), ``k`` conditions, ``member``
predictions of an ensemble.
"""

from neuralpde.constraints.builders import (
    mass_balance_constraint,
    mass_constraint,
    zero_mean_constraint,
)
from neuralpde.constraints.ensemble import ensemble_moments
from neuralpde.constraints.linear_constraint import LinearConstraint
from neuralpde.constraints.mass_budget import MassBudget, read_mass_budget
from neuralpde.constraints.probconserv import hard_projection, probconserv_update

__all__ = [
    "LinearConstraint",
    "MassBudget",
    "ensemble_moments",
    "hard_projection",
    "mass_balance_constraint",
    "mass_constraint",
    "probconserv_update",
    "read_mass_budget",
    "zero_mean_constraint",
]
