"""irtoy's version, in a module of its own so the kernel cache can key on it without importing
the whole package."""
__version__ = "0.1.0"
