"""Inference: load trained models and use them (never trains)."""
