"""Messy vendor text: titles, HTML descriptions, vendor color names, synonyms, boilerplate, mojibake."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .vendors import Vendor

CATEGORY_WORDS: dict[str, tuple[str, ...]] = {
    "tshirt_top": ("T-Shirt", "tee", "top", "tank top", "crew neck tee", "graphic tee", "cami top"),
    "trouser": ("trousers", "pants", "chinos", "slacks", "joggers", "wide-leg trousers", "leggings"),
    "pullover": ("pullover", "sweater", "jumper", "knit sweater", "crewneck sweater", "hoodie"),
    "dress": ("dress", "midi dress", "maxi dress", "sundress", "shift dress", "wrap dress"),
    "coat": ("coat", "jacket", "parka", "trench coat", "overcoat", "puffer jacket"),
    "sandal": ("sandals", "slides", "flip flops", "strappy sandals", "espadrilles"),
    "shirt": ("shirt", "button-down", "blouse", "oxford shirt", "dress shirt", "camp collar shirt"),
    "sneaker": ("sneakers", "trainers", "running shoes", "low-top sneakers", "kicks"),
    "bag": ("bag", "tote", "handbag", "backpack", "crossbody bag", "clutch", "shoulder bag"),
    "ankle_boot": ("ankle boots", "chelsea boots", "booties", "boots", "lace-up boots"),
}

# Vendor color names: plain, poetic and compound; a few are ambiguous on purpose.
COLOR_WORDS: dict[str, tuple[str, ...]] = {
    "black": ("black", "jet black", "onyx", "ink", "noir", "raven", "midnight black"),
    "white": ("white", "optic white", "snow", "chalk", "pearl", "bright white", "blanc"),
    "grey": ("grey", "gray", "charcoal", "heather grey", "slate", "ash", "graphite", "pewter"),
    "beige": ("beige", "sand", "oatmeal", "ecru", "stone", "cream", "nude", "taupe"),
    "brown": ("brown", "chocolate", "cognac", "mocha", "chestnut", "coffee", "camel", "walnut"),
    "red": ("red", "ruby", "crimson", "scarlet", "cherry", "cardinal", "tomato red", "brick red"),
    "pink": ("pink", "blush", "rose", "fuchsia", "bubblegum", "dusty rose", "hot pink", "salmon"),
    "orange": ("orange", "tangerine", "apricot", "pumpkin", "burnt orange", "coral", "rust"),
    "yellow": ("yellow", "mustard", "lemon", "canary", "sunflower", "butter yellow", "gold"),
    "green": ("green", "emerald", "olive", "forest green", "sage", "mint", "midnight green", "bottle green", "khaki"),
    "blue": ("blue", "navy", "cobalt", "royal blue", "denim blue", "sky blue", "indigo", "teal"),
    "purple": ("purple", "violet", "plum", "lavender", "lilac", "aubergine", "mauve", "wine"),
}

PATTERN_WORDS: dict[str, tuple[str, ...]] = {
    "solid": ("solid", "plain", "solid-color", "classic plain"),
    "striped": ("striped", "pinstripe", "breton stripe", "candy-stripe", "stripes", "pin-striped"),
    "checked": ("checked", "plaid", "gingham", "tartan", "check", "windowpane check"),
    "dotted": ("polka dot", "dotted", "spotted", "pin dot", "dot-print", "micro-dot"),
}

MATERIALS = ("cotton", "organic cotton", "linen", "wool blend", "recycled polyester", "viscose", "leather", "canvas", "jersey")
FITS = ("relaxed fit", "slim fit", "regular fit", "oversized fit", "tailored fit")
FILLER = (
    "A wardrobe essential you will reach for again and again.",
    "Designed for everyday comfort.",
    "Soft to the touch and easy to care for.",
    "Pairs well with everything in your closet.",
    "Our bestseller, now back in stock.",
    "Effortless style for any occasion.",
    "Finished with care in every detail.",
)
USELESS = (
    "NEW ARRIVAL!!! Limited stock.",
    "Item #{sku}. See size chart.",
    "Great quality. Fast delivery. 5 stars.",
    "Ref {sku} / lot {lot}",
    "Please check measurements before ordering.",
    "Photo may differ from actual item.",
)
# Mentions of *other* products: color words that are not this product's color.
CROSS_SELL = ("Pairs well with our {color} {other}.", "Complete the look with the {color} {other}.")


@dataclass(frozen=True)
class ProductText:
    title: str
    description: str
    brand: str | None
    vendor_color: str | None


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def _mojibake(text: str) -> str:
    """UTF-8 bytes read as Windows-1252: 'Women’s' → 'Womenâ€™s'."""
    return text.encode("utf-8").decode("cp1252", errors="replace")


def describe(
    vendor: Vendor, labels: dict[str, str], style: str, sku: str, rng: np.random.Generator
) -> ProductText:
    category, color, pattern = labels["category"], labels["color"], labels["pattern"]
    cat_word = _pick(rng, CATEGORY_WORDS[category])
    color_word = _pick(rng, COLOR_WORDS[color])
    pat_word = _pick(rng, PATTERN_WORDS[pattern])
    says_category = style == "closeup" or rng.random() < vendor.p_category
    says_color = rng.random() < vendor.p_color
    # "solid" mostly goes unsaid: the absence of a pattern word is itself weak evidence.
    says_pattern = rng.random() < (vendor.p_pattern * (0.4 if pattern == "solid" else 1.0))
    useless = style != "closeup" and rng.random() < vendor.p_useless

    title_parts = []
    if says_color and rng.random() < 0.6:
        title_parts.append(color_word.title())
    if says_pattern and rng.random() < 0.6:
        title_parts.append(pat_word.title())
    title_parts.append(cat_word.title() if says_category else _pick(rng, ("Essential", "Classic Piece", "New Style", "Item")))
    gender = _pick(rng, ("Women’s", "Men’s", "Unisex", "Kids’", ""))
    title = " ".join(p for p in [gender, *title_parts] if p)
    if rng.random() < 0.3:
        title += f" - {sku}"

    sentences: list[str] = []
    if useless:
        sentences.append(_pick(rng, USELESS).format(sku=sku, lot=int(rng.integers(100, 999))))
    else:
        body = []
        if says_category:
            fit = _pick(rng, FITS)
            body.append(f"This {cat_word} comes in {_pick(rng, MATERIALS)} with {'an' if fit[0] in 'aeiou' else 'a'} {fit}.")
        if says_color:
            body.append(_pick(rng, (f"Colour: {color_word}.", f"Shown in {color_word}.", f"A rich {color_word} shade.")))
        if says_pattern:
            body.append(_pick(rng, (f"Features a {pat_word} pattern.", f"Pattern: {pat_word}.", f"In a timeless {pat_word} design.")))
        body.append(_pick(rng, FILLER))
        if rng.random() < 0.12:
            other_color = _pick(rng, COLOR_WORDS[_pick(rng, tuple(c for c in COLOR_WORDS if c != color))])
            other = _pick(rng, CATEGORY_WORDS[_pick(rng, tuple(CATEGORY_WORDS))])
            body.append(_pick(rng, CROSS_SELL).format(color=other_color, other=other))
        order = rng.permutation(len(body))
        sentences.extend(body[i] for i in order)
    sentences.extend(vendor.boilerplate)

    if vendor.html:
        description = "<p>" + " ".join(sentences[:-len(vendor.boilerplate)] or [""]) + "</p>"
        description += "<ul>" + "".join(f"<li>{s}</li>" for s in vendor.boilerplate) + "</ul>"
        description = description.replace("&", "&amp;").replace("&amp;amp;", "&amp;")
        if rng.random() < 0.3:
            description = description.replace(" ", "&nbsp;", 1)
    else:
        description = " ".join(sentences)
    if rng.random() < vendor.upper:
        title, description = title.upper(), description.upper()
    if rng.random() < vendor.mojibake:
        title, description = _mojibake(title), _mojibake(description)

    brand = _pick(rng, vendor.brands) if rng.random() < 0.9 else None
    vendor_color = None
    if rng.random() < vendor.p_vendor_color:
        # Structured field: sometimes the plain name, sometimes the vendor's own poetic one.
        vendor_color = color_word if rng.random() < 0.7 else _pick(rng, COLOR_WORDS[color])
        if rng.random() < 0.2:
            vendor_color = vendor_color.upper()
    return ProductText(title=title, description=description, brand=brand, vendor_color=vendor_color)
