"""A linear equality constraint ``G u = b`` on a flattened field."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp

from neuralpde._typing import Array, Float


class LinearConstraint(eqx.Module):
    """``k`` linear conditions ``G u = b`` on a flattened field of ``n`` values (``u.reshape(-1)``).

    Shapes are checked at construction; :meth:`check` rejects a field of the wrong size.

    Args:
        G: ``(k, n)``, one condition per row.
        b: ``(k,)``.
    """

    G: Float[Array, "k n"] = eqx.field(converter=jnp.asarray)
    b: Float[Array, " k"] = eqx.field(converter=jnp.asarray)

    def __check_init__(self):
        if self.G.ndim != 2 or self.G.shape[0] < 1:
            raise ValueError(
                f"a constraint needs G of shape (k, n) with k >= 1, got {self.G.shape}"
            )
        if self.b.shape != self.G.shape[:1]:
            raise ValueError(
                f"a constraint needs b of shape (k,) = {self.G.shape[:1]} for G of shape "
                f"{self.G.shape}, got b of shape {self.b.shape}"
            )

    @property
    def n(self) -> int:
        """Field size the constraint applies to."""
        return self.G.shape[1]

    @property
    def k(self) -> int:
        """Number of conditions."""
        return self.G.shape[0]

    def check(self, n: int) -> None:
        """Raise ``ValueError``, naming both shapes, unless ``G`` fits a field of ``n`` values."""
        if n != self.n:
            raise ValueError(
                f"constraint G of shape {self.G.shape} does not fit a field of shape ({n},): "
                f"G needs one column per field value"
            )

    def residual(self, u: Float[Array, " n"]) -> Float[Array, " k"]:
        """``G u − b``."""
        self.check_field(u)
        return self.G @ u - self.b

    def check_field(self, u: Array) -> None:
        """:meth:`check` for a flattened field ``u`` of shape ``(n,)``."""
        if u.ndim != 1:
            raise ValueError(
                f"constraint G of shape {self.G.shape} needs a flattened field of shape "
                f"({self.n},), got shape {u.shape}; pass u.reshape(-1)"
            )
        self.check(u.shape[0])
