"""Byte counts as people read them."""


def format_bytes(count: float) -> str:
    for exponent, unit in ((3, "GiB"), (2, "MiB"), (1, "KiB")):
        if abs(count) >= 1024**exponent:
            return f"{count / 1024**exponent:.1f} {unit}"
    return f"{count:.0f} B"
