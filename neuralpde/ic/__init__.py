"""Key-driven initial-condition samplers and explicit initial fields."""

from neuralpde.ic.energy_spectrum import energy_spectrum_field
from neuralpde.ic.gaussian_random_field import gaussian_random_field
from neuralpde.ic.taylor_green import taylor_green

__all__ = ["energy_spectrum_field", "gaussian_random_field", "taylor_green"]
