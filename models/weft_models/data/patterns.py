"""Pattern drawing families: several ways to draw each pattern label, so a model learns the
pattern and not one drawing of it.

A family draws *layers*: masks in [0, 1] saying how much of one extra tone covers each pixel, laid
over the base color in order. The base color always covers most of the fabric (the color label is
the base), so every family keeps the extra tones' coverage at or below 40 %, except checkerboard,
whose second tone is a lighter or darker shade of the base.

Held-out families (:data:`HELDOUT_FAMILIES`) are drawn only for the held-out style split: a test of
whether "striped" was learned as stripes or as the training renderer's stripes.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

Layers = list[np.ndarray]

FAMILIES: dict[str, tuple[str, ...]] = {
    "solid": ("plain", "knit"),
    "striped": ("regular", "pinstripe", "breton"),
    "checked": ("checkerboard", "gingham", "windowpane"),
    "dotted": ("polka", "pindot", "coin"),
}
HELDOUT_FAMILIES: dict[str, tuple[str, ...]] = {
    "solid": ("slub",),
    "striped": ("variegated",),
    "checked": ("tartan",),
    "dotted": ("scattered",),
}
ALL_FAMILIES = {p: FAMILIES[p] + HELDOUT_FAMILIES[p] for p in FAMILIES}


def family_pattern(family: str) -> str:
    for pattern, names in ALL_FAMILIES.items():
        if family in names:
            return pattern
    raise ValueError(f"unknown pattern family {family!r}")


def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    return np.arange(height, dtype=np.float32)[:, None], np.arange(width, dtype=np.float32)[None, :]


def _band(u: np.ndarray, period: float, phase: float, duty: float) -> np.ndarray:
    return (np.mod(u / np.float32(period) + np.float32(phase), 1.0) < duty).astype(np.float32)


def _stripe_axis(y: np.ndarray, x: np.ndarray, period: float, rng: np.random.Generator, angle: float | None = None) -> np.ndarray:
    """Coordinate across the stripes: any angle (mostly upright or level), with a gentle wave that
    stands in for drape, so stripes are never ruler-straight."""
    if angle is None:
        angle = float(rng.choice([0.0, 90.0, rng.uniform(0, 180)], p=[0.4, 0.4, 0.2]))
    theta = np.deg2rad(angle)
    amplitude = np.float32(rng.uniform(0.0, 0.35) * period)
    wavelength = np.float32(rng.uniform(8, 20) * period)
    along_y = np.float32(np.cos(theta)) * x + np.float32(np.sin(theta)) * y
    if amplitude == 0:
        return along_y
    # The wave runs along the stripes' direction.
    along = -np.float32(np.sin(theta)) * x + np.float32(np.cos(theta)) * y
    return along_y + amplitude * np.sin(np.float32(2 * np.pi) * along / wavelength)


def _dots(y: np.ndarray, x: np.ndarray, period: float, radius: np.ndarray | float, phase: np.ndarray, jitter: float = 0.0,
          rng: np.random.Generator | None = None) -> np.ndarray:
    p = np.float32(period)
    row = np.floor(y / p + phase[1])
    v = np.mod(y / p + phase[1], 1.0) - 0.5
    col = np.floor(x / p + phase[0] + 0.5 * np.mod(row, 2))
    u = np.mod(x / p + phase[0] + 0.5 * np.mod(row, 2), 1.0) - 0.5
    if jitter:
        # Per-cell pseudo-random offsets and radii (a hash of the cell index, computed on the grid).
        h1 = np.mod(np.sin(row * np.float32(12.9898) + col * np.float32(78.233)) * np.float32(43758.5453), 1.0)
        h2 = np.mod(np.sin(row * np.float32(39.3468) + col * np.float32(11.135)) * np.float32(24634.6345), 1.0)
        u = u - (h1 - 0.5) * jitter
        v = v - (h2 - 0.5) * jitter
        radius = np.float32(radius) * (0.6 + 0.8 * h1)
    return ((u * u + v * v) < np.square(radius)).astype(np.float32)


def _plain(h: int, w: int, period: float, rng: np.random.Generator) -> Layers:
    return []


def _knit(h: int, w: int, period: float, rng: np.random.Generator) -> Layers:
    # Fine, low-contrast yarn texture: a solid knit is still solid.
    tile = rng.uniform(0, 1, (64, 64)).astype(np.float32)
    reps = (h // 64 + 1, w // 64 + 1)
    return [np.tile(tile, reps)[:h, :w] * np.float32(rng.uniform(0.08, 0.16))]


def _slub(h: int, w: int, period: float, rng: np.random.Generator) -> Layers:
    # Streaky, uneven yarn along one axis (held out).
    rows = rng.uniform(0, 1, (h, 1)).astype(np.float32) ** 3
    return [np.broadcast_to(rows * np.float32(rng.uniform(0.15, 0.25)), (h, w)).astype(np.float32)]


def _regular(h: int, w: int, period: float, rng: np.random.Generator) -> Layers:
    y, x = _grid(h, w)
    return [_band(_stripe_axis(y, x, period, rng), period, rng.uniform(), rng.uniform(0.25, 0.4))]


def _pinstripe(h: int, w: int, period: float, rng: np.random.Generator) -> Layers:
    y, x = _grid(h, w)
    return [_band(_stripe_axis(y, x, period * 1.3, rng), period * 1.3, rng.uniform(), rng.uniform(0.14, 0.22))]


def _breton(h: int, w: int, period: float, rng: np.random.Generator) -> Layers:
    y, x = _grid(h, w)
    return [_band(_stripe_axis(y, x, period * 1.2, rng, angle=90.0), period * 1.2, rng.uniform(), rng.uniform(0.3, 0.4))]


def _variegated(h: int, w: int, period: float, rng: np.random.Generator) -> Layers:
    # Bands of two widths and two tones in one repeat (held out).
    y, x = _grid(h, w)
    u = _stripe_axis(y, x, period * 1.6, rng)
    p = period * 1.6
    phase = rng.uniform()
    wide = _band(u, p, phase, 0.28)
    thin = _band(u, p, phase + 0.45, 0.12)
    return [wide, thin]


def _checkerboard(h: int, w: int, period: float, rng: np.random.Generator) -> Layers:
    y, x = _grid(h, w)
    phase = rng.uniform(0, 1, 2)
    bx, by = _band(x, period, phase[0], 0.5), _band(y, period, phase[1], 0.5)
    return [np.abs(bx - by) * np.float32(0.999)]


def _gingham(h: int, w: int, period: float, rng: np.random.Generator) -> Layers:
    y, x = _grid(h, w)
    phase, duty = rng.uniform(0, 1, 2), rng.uniform(0.3, 0.45)
    return [0.5 * _band(x, period, phase[0], duty) + 0.5 * _band(y, period, phase[1], duty)]


def _windowpane(h: int, w: int, period: float, rng: np.random.Generator) -> Layers:
    y, x = _grid(h, w)
    p = period * 1.5
    phase, duty = rng.uniform(0, 1, 2), rng.uniform(0.12, 0.2)
    return [np.maximum(_band(x, p, phase[0], duty), _band(y, p, phase[1], duty))]


def _tartan(h: int, w: int, period: float, rng: np.random.Generator) -> Layers:
    # Crossing bands of several widths in two tones (held out).
    y, x = _grid(h, w)
    p = period * 2.0
    phase = rng.uniform(0, 1, 2)
    wide = 0.5 * _band(x, p, phase[0], 0.35) + 0.5 * _band(y, p, phase[1], 0.35)
    thin = np.maximum(_band(x, p, phase[0] + 0.6, 0.08), _band(y, p, phase[1] + 0.6, 0.08))
    return [wide, thin]


def _polka(h: int, w: int, period: float, rng: np.random.Generator) -> Layers:
    y, x = _grid(h, w)
    return [_dots(y, x, period, rng.uniform(0.2, 0.28), rng.uniform(0, 1, 2).astype(np.float32))]


def _pindot(h: int, w: int, period: float, rng: np.random.Generator) -> Layers:
    y, x = _grid(h, w)
    return [_dots(y, x, period, rng.uniform(0.15, 0.19), rng.uniform(0, 1, 2).astype(np.float32))]


def _coin(h: int, w: int, period: float, rng: np.random.Generator) -> Layers:
    y, x = _grid(h, w)
    return [_dots(y, x, period * 1.6, rng.uniform(0.28, 0.33), rng.uniform(0, 1, 2).astype(np.float32))]


def _scattered(h: int, w: int, period: float, rng: np.random.Generator) -> Layers:
    # Dots of varying sizes off the grid (held out).
    y, x = _grid(h, w)
    return [_dots(y, x, period * 1.3, rng.uniform(0.18, 0.24), rng.uniform(0, 1, 2).astype(np.float32), jitter=0.35)]


_DRAW: dict[str, Callable[[int, int, float, np.random.Generator], Layers]] = {
    "plain": _plain, "knit": _knit, "slub": _slub,
    "regular": _regular, "pinstripe": _pinstripe, "breton": _breton, "variegated": _variegated,
    "checkerboard": _checkerboard, "gingham": _gingham, "windowpane": _windowpane, "tartan": _tartan,
    "polka": _polka, "pindot": _pindot, "coin": _coin, "scattered": _scattered,
}
assert set(_DRAW) == {f for names in ALL_FAMILIES.values() for f in names}


def pattern_layers(height: int, width: int, family: str, period: float, rng: np.random.Generator) -> Layers:
    """The extra tones' coverage masks, (H, W) float32 each, for ``family`` at ``period`` pixels."""
    try:
        draw = _DRAW[family]
    except KeyError:
        raise ValueError(f"unknown pattern family {family!r}") from None
    return [np.clip(layer, 0.0, 1.0).astype(np.float32, copy=False) for layer in draw(height, width, period, rng)]


def is_texture(family: str) -> bool:
    """Families whose layer is a low-contrast texture on the base color, not a second tone."""
    return family in ("knit", "slub")
