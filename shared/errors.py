"""Errors the CLI turns into one clear line and exit code 2."""


class InputError(ValueError):
    """The user asked for something we cannot do (bad option, bad value, unwritable path)."""
