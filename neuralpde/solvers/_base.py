"""Interfaces shared by the generic time steppers."""

from __future__ import annotations

import abc
from typing import ClassVar, Protocol

import equinox as eqx

from neuralpde._typing import Array, Complex, Float


class SemiLinearPDE(Protocol):
    """``∂_t û = L ⊙ û + N(û)`` with a diagonal (in Fourier space) stiff part ``L``."""

    def linear_symbol(self) -> Float[Array, "..."]: ...

    def nonlinear(self, state: Complex[Array, "..."]) -> Complex[Array, "..."]: ...


class AbstractStepper(eqx.Module):
    """Advances one unbatched spectral state by one step of size ``dt``.

    Concrete steppers are frozen PyTrees whose coefficients are computed once at construction;
    batch them with ``jax.vmap`` and build trajectories with :func:`neuralpde.solvers.rollout`.
    """

    order: ClassVar[int]
    nonlinear_evaluations: ClassVar[int]

    @abc.abstractmethod
    def __call__(self, state: Complex[Array, "..."]) -> Complex[Array, "..."]:
        raise NotImplementedError
