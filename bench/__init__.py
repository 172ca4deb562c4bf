"""joulebench: hashes per joule against tokens per joule, on one device, under one method."""

__version__ = "0.1.0"
