"""xling: cross-lingual reasoning transfer research toolkit."""

__version__ = "0.1.0"
