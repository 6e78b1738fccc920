"""The one axis vocabulary of neuralpde, as jaxtyping aliases.

Axis names used in every signature:

- ``batch``: independent samples (trajectories) side by side;
- ``time``: stored frames of one trajectory;
- ``x``, ``y`` (``*space`` when dimension-generic): grid points, ``x`` first (``indexing="ij"``);
- ``kx``, ``ky``: Fourier modes of a real FFT (``ky`` holds ``ny // 2 + 1`` modes);
- ``channel``: field components, always last (channels-last).
"""

from jaxtyping import Array, Bool, Complex, Float, Int, PRNGKeyArray

Scalar = Float[Array, ""]
Field2D = Float[Array, "x y"]
Spectrum2D = Complex[Array, "kx ky"]
RealSpectrum2D = Float[Array, "kx ky"]
Trajectory2D = Float[Array, "time x y"]

__all__ = [
    "Array",
    "Bool",
    "Complex",
    "Field2D",
    "Float",
    "Int",
    "PRNGKeyArray",
    "RealSpectrum2D",
    "Scalar",
    "Spectrum2D",
    "Trajectory2D",
]
