"""The version of netspec, which every model file it writes records."""

__version__ = "0.1.0"
