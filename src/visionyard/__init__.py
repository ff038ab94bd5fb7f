"""Visionyard: reproducible, scriptable image-classifier training with Hugging Face models."""

__version__ = "0.1.0"
