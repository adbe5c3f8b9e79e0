"""Render a Fashion-MNIST garment as a vendor product photo: color, pattern, backdrop, lighting.

The renderer's job is to teach garments, not itself: every property a model could latch onto that
is not the label varies — pattern drawing family (``patterns.py``), shade within the base color,
backdrop (white, muted, colored, textured, cluttered), garment size and placement, lighting
direction and strength, white balance, shadow, sensor noise, resolution and JPEG quality.

Patterns come in two scales, defined relative to the pipeline's two views (see
``functions/shared/image/prepareViews.ts``): the ``downsampled`` view fits the whole photo into
S×S, the ``center`` view resizes the central ``centerCropFraction`` of each side to S×S.

* ``coarse``: the period is 5–12 pixels in the downsampled view — visible in both views;
* ``fine``: the period is 3.2–5 pixels in the center view, which makes it ≤ 2 pixels in the
  downsampled view: below what that view can resolve, so only the center view shows it.

Styles (:data:`STYLES`): ``studio`` (white seamless, soft shadow), ``backdrop`` (muted or tinted
backdrop, paper texture), ``lifestyle`` (cluttered, out-of-focus surroundings, directional light),
``closeup`` (the fabric fills the frame: no silhouette, so the photo says nothing about the
category; the text has to), ``editorial`` (the garment small and off-center among props — a
lamp, a vase, a chair — so the center crop often misses it and only a detected garment box
finds it). :data:`HELDOUT_STYLES` are never used for training or validation:
``street`` (sky-and-ground surroundings, strong side light, vignetting, warm or cool cast).
"""
from __future__ import annotations

import colorsys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

from .patterns import FAMILIES, is_texture, pattern_layers

VIEW_SIZE = 224
CENTER_FRACTION = 0.4

# Several shades per color class, kept apart from the neighbouring classes; a render mixes two
# shades of its class, so the class is a region of color space rather than a few points.
SHADES: dict[str, tuple[tuple[int, int, int], ...]] = {
    "black": ((22, 22, 24), (35, 33, 36), (28, 30, 38), (45, 42, 40), (18, 20, 26)),
    "white": ((246, 246, 244), (238, 240, 242), (250, 248, 240), (242, 242, 236)),
    "grey": ((128, 128, 130), (150, 152, 155), (105, 106, 110), (170, 170, 168), (88, 90, 94)),
    "beige": ((222, 204, 170), (212, 192, 158), (232, 218, 190), (205, 188, 150), (226, 210, 182)),
    "brown": ((115, 72, 40), (135, 88, 52), (95, 60, 35), (150, 100, 60), (84, 56, 38)),
    "red": ((196, 28, 36), (172, 18, 40), (220, 42, 40), (185, 35, 30), (150, 20, 32)),
    "pink": ((238, 148, 180), (228, 118, 160), (247, 180, 200), (236, 130, 190), (220, 150, 170)),
    "orange": ((238, 128, 30), (228, 108, 22), (248, 150, 50), (235, 118, 40), (220, 120, 50)),
    "yellow": ((244, 214, 48), (238, 198, 30), (249, 228, 90), (232, 205, 60), (240, 220, 120)),
    "green": ((38, 138, 62), (80, 128, 48), (28, 96, 70), (70, 168, 96), (50, 110, 60)),
    "blue": ((32, 70, 168), (42, 102, 200), (22, 40, 108), (70, 130, 210), (30, 56, 130)),
    "purple": ((108, 50, 148), (140, 72, 170), (88, 40, 118), (160, 110, 200), (120, 60, 130)),
}
PATTERNS = ("solid", "striped", "checked", "dotted")
STYLES = ("studio", "backdrop", "lifestyle", "closeup", "editorial")
HELDOUT_STYLES = ("street",)
ALL_STYLES = STYLES + HELDOUT_STYLES


@dataclass(frozen=True)
class RenderSpec:
    color: str
    pattern: str
    style: str
    width: int
    height: int
    scale: str
    """``fine`` or ``coarse`` for patterned garments, ``none`` for solid ones (``closeup`` for close-ups)."""
    seed: int
    quality: int = 90
    family: str = ""
    """Pattern drawing family (``patterns.FAMILIES``); empty: one of the pattern's training families, by the seed."""


@dataclass(frozen=True)
class Photo:
    image: Image.Image
    box: tuple[float, float, float, float]
    """The garment's bounding box, normalized ``(x, y, w, h)`` in the photo (the whole frame for a close-up)."""


def _luminance(rgb: np.ndarray) -> float:
    return float(0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2]) / 255.0


def base_color(color: str, rng: np.random.Generator) -> np.ndarray:
    shades = np.array(SHADES[color], dtype=np.float32)
    a, b = shades[rng.choice(len(shades), size=2)]
    base = a + (b - a) * np.float32(rng.uniform())
    base = base * np.float32(rng.uniform(0.95, 1.04)) + rng.normal(0.0, 4.0, 3).astype(np.float32)
    return np.clip(base, 0, 255)


# Families whose extra tone covers a small share of the fabric in crisp, separate marks (thin lines,
# dots): only these may take another hue without making the garment's color a matter of opinion. A
# grey shirt with wide green stripes is "grey" to one merchandiser and "green" to the next.
_SPARSE = frozenset({"pinstripe", "windowpane", "polka", "pindot", "coin", "scattered"})


def secondary_color(base: np.ndarray, rng: np.random.Generator, family: str = "regular") -> np.ndarray:
    """The pattern's second tone. Usually a darker or lighter version of the base; sometimes white
    on a dark base or black on a light one, and for sparse marks sometimes another hue."""
    choice = rng.uniform()
    if family != "checkerboard" and not is_texture(family) and choice < (0.35 if family in _SPARSE else 0.15):
        if choice < 0.15:
            lum = _luminance(base)
            if 0.3 < lum < 0.7:  # neither white nor black stands clearly apart from a mid tone's family
                return base * np.float32(rng.uniform(0.45, 0.62))
            return np.array((245, 243, 238), np.float32) if lum <= 0.3 else np.array((30, 30, 34), np.float32)
        hue, sat, val = rng.uniform(), rng.uniform(0.3, 0.8), rng.uniform(0.3, 0.9)
        return np.array(colorsys.hsv_to_rgb(hue, sat, val), np.float32) * 255
    if _luminance(base) > 0.55 or is_texture(family):
        return base * np.float32(rng.uniform(0.45, 0.62))
    return base + (255.0 - base) * np.float32(rng.uniform(0.38, 0.55))


def pattern_family(spec: RenderSpec, rng: np.random.Generator) -> str:
    if spec.family:
        return spec.family
    names = FAMILIES[spec.pattern]
    return names[int(rng.integers(len(names)))]


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
    """Colored, patterned fabric, (width, height). Pixel work runs in PIL's C code where it can: a
    photo has millions of pixels and thousands are rendered per build."""
    base = base_color(spec.color, rng)
    family = pattern_family(spec, rng)
    cloth = _solid(base, (width, height))
    if spec.pattern == "solid" and family == "plain":
        return cloth
    layers = pattern_layers(height, width, family, pattern_period(spec, rng), rng)
    for number, mask in enumerate(layers):
        # A family's further layers are thin accents (tartan's over-check, variegated's pin line).
        tone = secondary_color(base, rng, family if number == 0 else "pinstripe")
        alpha = Image.fromarray((mask * 255).astype(np.uint8), mode="L")
        cloth = Image.composite(_solid(tone, (width, height)), cloth, alpha)
    return cloth


_LEVELS = np.arange(256, dtype=np.float64) / 255.0


def _smoothstep(lo: float, hi: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _lut(values: np.ndarray) -> list[int]:
    """A PIL ``point`` table from values in [0, 1] for each of the 256 input levels."""
    return [int(v) for v in np.round(np.clip(values, 0.0, 1.0) * 255.0)]


# -- backdrops ---------------------------------------------------------------------------------------
def _gradient(w: int, h: int, top: np.ndarray, bottom: np.ndarray) -> Image.Image:
    ramp = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    column = np.clip(top[None, None, :] * (1 - ramp) + bottom[None, None, :] * ramp, 0, 255).astype(np.uint8)
    return Image.fromarray(column, mode="RGB").resize((w, h), Image.Resampling.NEAREST)


def _muted(rng: np.random.Generator) -> np.ndarray:
    """A backdrop color: mostly light neutrals, sometimes a soft tint of any hue."""
    if rng.uniform() < 0.55:
        level = rng.uniform(190, 242)
        return np.clip(level + rng.normal(0, 6, 3), 0, 255).astype(np.float32)
    hue, sat, val = rng.uniform(), rng.uniform(0.1, 0.45), rng.uniform(0.45, 0.95)
    return np.array(colorsys.hsv_to_rgb(hue, sat, val), np.float32) * 255


def _texture(w: int, h: int, rng: np.random.Generator, strength: float) -> Image.Image:
    """Paper, plaster or concrete: smooth blotches, computed small and enlarged."""
    small = rng.normal(0, 1, (max(2, h // 24), max(2, w // 24))).astype(np.float32)
    img = Image.fromarray(np.clip(128 + small * 40, 0, 255).astype(np.uint8), mode="L")
    img = img.resize((w, h), Image.Resampling.BICUBIC)
    lut = _lut(1.0 - strength * np.abs(_LEVELS - 0.5) * 2)
    return img.point(lut).convert("RGB")


def _clutter(w: int, h: int, rng: np.random.Generator, count: int) -> Image.Image:
    """Out-of-focus surroundings: soft shapes of random colors on a muted ground."""
    sw, sh = max(8, w // 8), max(8, h // 8)
    small = Image.new("RGB", (sw, sh), tuple(int(c) for c in _muted(rng)))
    draw = ImageDraw.Draw(small)
    for _ in range(count):
        color = tuple(int(c) for c in (_muted(rng) if rng.uniform() < 0.6 else rng.uniform(20, 235, 3)))
        x0, y0 = rng.uniform(-0.2, 1.0) * sw, rng.uniform(-0.2, 1.0) * sh
        x1, y1 = x0 + rng.uniform(0.1, 0.6) * sw, y0 + rng.uniform(0.1, 0.6) * sh
        (draw.ellipse if rng.uniform() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=color)
    return small.filter(ImageFilter.GaussianBlur(rng.uniform(1.5, 3.5))).resize((w, h), Image.Resampling.BICUBIC)


def _street(w: int, h: int, rng: np.random.Generator) -> Image.Image:
    """Held-out surroundings: a sky or wall above a horizon, pavement below, blurred shapes."""
    sky = np.array(colorsys.hsv_to_rgb(rng.uniform(0.5, 0.65), rng.uniform(0.1, 0.4), rng.uniform(0.7, 0.98)), np.float32) * 255
    ground = np.array(colorsys.hsv_to_rgb(rng.uniform(0.0, 0.15), rng.uniform(0.05, 0.3), rng.uniform(0.3, 0.6)), np.float32) * 255
    horizon = int(rng.uniform(0.45, 0.75) * h)
    photo = _gradient(w, h, sky, sky * 0.9)
    photo.paste(_gradient(w, h - horizon, ground * 1.1, ground * 0.8), (0, horizon))
    shapes = _clutter(w, h, rng, int(rng.integers(3, 8)))
    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).rectangle((0, 0, w, horizon), fill=int(rng.uniform(60, 140)))
    return Image.composite(shapes, photo, mask.filter(ImageFilter.GaussianBlur(max(1, h // 60))))


def backdrop(spec: RenderSpec, rng: np.random.Generator) -> Image.Image:
    w, h = spec.width, spec.height
    if spec.style == "studio":
        level = int(rng.uniform(246, 256))
        return Image.new("RGB", (w, h), (level, level, level))
    if spec.style == "backdrop":
        color = _muted(rng)
        photo = _gradient(w, h, color * rng.uniform(1.0, 1.06), color * rng.uniform(0.86, 0.96))
        if rng.uniform() < 0.5:
            photo = ImageChops.multiply(photo, _texture(w, h, rng, rng.uniform(0.05, 0.15)))
        return photo
    if spec.style == "lifestyle":
        return _clutter(w, h, rng, int(rng.integers(4, 12)))
    if spec.style == "street":
        return _street(w, h, rng)
    if spec.style == "editorial":
        ground = backdrop(RenderSpec(spec.color, spec.pattern, "backdrop", w, h, spec.scale, spec.seed), rng)
        return ground if rng.uniform() < 0.6 else Image.blend(ground, _clutter(w, h, rng, int(rng.integers(3, 8))), 0.5)
    raise ValueError(f"no backdrop for style {spec.style!r}")


# -- composition -------------------------------------------------------------------------------------
def _props(photo: Image.Image, keep_clear: tuple[int, int, int, int], rng: np.random.Generator) -> None:
    """Sharp-edged things that share an editorial frame with the garment: a lamp (shade on a
    stem), a vase, a chair back, a framed print. Drawn before the garment, mostly beside it."""
    w, h = photo.size
    draw = ImageDraw.Draw(photo)
    gx0, gy0, gx1, gy1 = keep_clear
    for _ in range(int(rng.integers(1, 4))):
        color = tuple(int(c) for c in rng.uniform(25, 230, 3))
        pw, ph = rng.uniform(0.08, 0.25) * w, rng.uniform(0.15, 0.45) * h
        for _attempt in range(6):  # prefer a place that leaves the garment visible
            x0, y0 = rng.uniform(-0.05, 1.0) * w - pw / 2, rng.uniform(0.0, 1.0) * h - ph / 2
            if x0 + pw < gx0 or x0 > gx1 or y0 + ph < gy0 or y0 > gy1:
                break
        kind = int(rng.integers(4))
        if kind == 0:  # lamp
            draw.rectangle((x0 + pw * 0.45, y0 + ph * 0.3, x0 + pw * 0.55, y0 + ph), fill=color)
            draw.polygon([(x0 + pw * 0.15, y0 + ph * 0.3), (x0 + pw * 0.85, y0 + ph * 0.3), (x0 + pw * 0.7, y0), (x0 + pw * 0.3, y0)],
                         fill=tuple(int(c) for c in rng.uniform(150, 250, 3)))
        elif kind == 1:  # vase
            draw.ellipse((x0, y0 + ph * 0.35, x0 + pw, y0 + ph), fill=color)
            draw.rectangle((x0 + pw * 0.35, y0, x0 + pw * 0.65, y0 + ph * 0.5), fill=color)
        elif kind == 2:  # chair back
            draw.rectangle((x0, y0, x0 + pw, y0 + ph), outline=color, width=max(2, int(pw * 0.12)))
            draw.rectangle((x0, y0 + ph * 0.55, x0 + pw, y0 + ph * 0.62), fill=color)
        else:  # framed print
            draw.rectangle((x0, y0, x0 + pw, y0 + ph * 0.7), fill=color)
            inner = tuple(int(c) for c in rng.uniform(40, 240, 3))
            draw.rectangle((x0 + pw * 0.12, y0 + ph * 0.08, x0 + pw * 0.88, y0 + ph * 0.62), fill=inner)


def _placement(spec: RenderSpec, rng: np.random.Generator) -> tuple[int, float, float]:
    """Garment size (px) and center (fractions of the frame)."""
    h, w = spec.height, spec.width
    if spec.style == "editorial":
        # Small and anywhere in the frame, mostly away from the middle.
        size = int(rng.uniform(0.3, 0.52) * min(h, w))
        fx, fy = (float(rng.uniform(size / 2 / d + 0.01, 1 - size / 2 / d - 0.01)) for d in (w, h))
        return size, fx, fy
    if spec.style in ("lifestyle", "street"):
        size = int(rng.uniform(0.55, 0.8) * min(h, w))
        return size, 0.5 + rng.uniform(-0.07, 0.07), 0.5 + rng.uniform(-0.06, 0.06)
    size = int(rng.uniform(0.6, 0.86) * min(h, w))
    return size, 0.5 + rng.uniform(-0.05, 0.05), 0.5 + rng.uniform(-0.05, 0.05)


Cloth = Callable[[RenderSpec, int, int, np.random.Generator], Image.Image]
"""Draws the fabric, ``(spec, height, width, rng) → (width, height)`` image: :func:`fabric` by default;
the material data set draws its textures through the same call."""


def render_garment(garment: np.ndarray, spec: RenderSpec, rng: np.random.Generator, cloth_fn: Cloth | None = None) -> Photo:
    """Photo of ``garment`` (28×28 uint8) on the spec's backdrop."""
    h, w = spec.height, spec.width
    size, fx, fy = _placement(spec, rng)
    g8 = Image.fromarray(garment, mode="L").resize((size, size), Image.Resampling.BICUBIC)
    # Silhouette from the garment's brightness; inner shading (folds, seams) from the same values.
    inside = garment[garment > 40]
    top = max(float(np.percentile(inside, 90)) / 255.0 if inside.size else 1.0, 0.2)
    alpha = g8.point(_lut(_smoothstep(0.05, 0.16, _LEVELS)))
    depth = rng.uniform(0.18, 0.32)
    shade = g8.point(_lut((1 - depth) + depth * np.minimum(1.0, _LEVELS / top)))
    cx, cy = int(fx * w), int(fy * h)
    x0, y0 = max(0, cx - size // 2), max(0, cy - size // 2)
    x1, y1 = min(w, x0 + size), min(h, y0 + size)
    alpha = alpha.crop((0, 0, x1 - x0, y1 - y0))
    shade = shade.crop((0, 0, x1 - x0, y1 - y0))

    photo = backdrop(spec, rng)
    if spec.style == "editorial":
        _props(photo, (x0, y0, x1, y1), rng)
    # Soft shadow: the silhouette blurred and offset, darkening the backdrop.
    small = alpha.resize((max(1, (x1 - x0) // 8), max(1, (y1 - y0) // 8)), Image.Resampling.BILINEAR)
    strength = rng.uniform(0.08, 0.3)
    shadow = small.filter(ImageFilter.GaussianBlur(rng.uniform(1.5, 3))).resize((x1 - x0, y1 - y0), Image.Resampling.BILINEAR)
    shadow = shadow.point(lambda v: int(255 - strength * v))
    dy, dx = int(rng.uniform(0.0, 0.03) * h), int(rng.uniform(-0.02, 0.02) * w)
    box = (min(w, max(0, x0 + dx)), min(h, max(0, y0 + dy)), min(w, max(0, x1 + dx)), min(h, max(0, y1 + dy)))
    if box[2] > box[0] and box[3] > box[1]:
        region = photo.crop(box)
        shadow = shadow.crop((0, 0, region.width, region.height)).convert("RGB")
        photo.paste(ImageChops.multiply(region, shadow), box[:2])

    cloth = ImageChops.multiply((cloth_fn or fabric)(spec, y1 - y0, x1 - x0, rng), shade.convert("RGB"))
    photo.paste(cloth, (x0, y0), alpha)
    bbox = alpha.point(lambda v: 255 if v > 127 else 0).getbbox() or (0, 0, x1 - x0, y1 - y0)
    bx0, by0, bx1, by1 = x0 + bbox[0], y0 + bbox[1], x0 + bbox[2], y0 + bbox[3]
    return Photo(photo, (bx0 / w, by0 / h, (bx1 - bx0) / w, (by1 - by0) / h))


def render_closeup(spec: RenderSpec, rng: np.random.Generator, cloth_fn: Cloth | None = None) -> Photo:
    h, w = spec.height, spec.width
    cloth = (cloth_fn or fabric)(spec, h, w, rng)
    # Folds: a slow shading wave, computed small and enlarged (it has no detail to lose).
    sh, sw = max(2, h // 16), max(2, w // 16)
    y = np.arange(sh, dtype=np.float64)[:, None] * 16
    x = np.arange(sw, dtype=np.float64)[None, :] * 16
    theta = rng.uniform(0, np.pi)
    wave = rng.uniform(0.35, 0.7) * max(h, w)
    folds = np.sin(2 * np.pi * (x * np.cos(theta) + y * np.sin(theta)) / wave + rng.uniform(0, 6.28))
    shade = Image.fromarray(np.clip((0.86 + 0.12 * folds) * 255, 0, 255).astype(np.uint8), mode="L")
    return Photo(ImageChops.multiply(cloth, shade.resize((w, h), Image.Resampling.BILINEAR).convert("RGB")), (0.0, 0.0, 1.0, 1.0))


# -- light and sensor --------------------------------------------------------------------------------
def _light(spec: RenderSpec, photo: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Directional light falling across the frame (and, for the held-out style, a vignette)."""
    w, h = photo.size
    strong = spec.style == "street"
    amount = rng.uniform(0.1, 0.22) if strong else rng.uniform(0.0, 0.12)
    if amount < 0.01 and not strong:
        return photo
    sw, sh = 32, 32
    y, x = np.mgrid[0:sh, 0:sw].astype(np.float32)
    xn, yn = x / (sw - 1) - 0.5, y / (sh - 1) - 0.5
    phi = rng.uniform(0, 2 * np.pi)
    gain = 1.0 + amount * (np.cos(phi) * xn + np.sin(phi) * yn) * 2
    if strong:
        gain *= 1.0 - rng.uniform(0.1, 0.25) * (xn * xn + yn * yn) * 2
    top = float(gain.max())
    level = Image.fromarray(np.clip(gain / top * 255, 0, 255).astype(np.uint8), mode="L").resize((w, h), Image.Resampling.BILINEAR)
    lit = ImageChops.multiply(photo, level.convert("RGB"))
    # Bring the brightest point back to where it was (multiply can only darken).
    scale = min(top, 1.25)
    return lit.point([min(255, int(round(v * scale))) for v in range(256)] * 3)


def _noise(width: int, height: int, rng: np.random.Generator, sigma: float) -> Image.Image:
    """Sensor noise around 8 from a tiled patch: per-pixel draws would dominate the cost."""
    tile = Image.fromarray(np.clip(8 + rng.standard_normal((128, 128, 3)) * sigma, 0, 16).astype(np.uint8), mode="RGB")
    noise = Image.new("RGB", (width, height))
    for top in range(0, height, 128):
        for left in range(0, width, 128):
            noise.paste(tile, (left, top))
    return noise


def render_photo(garment: np.ndarray, spec: RenderSpec, cloth_fn: Cloth | None = None) -> Photo:
    if spec.style not in ALL_STYLES:
        raise ValueError(f"unknown photo style {spec.style!r} (one of {', '.join(ALL_STYLES)})")
    rng = np.random.default_rng(spec.seed)
    shot = render_closeup(spec, rng, cloth_fn) if spec.style == "closeup" else render_garment(garment, spec, rng, cloth_fn)
    photo = _light(spec, shot.image, rng)
    # White balance of the vendor's studio (a stronger cast outdoors), then sensor noise.
    gain = rng.uniform(0.95, 1.03)
    warmth = rng.uniform(-0.06, 0.06) if spec.style == "street" else rng.uniform(-0.035, 0.035)
    luts: list[int] = []
    for factor in (gain * (1 + warmth), gain, gain * (1 - warmth)):
        luts += [min(255, int(round(v * factor))) for v in range(256)]
    photo = photo.point(luts)
    if rng.uniform() < 0.15:
        photo = photo.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.8)))  # slightly soft focus
    photo = ImageChops.add(photo, _noise(photo.width, photo.height, rng, rng.uniform(1.0, 3.0)), scale=1.0, offset=-8)
    return Photo(photo, shot.box)


def render(garment: np.ndarray, spec: RenderSpec) -> Image.Image:
    return render_photo(garment, spec).image
