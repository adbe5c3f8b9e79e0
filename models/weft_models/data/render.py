"""Render a Fashion-MNIST garment as a vendor product photo: color, pattern, backdrop, resolution.

Patterns come in two scales, defined relative to the pipeline's two views (see
``functions/shared/image/prepareViews.ts``): the ``downsampled`` view fits the whole photo into
S×S, the ``center`` view resizes the central ``centerCropFraction`` of each side to S×S.

* ``coarse``: the period is 5–12 pixels in the downsampled view — visible in both views;
* ``fine``: the period is 3.2–5 pixels in the center view, which makes it ≤ 2 pixels in the
  downsampled view: below what that view can resolve, so only the center view shows it.

Styles: ``studio`` (white seamless with a soft shadow), ``backdrop`` (a muted, lit backdrop),
``closeup`` (the fabric fills the frame: no silhouette, so the photo says nothing about the
category; the text has to).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops, ImageFilter

VIEW_SIZE = 224
CENTER_FRACTION = 0.4

# Several shades per color class, kept apart from the neighbouring classes.
SHADES: dict[str, tuple[tuple[int, int, int], ...]] = {
    "black": ((22, 22, 24), (35, 33, 36), (28, 30, 38), (45, 42, 40)),
    "white": ((246, 246, 244), (238, 240, 242), (250, 248, 240)),
    "grey": ((128, 128, 130), (150, 152, 155), (105, 106, 110), (170, 170, 168)),
    "beige": ((222, 204, 170), (212, 192, 158), (232, 218, 190), (205, 188, 150)),
    "brown": ((115, 72, 40), (135, 88, 52), (95, 60, 35), (150, 100, 60)),
    "red": ((196, 28, 36), (172, 18, 40), (220, 42, 40), (185, 35, 30)),
    "pink": ((238, 148, 180), (228, 118, 160), (247, 180, 200), (236, 130, 190)),
    "orange": ((238, 128, 30), (228, 108, 22), (248, 150, 50), (235, 118, 40)),
    "yellow": ((244, 214, 48), (238, 198, 30), (249, 228, 90), (232, 205, 60)),
    "green": ((38, 138, 62), (80, 128, 48), (28, 96, 70), (70, 168, 96)),
    "blue": ((32, 70, 168), (42, 102, 200), (22, 40, 108), (70, 130, 210)),
    "purple": ((108, 50, 148), (140, 72, 170), (88, 40, 118), (160, 110, 200)),
}
PATTERNS = ("solid", "striped", "checked", "dotted")
STYLES = ("studio", "backdrop", "closeup")


@dataclass(frozen=True)
class RenderSpec:
    color: str
    pattern: str
    style: str
    width: int
    height: int
    scale: str
    """``fine`` or ``coarse`` for patterned garments, ``none`` for solid ones."""
    seed: int
    quality: int = 90


def _luminance(rgb: np.ndarray) -> float:
    return float(0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255.0


def base_color(color: str, rng: np.random.Generator) -> np.ndarray:
    shades = SHADES[color]
    base = np.array(shades[int(rng.integers(len(shades)))], dtype=np.float32)
    base = base * rng.uniform(0.95, 1.04) + rng.normal(0.0, 5.0, 3)
    return np.clip(base, 0, 255)


def secondary_color(base: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The pattern's second tone: a darker or lighter version of the base, so the base stays the color."""
    if _luminance(base) > 0.55:
        return base * rng.uniform(0.45, 0.6)
    return base + (255.0 - base) * rng.uniform(0.4, 0.55)


def pattern_mask(height: int, width: int, pattern: str, period: float, rng: np.random.Generator) -> np.ndarray:
    """Fraction of the secondary tone per pixel, (H, W) float32 in [0, 1].

    Built from broadcast row and column vectors: a full-resolution coordinate grid would cost
    more than the rest of the rendering.
    """
    if pattern == "solid":
        return np.zeros((height, width), dtype=np.float32)
    y = np.arange(height, dtype=np.float32)[:, None]
    x = np.arange(width, dtype=np.float32)[None, :]
    phase = rng.uniform(0, 1, 2).astype(np.float32)
    duty = np.float32(rng.uniform(0.3, 0.45))
    p = np.float32(period)

    def band(u: np.ndarray, offset: float) -> np.ndarray:
        return (np.mod(u / p + offset, 1.0) < duty).astype(np.float32)

    if pattern == "striped":
        orientation = int(rng.integers(3))
        if orientation == 2:
            return band((x + y) * np.float32(0.7071), phase[0])
        u = x if orientation == 0 else y
        return np.broadcast_to(band(u, phase[0]), (height, width)).astype(np.float32)
    if pattern == "checked":
        # Gingham: two crossed bands; the crossing is darkest.
        return 0.5 * band(x, phase[0]) + 0.5 * band(y, phase[1])
    if pattern == "dotted":
        radius = np.float32(rng.uniform(0.2, 0.28))
        row = np.floor(y / p + phase[1])
        v = np.mod(y / p + phase[1], 1.0) - 0.5
        u = np.mod(x / p + phase[0] + 0.5 * np.mod(row, 2), 1.0) - 0.5  # staggered rows
        return ((u * u + v * v) < radius * radius).astype(np.float32)
    raise ValueError(f"unknown pattern {pattern!r}")


def pattern_period(spec: RenderSpec, rng: np.random.Generator) -> float:
    """Period in full-resolution pixels (see the module docstring for the two scales)."""
    if spec.style == "closeup":
        # The fabric fills the frame, magnified: clearly visible in both views.
        return rng.uniform(6.0, 14.0) * max(spec.width, spec.height) / VIEW_SIZE
    if spec.scale == "fine":
        center_px = CENTER_FRACTION * min(spec.width, spec.height)
        return rng.uniform(3.2, 5.0) * center_px / VIEW_SIZE
    return rng.uniform(5.0, 12.0) * max(spec.width, spec.height) / VIEW_SIZE


def _solid(color: np.ndarray, size: tuple[int, int]) -> Image.Image:
    r, g, b = (int(round(float(c))) for c in np.clip(color, 0, 255))
    return Image.new("RGB", size, (r, g, b))


def fabric(spec: RenderSpec, height: int, width: int, rng: np.random.Generator) -> Image.Image:
    """Colored, patterned fabric, (width, height). Pixel work runs in PIL's C code: a photo has
    millions of pixels and thousands are rendered per build."""
    base = base_color(spec.color, rng)
    if spec.pattern == "solid":
        return _solid(base, (width, height))
    mask = pattern_mask(height, width, spec.pattern, pattern_period(spec, rng), rng)
    second = secondary_color(base, rng)
    alpha = Image.fromarray((mask * 255).astype(np.uint8), mode="L")
    return Image.composite(_solid(second, (width, height)), _solid(base, (width, height)), alpha)


_LEVELS = np.arange(256, dtype=np.float64) / 255.0


def _smoothstep(lo: float, hi: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _lut(values: np.ndarray) -> list[int]:
    """A PIL ``point`` table from values in [0, 1] for each of the 256 input levels."""
    return [int(v) for v in np.round(np.clip(values, 0.0, 1.0) * 255.0)]


def _backdrop(spec: RenderSpec, rng: np.random.Generator) -> Image.Image:
    h, w = spec.height, spec.width
    if spec.style == "studio":
        return Image.new("RGB", (w, h), (255, 255, 255))
    level = rng.uniform(205, 240)
    tint = rng.normal(0, 6, 3)
    ramp = np.linspace(1.04, 0.92, h)[:, None, None]
    column = np.clip((level + tint)[None, None, :] * ramp, 0, 255).astype(np.uint8)  # (h, 1, 3)
    return Image.fromarray(column, mode="RGB").resize((w, h), Image.Resampling.NEAREST)


def render_garment(garment: np.ndarray, spec: RenderSpec, rng: np.random.Generator) -> Image.Image:
    """Photo of ``garment`` (28×28 uint8) on the spec's backdrop."""
    h, w = spec.height, spec.width
    size = int(rng.uniform(0.62, 0.84) * min(h, w))
    g8 = Image.fromarray(garment, mode="L").resize((size, size), Image.Resampling.BICUBIC)
    # Silhouette from the garment's brightness; inner shading (folds, seams) from the same values.
    inside = garment[garment > 40]
    top = max(float(np.percentile(inside, 90)) / 255.0 if inside.size else 1.0, 0.2)
    alpha = g8.point(_lut(_smoothstep(0.05, 0.16, _LEVELS)))
    shade = g8.point(_lut(0.74 + 0.26 * np.minimum(1.0, _LEVELS / top)))
    cx = int(w / 2 + rng.uniform(-0.04, 0.04) * w)
    cy = int(h / 2 + rng.uniform(-0.04, 0.04) * h)
    x0, y0 = max(0, cx - size // 2), max(0, cy - size // 2)
    x1, y1 = min(w, x0 + size), min(h, y0 + size)
    alpha = alpha.crop((0, 0, x1 - x0, y1 - y0))
    shade = shade.crop((0, 0, x1 - x0, y1 - y0))

    photo = _backdrop(spec, rng)
    # Soft shadow: the silhouette blurred and offset, darkening the backdrop.
    small = alpha.resize((max(1, (x1 - x0) // 8), max(1, (y1 - y0) // 8)), Image.Resampling.BILINEAR)
    strength = rng.uniform(0.1, 0.22)
    shadow = small.filter(ImageFilter.GaussianBlur(2)).resize((x1 - x0, y1 - y0), Image.Resampling.BILINEAR)
    shadow = shadow.point(lambda v: int(255 - strength * v))
    dy, dx = int(0.015 * h), int(0.01 * w)
    box = (min(w, x0 + dx), min(h, y0 + dy), min(w, x1 + dx), min(h, y1 + dy))
    region = photo.crop(box)
    shadow = shadow.crop((0, 0, region.width, region.height)).convert("RGB")
    photo.paste(ImageChops.multiply(region, shadow), box[:2])

    cloth = ImageChops.multiply(fabric(spec, y1 - y0, x1 - x0, rng), shade.convert("RGB"))
    photo.paste(cloth, (x0, y0), alpha)
    return photo


def render_closeup(spec: RenderSpec, rng: np.random.Generator) -> Image.Image:
    h, w = spec.height, spec.width
    cloth = fabric(spec, h, w, rng)
    # Folds: a slow shading wave, computed small and enlarged (it has no detail to lose).
    sh, sw = max(2, h // 16), max(2, w // 16)
    y = np.arange(sh, dtype=np.float64)[:, None] * 16
    x = np.arange(sw, dtype=np.float64)[None, :] * 16
    theta = rng.uniform(0, np.pi)
    wave = rng.uniform(0.35, 0.7) * max(h, w)
    folds = np.sin(2 * np.pi * (x * np.cos(theta) + y * np.sin(theta)) / wave + rng.uniform(0, 6.28))
    shade = Image.fromarray(np.clip((0.86 + 0.12 * folds) * 255, 0, 255).astype(np.uint8), mode="L")
    return ImageChops.multiply(cloth, shade.resize((w, h), Image.Resampling.BILINEAR).convert("RGB"))


def _noise(width: int, height: int, rng: np.random.Generator) -> Image.Image:
    """Sensor noise (σ≈2 levels around 8) from a tiled patch: per-pixel draws would dominate the cost."""
    tile = Image.fromarray(np.clip(8 + rng.standard_normal((128, 128, 3)) * 2.0, 0, 16).astype(np.uint8), mode="RGB")
    noise = Image.new("RGB", (width, height))
    for top in range(0, height, 128):
        for left in range(0, width, 128):
            noise.paste(tile, (left, top))
    return noise


def render(garment: np.ndarray, spec: RenderSpec) -> Image.Image:
    rng = np.random.default_rng(spec.seed)
    photo = render_closeup(spec, rng) if spec.style == "closeup" else render_garment(garment, spec, rng)
    # Lighting and white balance of the vendor's studio, then sensor noise.
    gain = rng.uniform(0.95, 1.03)
    warmth = rng.uniform(-0.03, 0.03)
    luts: list[int] = []
    for factor in (gain * (1 + warmth), gain, gain * (1 - warmth)):
        luts += [min(255, int(round(v * factor))) for v in range(256)]
    photo = photo.point(luts)
    return ImageChops.add(photo, _noise(photo.width, photo.height, rng), scale=1.0, offset=-8)
