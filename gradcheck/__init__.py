"""gradcheck: is this gradient right? And if not, where and why."""

__version__ = "0.1.0"
