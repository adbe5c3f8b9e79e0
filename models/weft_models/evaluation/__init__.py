"""Evaluation: per-source and ensemble metrics on held-out garments, and the readable report."""
