"""IFactFormer-m: implicit (weight-shared, iterated) factorized transformer with parallel axes."""

from __future__ import annotations

import dataclasses
from typing import Literal

import jax
import jax.numpy as jnp
from flax import nnx

from neuralpde._typing import Array, Float
from neuralpde.config import ConfigError
from neuralpde.models.factformer import check_inputs, size_errors
from neuralpde.models.factorized_attention import FactorizedAttention, Rotary
from neuralpde.models.film import FiLM, modulate
from neuralpde.models.fourier_features import FourierGridEncoding


@dataclasses.dataclass(frozen=True, kw_only=True)
class IFactFormerConfig:
    """Hyper-parameters of :class:`IFactFormer` (see there); ``dtype`` is the activation dtype."""

    kind: Literal["ifactformer_m"] = "ifactformer_m"
    in_channels: int
    out_channels: int
    spatial_dims: int
    dim: int = 96
    depth: int = 1
    heads: int = 5
    dim_head: int = 96
    kernel_multiplier: int = 3
    iterations: int = 10
    rotary: Rotary = "periodic"
    use_grid: bool = True
    n_conditioning: int = 0
    dtype: Literal["float32", "bfloat16"] = "float32"

    def __post_init__(self):
        positive = ("in_channels", "out_channels", "spatial_dims", "depth", "iterations")
        errors = size_errors(
            dim=self.dim, heads=self.heads, dim_head=self.dim_head, rotary=self.rotary,
            kernel_multiplier=self.kernel_multiplier, dim_multiple=2,
            **{k: getattr(self, k) for k in positive},
        )  # fmt: skip
        if self.n_conditioning < 0:
            errors.append(f"n_conditioning must be ≥ 0, got {self.n_conditioning}")
        if errors:
            raise ConfigError(f"IFactFormerConfig: {'; '.join(errors)}")


class IFactFormer(nnx.Module):
    """Implicit factorized transformer IFactFormer-m of Yang, Wang and Wang (2025)::

        h₀ = W₂ σ(W₁ u + b₁)                                         lifting, pointwise
        per block l = 0 … depth−1:
            h ← h + E_l(x)                                            optional grid encoding
            h ← h + FiLM_l(A_l(h)) / L,   repeated L times            one A_l, shared weights
        y = Q₂ σ(Q₁ h) + b                                            projection, pointwise

    ``A_l`` is a :class:`FactorizedAttention` with *parallel* axes: each axial kernel acts on
    the same values and the per-axis results are concatenated before the output MLP, instead
    of FactFormer's chain ``K_1 ⊗ K_2 ⊗ …``. The ``L = iterations`` steps are the implicit
    depth (forward Euler with step ``1/L``), run by ``lax.fori_loop`` on one set of weights, so
    the parameter count does not depend on ``L``. ``E_l`` is the reference's absolute
    :class:`FourierGridEncoding` (``use_grid``), which breaks translation equivariance. The
    reference lifts a window of frames with a grouped and a temporal convolution; here the
    history arrives stacked in the channels and the lifting is a pointwise MLP.

    Args:
        in_channels, out_channels: channels of the input and output fields.
        spatial_dims: number of spatial axes (any grid size, ≥ 2 points per axis).
        dim: hidden channels (even); depth: distinct implicit blocks.
        heads, dim_head, kernel_multiplier, rotary: see :class:`FactorizedAttention`.
        iterations: ``L``, applications of each shared block.
        use_grid: add the absolute grid encoding before every block.
        n_conditioning: number of scalar parameters for FiLM; ``0`` disables conditioning.
        dtype: activation dtype; param_dtype: dtype of all parameters.
        rngs: the ``params`` stream draws the weights and the fixed Fourier bases.

    Defaults are those of the public reference code (``EntropyXi/IFactFormer-m``,
    ``configs/IFactFormer.yml``; ``kernel_multiplier`` 3 from its ``FABlock``), not checked
    against the paper's own channel-flow settings.

    Returns from ``__call__``: ``(batch, *space, out_channels)`` in ``promote(dtype, float32)``.

    Reference:
        Yang, Wang, Wang (2025), "Implicit factorized transformer approach to fast prediction
        of turbulent channel flows", Sci. China Phys. Mech. Astron. (arXiv:2412.18840).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        spatial_dims: int,
        *,
        dim: int = 96,
        depth: int = 1,
        heads: int = 5,
        dim_head: int = 96,
        kernel_multiplier: int = 3,
        iterations: int = 10,
        rotary: Rotary = "periodic",
        use_grid: bool = True,
        n_conditioning: int = 0,
        dtype: jnp.dtype | str = jnp.float32,
        param_dtype: jnp.dtype | str = jnp.float32,
        rngs: nnx.Rngs,
    ):
        errors = size_errors(
            dim=dim, heads=heads, dim_head=dim_head, kernel_multiplier=kernel_multiplier,
            rotary=rotary, dim_multiple=2, in_channels=in_channels, out_channels=out_channels,
            spatial_dims=spatial_dims, depth=depth, iterations=iterations,
        )  # fmt: skip
        if errors or n_conditioning < 0:
            raise ValueError(f"IFactFormer: {'; '.join(errors) or f'{n_conditioning=} < 0'}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.spatial_dims = spatial_dims
        self.iterations = iterations
        self.n_conditioning = n_conditioning
        self.dtype = jnp.dtype(dtype)
        kw = dict(dtype=self.dtype, param_dtype=jnp.dtype(param_dtype), rngs=rngs)
        self.lift_hidden = nnx.Linear(in_channels, dim // 2, **kw)
        self.lifting = nnx.Linear(dim // 2, dim, use_bias=False, **kw)
        self.grid = (
            nnx.List([FourierGridEncoding(spatial_dims, dim, **kw) for _ in range(depth)])
            if use_grid
            else None
        )
        self.blocks = nnx.List(
            [
                FactorizedAttention(
                    dim, spatial_dims, heads=heads, dim_head=dim_head, parallel=True,
                    kernel_multiplier=kernel_multiplier, rotary=rotary, **kw,
                )
                for _ in range(depth)
            ]
        )  # fmt: skip
        self.film = FiLM(n_conditioning, dim, depth, **kw) if n_conditioning else None
        self.project_hidden = nnx.Linear(dim, dim // 2, use_bias=False, **kw)
        self.project_out = nnx.Linear(dim // 2, out_channels, **kw)

    def iterate(
        self,
        block: FactorizedAttention,
        h: Float[Array, "batch *space dim"],
        modulation: tuple[Float[Array, "batch dim"], Float[Array, "batch dim"]] | None,
    ) -> Float[Array, "batch *space dim"]:
        """``h ← h + FiLM(A(h)) / L``, ``L`` times with the weights of ``block``."""
        graphdef, state = nnx.split(block)

        def step(_, h):
            update = nnx.merge(graphdef, state)(h)
            if modulation is not None:
                update = modulate(update, *modulation)
            return h + update / self.iterations

        return jax.lax.fori_loop(0, self.iterations, step, h)

    def __call__(
        self,
        u: Float[Array, "batch *space channel"],
        conditioning: Float[Array, "batch parameter"] | None = None,
    ) -> Float[Array, "batch *space out"]:
        """Map ``u`` of shape ``(batch, *space, in_channels)`` to ``(batch, *space, out)``."""
        check_inputs(self, u, conditioning)
        gelu = lambda x: jax.nn.gelu(x, approximate=False)  # noqa: E731
        h = self.lifting(gelu(self.lift_hidden(u.astype(self.dtype))))
        if self.film is not None:
            scale, shift = self.film(conditioning.astype(self.dtype))
        for layer, block in enumerate(self.blocks):
            if self.grid is not None:
                h = h + self.grid[layer](u.shape[1:-1])
            modulation = None if self.film is None else (scale[layer], shift[layer])
            h = self.iterate(block, h, modulation)
        y = self.project_out(gelu(self.project_hidden(h)))
        return y.astype(jnp.promote_types(self.dtype, jnp.float32))
