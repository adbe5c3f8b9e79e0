"""Vendors: how each one photographs (styles, sizes, JPEG quality) and writes (voice, boilerplate, noise)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Vendor:
    name: str
    styles: dict[str, float]
    """Photo style → probability."""
    aspects: tuple[tuple[int, int], ...]
    """Width:height ratios the vendor shoots in (none beyond 4:3, so fine patterns stay resolvable)."""
    long_side: tuple[int, int]
    quality: tuple[int, int]
    brands: tuple[str, ...]
    boilerplate: tuple[str, ...]
    """Sentences the vendor appends to every description (some name colors of other products)."""
    p_category: float
    """Probability that the text names the category (closeups always do)."""
    p_color: float
    p_pattern: float
    p_useless: float
    """Probability that the description carries nothing useful at all."""
    p_vendor_color: float
    """Probability that product.json has a ``color`` field."""
    html: bool
    mojibake: float
    upper: float
    id_prefix: str


VENDORS: tuple[Vendor, ...] = (
    Vendor(
        name="northwind",
        styles={"studio": 0.7, "lifestyle": 0.15, "closeup": 0.15},
        aspects=((3, 4), (4, 5)),
        long_side=(1100, 1600),
        quality=(82, 95),
        brands=("Northwind", "Northwind Basics"),
        boilerplate=("Free shipping on orders over $50.", "Returns accepted within 30 days."),
        p_category=0.9, p_color=0.7, p_pattern=0.6, p_useless=0.03, p_vendor_color=0.8,
        html=True, mojibake=0.0, upper=0.0, id_prefix="NW",
    ),
    Vendor(
        name="acme-apparel",
        styles={"studio": 0.35, "backdrop": 0.25, "lifestyle": 0.2, "editorial": 0.1, "closeup": 0.10},
        aspects=((1, 1),),
        long_side=(800, 1400),
        quality=(75, 92),
        brands=("Acme", "Acme Studio", "Acme Kids"),
        boilerplate=(
            "Discover the new season in black, white and red.",
            "Model is 5'9\" and wears a size S.",
            "Machine wash cold, tumble dry low.",
        ),
        p_category=0.75, p_color=0.75, p_pattern=0.5, p_useless=0.05, p_vendor_color=0.6,
        html=True, mojibake=0.05, upper=0.0, id_prefix="ACM",
    ),
    Vendor(
        name="bazaar-outlet",
        styles={"backdrop": 0.45, "studio": 0.2, "lifestyle": 0.25, "closeup": 0.1},
        aspects=((4, 3), (3, 2), (1, 1)),
        long_side=(700, 1300),
        quality=(65, 90),
        brands=("BZR", "Outlet Finds", "Bazaar"),
        boilerplate=("BEST PRICE GUARANTEED!!!", "Ships in 1–2 business days.", "Also available in navy & grey."),
        p_category=0.7, p_color=0.55, p_pattern=0.45, p_useless=0.12, p_vendor_color=0.3,
        html=False, mojibake=0.5, upper=0.3, id_prefix="BZ",
    ),
    Vendor(
        name="loomhouse",
        styles={"closeup": 0.35, "studio": 0.35, "backdrop": 0.15, "lifestyle": 0.15},
        aspects=((1, 1), (4, 5), (3, 4)),
        long_side=(1000, 1700),
        quality=(88, 96),
        brands=("Loomhouse", "Loomhouse Atelier"),
        boilerplate=("Woven in small batches from certified fibres.", "Each piece is unique; colours may vary slightly."),
        p_category=0.85, p_color=0.6, p_pattern=0.75, p_useless=0.02, p_vendor_color=0.7,
        html=True, mojibake=0.0, upper=0.0, id_prefix="LH",
    ),
    Vendor(
        name="quickshop",
        styles={"studio": 0.3, "backdrop": 0.25, "lifestyle": 0.25, "editorial": 0.1, "closeup": 0.1},
        aspects=((1, 1), (3, 4), (4, 3)),
        long_side=(640, 1000),
        quality=(60, 88),
        brands=("QS", "Quick", "no brand"),
        boilerplate=("Item ships from our warehouse.", "Sale items are final sale."),
        p_category=0.6, p_color=0.45, p_pattern=0.35, p_useless=0.25, p_vendor_color=0.4,
        html=False, mojibake=0.1, upper=0.15, id_prefix="QS",
    ),
    Vendor(
        name="maison-edit",
        styles={"editorial": 0.7, "studio": 0.15, "closeup": 0.15},
        aspects=((4, 5), (3, 4), (1, 1)),
        long_side=(1000, 1600),
        quality=(80, 94),
        brands=("Maison Edit", "Edit Studio"),
        boilerplate=("Styled by our in-house editorial studio.", "Props not included."),
        p_category=0.65, p_color=0.55, p_pattern=0.5, p_useless=0.08, p_vendor_color=0.5,
        html=True, mojibake=0.0, upper=0.0, id_prefix="ME",
    ),
)

# The held-out style split: a vendor whose photo style (and voice) no training or validation item
# has, photographing only the held-out pattern families half of the time.
HELDOUT_VENDORS: tuple[Vendor, ...] = (
    Vendor(
        name="streetwise",
        styles={"street": 1.0},
        aspects=((4, 5), (1, 1), (2, 3)),
        long_side=(800, 1500),
        quality=(70, 92),
        brands=("Streetwise", "SW Originals"),
        boilerplate=("Shot on location in our hometown.", "Tag us in your fits for a chance to be featured."),
        p_category=0.7, p_color=0.6, p_pattern=0.5, p_useless=0.1, p_vendor_color=0.5,
        html=True, mojibake=0.1, upper=0.05, id_prefix="SW",
    ),
)

VENDORS_BY_NAME = {v.name: v for v in VENDORS + HELDOUT_VENDORS}
