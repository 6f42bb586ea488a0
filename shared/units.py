"""Quantities as people write them: byte counts (``4GiB``, ``512MB``) and limits (``600``),
and byte counts as people read them."""

import math
import re

from shared.errors import InputError

_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2}
_UNITS |= {"mib": 1024**2, "g": 1000**3, "gb": 1000**3, "gib": 1024**3, "tb": 1000**4}
_UNITS |= {"tib": 1024**4}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*", re.IGNORECASE)


def parse_bytes(text: str) -> int:
    """``4GiB`` -> 4294967296; a one-line InputError for anything that is not a size."""
    match = _SIZE.fullmatch(text)
    unit = match and _UNITS.get(match[2].lower())
    if not match or unit is None or float(match[1]) <= 0:
        raise InputError(f"a memory size is a positive number and a unit like 4GiB, not {text!r}")
    return int(float(match[1]) * unit)


def format_bytes(count: float) -> str:
    for exponent, unit in ((5, "PiB"), (4, "TiB"), (3, "GiB"), (2, "MiB"), (1, "KiB")):
        if abs(count) >= 1024**exponent:
            return f"{count / 1024**exponent:.1f} {unit}"
    return f"{count:.0f} B"


def positive_number(text: str, name: str, unit: str = "", minimum: float = 0.0) -> float:
    """``text`` as a finite number above zero (and at least ``minimum``), else one InputError
    line naming ``name``. The one parser of every numeric limit, from an option or the
    environment: ``nan`` fails every comparison and ``inf`` never ends, so either would make
    a limit fire at once or never, and the record would blame the engine."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and value > 0 and value >= minimum):
        kind = f"finite number of {minimum:g} or more" if minimum > 0 else "positive, finite number"
        of_unit = f" of {unit}" if unit else ""
        raise InputError(f"{name} must be a {kind}{of_unit}, not {text!r}")
    return value
