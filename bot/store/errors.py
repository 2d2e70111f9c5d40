"""The store's failures, each said in one line: what is wrong, with which database, what to do.

Every command and the daemon turn a `StoreError` into that line on stderr and exit status 1,
never a traceback (bot/cli/common.py).
"""

from __future__ import annotations


class StoreError(Exception):
    """A database Kindling cannot use as it is. `str()` is the whole message for the operator."""
