"""The version of skills_sdk."""

__version__ = "0.1.0"
