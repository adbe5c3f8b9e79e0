"""Catalog items (the data builder's ``items.jsonl``) → text examples and model texts."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..data.catalog import CatalogItem
from .train import TextExample, model_texts


def text_example(item: CatalogItem, text: str | None = None) -> TextExample:
    return TextExample(
        product_id=item.product_id,
        vendor=item.vendor,
        fields={"title": item.title, "description": item.description, "brand": item.brand},
        labels=dict(item.labels),
        text=text,
    )


def catalog_texts(items: Sequence[CatalogItem], cache: Path | None = None) -> list[str]:
    """Model texts of all items in one pass (boilerplate statistics per vendor over the whole catalog)."""
    return model_texts([text_example(i) for i in items], cache)


def text_examples(items: Sequence[CatalogItem], split: str, texts: Sequence[str] | None = None) -> list[TextExample]:
    rows = [(i, item) for i, item in enumerate(items) if item.split == split]
    return [text_example(item, texts[i] if texts is not None else None) for i, item in rows]
