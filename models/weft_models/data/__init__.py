"""The vendor catalog built from Fashion-MNIST: photos, messy text, ground-truth labels, views."""

from .catalog import CatalogError, CatalogItem, load_catalog, load_views

__all__ = ["CatalogError", "CatalogItem", "load_catalog", "load_views"]
