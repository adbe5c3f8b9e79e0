"""Weft models: catalog data builder, multi-task image and text models, evaluation, ONNX + Triton export."""

__version__ = "0.1.0"
