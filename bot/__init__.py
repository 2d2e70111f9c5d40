"""Kindling: an amplification and advocacy bot for campaigners."""

from __future__ import annotations

__version__ = "0.1.0"
