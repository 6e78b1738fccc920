"""AdamW with linear warmup, cosine decay and global-norm gradient clipping (optax)."""

from __future__ import annotations

import dataclasses

import optax

from neuralpde.config import ConfigError


@dataclasses.dataclass(frozen=True, kw_only=True)
class OptimizerConfig:
    """``lr(t)``: linear warmup from 0 to ``learning_rate`` over ``warmup_steps``, then cosine
    decay to ``learning_rate · final_factor`` at the last step (Loshchilov & Hutter 2019)."""

    learning_rate: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    final_factor: float = 1e-2
    clip_norm: float = 1.0
    b1: float = 0.9
    b2: float = 0.999

    def __post_init__(self):
        if self.learning_rate <= 0 or self.clip_norm <= 0:
            raise ConfigError(f"optimizer: learning_rate and clip_norm must be > 0, got {self}")
        if self.warmup_steps < 0 or self.weight_decay < 0 or not 0 <= self.final_factor <= 1:
            raise ConfigError(f"optimizer: invalid schedule or decay in {self}")


def learning_rate_schedule(config: OptimizerConfig, total_steps: int) -> optax.Schedule:
    warmup = min(config.warmup_steps, max(total_steps - 1, 0))
    return optax.warmup_cosine_decay_schedule(
        init_value=0.0,
        peak_value=config.learning_rate,
        warmup_steps=warmup,
        decay_steps=max(total_steps, warmup + 1),
        end_value=config.learning_rate * config.final_factor,
    )


def make_optimizer(config: OptimizerConfig, total_steps: int) -> optax.GradientTransformation:
    """``clip_by_global_norm(clip_norm)`` then AdamW on the schedule above."""
    return optax.chain(
        optax.clip_by_global_norm(config.clip_norm),
        optax.adamw(
            learning_rate_schedule(config, total_steps),
            b1=config.b1,
            b2=config.b2,
            weight_decay=config.weight_decay,
        ),
    )
