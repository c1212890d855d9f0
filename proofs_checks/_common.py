"""Helpers shared by the check modules (the generic ones live in :mod:`labkit`)."""

from __future__ import annotations

from labkit.check import worst_case  # noqa: F401
