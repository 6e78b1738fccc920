"""Per-step metrics of autoregressive rollouts: errors, correlation, drift and blow-up.

Every metric takes a prediction and a truth of the same shape ``(batch, time, *space, channel)``
(channels-last, one or more space axes), reduces over space (and over channels where stated) and
returns ``(batch, time)``, ``(batch, time, channel)`` or, for step counts, ``(batch,)``. Averaging
over the batch is left to the caller. All functions are pure and jittable: shapes are static,
nothing leaves the device and no Python loop runs over time. No epsilon is added where the
reference definition has none, so a zero truth gives ``inf`` or ``nan`` there, as in the reference.
"""

import jax.numpy as jnp

from neuralpde._typing import Array, Bool, Float, Int

Trajectory = Float[Array, "batch time *space channel"]


def _space_axes(pred: Trajectory, true: Trajectory | None = None) -> tuple[int, ...]:
    """The space axes ``(2, ..., ndim - 2)`` of a trajectory, after checking the layout."""
    if pred.ndim < 4:
        raise ValueError(
            f"expected (batch, time, *space, channel) with at least one space axis, "
            f"got shape {pred.shape}"
        )
    if true is not None and pred.shape != true.shape:
        raise ValueError(f"prediction {pred.shape} and truth {true.shape} differ in shape")
    return tuple(range(2, pred.ndim - 1))


def _norm(x: Array, axes: tuple[int, ...]) -> Array:
    return jnp.sqrt(jnp.sum(jnp.square(x), axis=axes))


def _first_true(mask: Bool[Array, "*batch time"]) -> Int[Array, "*batch"]:
    """Index of the first ``True`` along the last axis, or its length if there is none."""
    first = jnp.argmax(mask, axis=-1)
    return jnp.where(jnp.any(mask, axis=-1), first, mask.shape[-1]).astype(jnp.int32)


def relative_l2(pred: Trajectory, true: Trajectory) -> Float[Array, "batch time"]:
    """Relative L² error of each step, over space and channels together.

    ``e[b, t] = ‖p[b, t] − u[b, t]‖₂ / ‖u[b, t]‖₂``, both norms over ``(*space, channel)``.

    This is the FNO paper's ``LpLoss`` (``p = 2``) applied to one step, as in its per-step
    rollout loss. Reference: Li et al. 2021, "Fourier Neural Operator for Parametric PDEs".
    """
    axes = (*_space_axes(pred, true), -1)
    return _norm(pred - true, axes) / _norm(true, axes)


def trajectory_relative_l2(pred: Trajectory, true: Trajectory) -> Float[Array, " batch"]:
    """Relative L² error of each whole trajectory, one norm over time, space and channels.

    ``e[b] = ‖p[b] − u[b]‖₂ / ‖u[b]‖₂``, both norms over ``(time, *space, channel)`` at once.
    The FNO paper's Navier–Stokes table reports the mean of ``e`` over the test samples
    (``fourier_2d_time.py``: ``LpLoss(size_average=False)`` on ``pred.reshape(batch, -1)``, summed
    and divided by ``ntest``). Reference: Li et al. 2021.
    """
    _space_axes(pred, true)
    axes = tuple(range(1, pred.ndim))
    return _norm(pred - true, axes) / _norm(true, axes)


def nrmse(pred: Trajectory, true: Trajectory) -> Float[Array, "batch time"]:
    """Normalised RMSE of each step, as PDEBench defines it.

    ``e[b, t] = mean_c  sqrt(⟨(p − u)²⟩) / sqrt(⟨u²⟩)``, ``⟨·⟩`` the mean over space of channel
    ``c`` at step ``t``: the RMSE normalised by the RMS of the truth per channel, then averaged over
    channels. PDEBench's reported nRMSE is the mean of ``e`` over batch and time (``err_nMSE`` in
    ``pdebench/models/metrics.py::metric_func``). Reference: Takamoto et al. 2022, "PDEBench".
    """
    axes = _space_axes(pred, true)
    rmse = jnp.sqrt(jnp.mean(jnp.square(pred - true), axis=axes))
    rms = jnp.sqrt(jnp.mean(jnp.square(true), axis=axes))
    return jnp.mean(rmse / rms, axis=-1)


def vrmse(
    pred: Trajectory, true: Trajectory, eps: float = 1e-7
) -> Float[Array, "batch time channel"]:
    """Variance-scaled RMSE of each step and channel, as The Well defines it.

    ``e[b, t, c] = sqrt(⟨(p − u)²⟩ / (s² + eps))`` with ``⟨·⟩`` the mean over space and ``s²`` the
    variance of the truth over space with Bessel's correction (``N − 1``, as ``torch.std``), and
    ``eps = 1e-7`` added to the variance inside the square root: ``the_well.benchmark.metrics``
    ``VRMSE`` = ``NRMSE(norm_mode="std")``. A constant truth gives ``sqrt(MSE / eps)``.
    Reference: Ohana et al. 2024, "The Well".
    """
    axes = _space_axes(pred, true)
    mse = jnp.mean(jnp.square(pred - true), axis=axes)
    variance = jnp.var(true, axis=axes, ddof=1)
    return jnp.sqrt(mse / (variance + eps))


def pearson_correlation(pred: Trajectory, true: Trajectory) -> Float[Array, "batch time"]:
    """Pearson correlation of each step, over space and channels flattened together.

    ``ρ[b, t] = ⟨(p − p̄)(u − ū)⟩ / (σ_p σ_u)``, means and (biased) standard deviations over
    ``(*space, channel)``; the denominator is floored at the smallest normal float32, so a constant
    field gives ``0``. This is PDEArena's ``pearson_correlation`` (Gupta & Brandstetter 2022); for
    zero-mean fields such as periodic vorticity it equals the vorticity correlation of Kochkov et
    al. 2021, "Machine learning-accelerated computational fluid dynamics".
    """
    axes = (*_space_axes(pred, true), -1)
    p = pred - jnp.mean(pred, axis=axes, keepdims=True)
    u = true - jnp.mean(true, axis=axes, keepdims=True)
    covariance = jnp.mean(p * u, axis=axes)
    scale = jnp.sqrt(jnp.mean(jnp.square(p), axis=axes) * jnp.mean(jnp.square(u), axis=axes))
    return covariance / jnp.maximum(scale, jnp.finfo(jnp.float32).tiny)


def correlation_time(
    correlation: Float[Array, "*batch time"], threshold: float = 0.8
) -> Int[Array, "*batch"]:
    """Steps until the correlation first drops below ``threshold``.

    ``τ = min{t : ρ[t] < threshold}``, or the horizon ``T`` (the length of the time axis) if the
    correlation never drops; a ``nan`` correlation (a blown-up prediction) counts as dropped.
    Equivalently, the number of leading steps with ``ρ ≥ threshold``. Pass ``ρ`` per sample
    ``(batch, time)`` for one time per sample, or ``ρ.mean(0)`` for the time of the
    batch-averaged correlation (PDE-Refiner's convention). Common thresholds are 0.8
    (Lippe et al. 2023, "PDE-Refiner") and 0.95 (Kochkov et al. 2021).
    """
    return _first_true(~(correlation >= threshold))


def steps_to_time(steps: Int[Array, "*batch"], dt: float) -> Float[Array, "*batch"]:
    """Physical time ``steps · dt`` of a step count such as :func:`correlation_time`."""
    return steps * dt


def mass_drift(pred: Trajectory, true: Trajectory) -> Float[Array, "batch time channel"]:
    """Drift of the mass (spatial mean) of each channel: ``⟨p⟩ − ⟨u⟩`` per step."""
    axes = _space_axes(pred, true)
    return jnp.mean(pred, axis=axes) - jnp.mean(true, axis=axes)


def energy(u: Trajectory) -> Float[Array, "batch time"]:
    """Energy of each step, ``E = ½ ⟨Σ_c u_c²⟩`` (mean over space, sum over channels)."""
    axes = _space_axes(u)
    return 0.5 * jnp.sum(jnp.mean(jnp.square(u), axis=axes), axis=-1)


def energy_drift(pred: Trajectory, true: Trajectory) -> Float[Array, "batch time"]:
    """Relative drift of the energy of each step: ``(E(p) − E(u)) / E(u)``, with :func:`energy`."""
    _space_axes(pred, true)
    reference = energy(true)
    return (energy(pred) - reference) / reference


def blowup_step(pred: Trajectory, true: Trajectory, factor: float = 10.0) -> Int[Array, " batch"]:
    """First step at which the prediction blows up, or the horizon ``T`` if it never does.

    Step ``t`` has blown up if ``p[b, t]`` holds a non-finite value or
    ``‖p[b, t]‖₂ > factor · max_s ‖u[b, s]‖₂``, norms over ``(*space, channel)``.
    """
    axes = (*_space_axes(pred, true), -1)
    ceiling = factor * jnp.max(_norm(true, axes), axis=-1, keepdims=True)
    blown = ~jnp.all(jnp.isfinite(pred), axis=axes) | (_norm(pred, axes) > ceiling)
    return _first_true(blown)
