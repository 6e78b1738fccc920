"""PyTorch ports of our ``UNet`` and ``SineNet`` (2D, circular padding), for the conv benchmark.

Same blocks, channel schedules, parameter shapes and counts as :mod:`neuralpde.models.unet` and
:mod:`neuralpde.models.sinenet` (channels-first here); :func:`load_from` copies our weights in,
so that both frameworks can be checked to compute the same function.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def conv(c_in: int, c_out: int, kernel: int, stride: int = 1) -> nn.Conv2d:
    """``nnx.Conv`` with ``padding="CIRCULAR"``: wrap ``(k−1)//2`` points, then a valid conv."""
    return nn.Conv2d(c_in, c_out, kernel, stride, padding=kernel // 2, padding_mode="circular")


class PeriodicUpsample(nn.ConvTranspose2d):
    """``nnx.ConvTranspose(c, c, (4, 4), 2, padding="CIRCULAR")``: the full transposed conv
    (``2n + 2`` points per axis), its overhang wrapped around as flax does."""

    def __init__(self, channels: int):
        super().__init__(channels, channels, 4, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = super().forward(x)
        for axis in (2, 3):
            n = y.shape[axis] - 2
            inner = y.narrow(axis, 1, n)
            first, last = y.narrow(axis, 0, 1), y.narrow(axis, n + 1, 1)
            y = torch.cat([inner.narrow(axis, 0, 1) + last, inner.narrow(axis, 1, n - 2),
                           inner.narrow(axis, n - 1, 1) + first], dim=axis)
        return y


class ResidualBlock(nn.Module):
    """``y = conv₂(σ(N₂(conv₁(σ(N₁ x))))) + S x`` (our ``unet.ResidualBlock``, no FiLM)."""

    def __init__(self, c_in: int, c_out: int, groups: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, c_in)
        self.conv1 = conv(c_in, c_out, 3)
        self.norm2 = nn.GroupNorm(groups, c_out)
        self.conv2 = conv(c_out, c_out, 3)
        self.shortcut = conv(c_in, c_out, 1) if c_in != c_out else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm2(self.conv1(F.gelu(self.norm1(x))))
        h = self.conv2(F.gelu(h))
        return h + (x if self.shortcut is None else self.shortcut(x))


class UNet(nn.Module):
    """Our ``UNet`` (PDEArena's modern U-Net) without attention or conditioning."""

    def __init__(self, c_in: int, c_out: int, hidden_channels: int,
                 channel_multipliers: tuple[int, ...], blocks_per_level: int,
                 norm_groups: int = 8):
        super().__init__()
        mults, n, g = channel_multipliers, blocks_per_level, norm_groups
        self.lift = conv(c_in, hidden_channels, 3)
        c, self.down, self.downsample = hidden_channels, nn.ModuleList(), nn.ModuleList()
        for level, m in enumerate(mults):
            self.down.append(nn.ModuleList(
                [ResidualBlock(c if i == 0 else c * m, c * m, g) for i in range(n)]))
            c *= m
            if level < len(mults) - 1:
                self.downsample.append(conv(c, c, 3, stride=2))
        self.middle = nn.ModuleList([ResidualBlock(c, c, g), ResidualBlock(c, c, g)])
        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for level in reversed(range(len(mults))):
            narrow = c // mults[level]
            blocks = [ResidualBlock(2 * c, c, g) for _ in range(n)]
            self.up.append(nn.ModuleList([*blocks, ResidualBlock(c + narrow, narrow, g)]))
            c = narrow
            if level > 0:
                self.upsample.append(PeriodicUpsample(c))
        self.norm = nn.GroupNorm(g, c)
        self.project = conv(c, c_out, 3)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        h = self.lift(u)
        skips = [h]
        for level, blocks in enumerate(self.down):
            for block in blocks:
                h = block(h)
                skips.append(h)
            if level < len(self.downsample):
                h = self.downsample[level](h)
                skips.append(h)
        h = self.middle[1](self.middle[0](h))
        for i, blocks in enumerate(self.up):
            for block in blocks:
                h = block(torch.cat([h, skips.pop()], dim=1))
            if i < len(self.upsample):
                h = self.upsample[i](h)
        return self.project(F.gelu(self.norm(h)))


class ConvBlock(nn.Module):
    """``y = σ(N₂ conv₂ σ(N₁ conv₁ x))`` (our ``sinenet.ConvBlock``, no FiLM)."""

    def __init__(self, c_in: int, c_out: int, groups: int):
        super().__init__()
        self.conv1, self.norm1 = conv(c_in, c_out, 3), nn.GroupNorm(groups, c_out)
        self.conv2, self.norm2 = conv(c_out, c_out, 3), nn.GroupNorm(groups, c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(self.norm2(self.conv2(F.gelu(self.norm1(self.conv1(x))))))


class Stage(nn.Module):
    """``h₁ = B₁(x) + S r``, ``h_{i+1} = B_{i+1}(h_i) + h_i`` (our ``sinenet.Stage``)."""

    def __init__(self, c_in: int, c_res: int, c_out: int, n_blocks: int, groups: int):
        super().__init__()
        widths = [c_in] + [c_out] * n_blocks
        self.blocks = nn.ModuleList([ConvBlock(a, c_out, groups) for a in widths[:-1]])
        self.shortcut = conv(c_res, c_out, 1)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        h = self.blocks[0](x) + self.shortcut(residual)
        for block in self.blocks[1:]:
            h = block(h) + h
        return h


def periodic_bicubic_upsample2(h: torch.Tensor) -> torch.Tensor:
    """PyTorch's 2× bicubic interpolation on a periodic grid: wrap 2 points, interpolate, crop
    (the 4 taps of every kept fine point then lie inside the wrapped grid)."""
    n = h.shape[-1]
    fine = F.interpolate(F.pad(h, (2, 2, 2, 2), mode="circular"), scale_factor=2,
                         mode="bicubic", align_corners=False)
    return fine[..., 4 : 4 + 2 * n, 4 : 4 + 2 * n]


class SineNet(nn.Module):
    """Our ``SineNet`` (disentangled, wave residuals, circular padding), no conditioning."""

    def __init__(self, c_in: int, c_out: int, hidden_channels: int, waves: int, levels: int,
                 channel_multiplier: float = 1.425, blocks_per_level: int = 1,
                 norm_groups: int = 1):
        super().__init__()
        c = [int(hidden_channels * channel_multiplier**level) for level in range(levels + 1)]
        n, g = blocks_per_level, norm_groups
        self.lift = conv(c_in, hidden_channels, 3)
        self.down = nn.ModuleList(
            nn.ModuleList(Stage(c[i] + (c[0] if i else 0), c[i], c[i + 1], n, g)
                          for i in range(levels))
            for _ in range(waves))
        self.up = nn.ModuleList(
            nn.ModuleList(Stage(c[i] + c[i + 1], c[i + 1], c[i], n, g)
                          for i in reversed(range(levels)))
            for _ in range(waves))
        self.project = conv(hidden_channels, c_out, 3)

    def wave(self, down: nn.ModuleList, up: nn.ModuleList, x: torch.Tensor) -> torch.Tensor:
        skips, h, parallel = [x], x, x
        for level, stage in enumerate(down):
            h, parallel = F.avg_pool2d(h, 2), F.avg_pool2d(parallel, 2)
            h = stage(torch.cat([h, parallel], dim=1) if level else h, h)
            skips.append(h)
        g = skips.pop()
        for stage in up:
            upsampled = periodic_bicubic_upsample2(g)
            g = stage(torch.cat([skips.pop(), upsampled], dim=1), upsampled)
        return g

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        x = self.lift(u)
        for down, up in zip(self.down, self.up, strict=True):
            x = x + self.wave(down, up, x)
        return self.project(x)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def load_from(model: nn.Module, ours) -> None:
    """Copy the weights of our nnx model ``ours`` into its port ``model``, module by module.

    Conv kernels ``(kh, kw, in, out)`` become ``(out, in, kh, kw)``; transposed-conv kernels
    (flax: a correlation of the dilated input) become ``(in, out, kh, kw)`` flipped in space;
    GroupNorm ``scale`` is ``weight``.
    """
    from flax import nnx

    params = {".".join(map(str, path)): np.asarray(value)
              for path, value in nnx.to_flat_state(nnx.state(ours, nnx.Param))}
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            module, kind = name.rsplit(".", 1)
            if kind == "bias" or module.split(".")[-1].startswith("norm"):
                key = f"{module}.{'scale' if kind == 'weight' else kind}"
                value = params.pop(key)
            elif isinstance(model.get_submodule(module), nn.ConvTranspose2d):
                value = params.pop(f"{module}.kernel")[::-1, ::-1].transpose(2, 3, 0, 1)
            else:
                value = params.pop(f"{module}.kernel").transpose(3, 2, 0, 1)
            tensor.copy_(torch.from_numpy(np.array(value)))
    if params:
        raise ValueError(f"weights not copied: {sorted(params)}")
