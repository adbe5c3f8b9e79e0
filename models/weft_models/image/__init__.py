"""The two-view image model: one shared ResNet backbone over the downsampled and center views."""

from .model import ImageModel, ImageModelConfig, load_image_model

__all__ = ["ImageModel", "ImageModelConfig", "load_image_model"]
