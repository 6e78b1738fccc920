"""The papers' reference configurations and their published parameter counts.

``neuralpde models`` prints this table. Each count is the one the reference code reports (the
papers' texts give none for these exact setups), with its source:

- ``unetmod-64``, ``unetmodattn-64``: PDEArena ``docs/models_fwd_time.json`` (2D incompressible
  Navier–Stokes with smoke: 4 history steps of 3 channels in, 1 step out).
- ``sinenet-8``: ``divelab/AIRS`` ``OpenPDE/SineNet/pdearena/pdearena/models/registry.py``,
  ``sinenet8-dual`` (same data as PDEArena's U-Nets).
- ``factformer-kolmogorov2d``: ``BaratiLab/FactFormer`` ``configs/ns2d_fact_lm.yml``, counted layer
  by layer from the reference modules (see ``tests/models/test_reference_param_counts_*``).
"""

from __future__ import annotations

import dataclasses

import jax
from flax import nnx

from neuralpde.models import factformer, sinenet, unet
from neuralpde.models.registry import MODELS


@dataclasses.dataclass(frozen=True)
class Reference:
    name: str
    config: object
    published: int
    source: str


def references() -> list[Reference]:
    """Every reference configuration, with its published parameter count."""
    unets, sinenets, factformers = (
        unet.reference_configs(), sinenet.reference_configs(), factformer.reference_configs()
    )
    return [
        Reference("unetmod-64", unets["unetmod-64"], 144_263_683,
                  "PDEArena docs/models_fwd_time.json"),
        Reference("unetmodattn-64", unets["unetmodattn-64"], 148_464_131,
                  "PDEArena docs/models_fwd_time.json"),
        Reference("sinenet-8", sinenets["sinenet-8"], 35_490_219,
                  "divelab/AIRS SineNet registry, sinenet8-dual"),
        Reference("factformer-kolmogorov2d", factformers["kolmogorov2d"], 3_463_489,
                  "BaratiLab/FactFormer configs/ns2d_fact_lm.yml (4 latent steps; ours 1)"),
    ]


def parameter_count(config) -> int:
    """Trainable parameters of the model ``config`` builds, traced abstractly (no allocation)."""
    _, model_cls = MODELS[config.kind]
    fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    del fields["kind"]
    model = nnx.eval_shape(lambda: model_cls(**fields, rngs=nnx.Rngs(0)))
    return sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))


def reference_table() -> str:
    """The registered models, then each reference configuration: ours, published, ratio."""
    lines = [f"registered models: {', '.join(sorted(MODELS))}", "",
             f"{'reference':<26}{'kind':<14}{'ours':>13}{'published':>13}{'ratio':>8}  source"]
    for ref in references():
        ours = parameter_count(ref.config)
        lines.append(f"{ref.name:<26}{ref.config.kind:<14}{ours:>13,}{ref.published:>13,}"
                     f"{ours / ref.published:>8.4f}  {ref.source}")
    return "\n".join(lines)
