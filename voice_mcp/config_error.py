"""The one error for a wrong setting or catalog; apart from the settings model so that a
client can raise it without importing pydantic-settings."""

from __future__ import annotations


class ConfigError(Exception):
    """A setting or the catalog is wrong; the message is one line meant for the operator."""
