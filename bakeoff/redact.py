"""Keep secrets out of everything bakeoff writes.

Results are shared (CI artifacts, pull requests), so a cluster address with a password or
token in it, or a credential that happens to be in the environment, must never reach a file.
:func:`redact` masks the password of ``scheme://user:password@host`` addresses, the values of
secret-looking query parameters, and the value of every secret-looking environment variable.
"""

from __future__ import annotations

import os
import re
from typing import Any

MASK = "***"
SECRET_NAME = re.compile(r"secret|token|passw|credential|api_?key|access_?key|auth", re.I)
_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^/\s:@]*):[^/\s@]*@", re.I)
_QUERY = re.compile(r"(?P<key>[?&;][^=&\s]+)=(?P<value>[^&\s]*)")
_SHORTEST_SECRET = 6  # shorter values ("1", "true") would mask ordinary text


def _secret_values() -> list[str]:
    values = {
        value
        for name, value in os.environ.items()
        if SECRET_NAME.search(name) and len(value) >= _SHORTEST_SECRET
    }
    return sorted(values, key=len, reverse=True)


def _query(match: re.Match[str]) -> str:
    key = match["key"]
    return f"{key}={MASK}" if SECRET_NAME.search(key) else match[0]


def redact_text(text: str) -> str:
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = _QUERY.sub(_query, text)
    for value in _secret_values():
        text = text.replace(value, MASK)
    return text


def redact(value: Any) -> Any:
    """``value`` with every string in it (dict keys and values, list items) redacted."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {redact(key): redact(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact(item) for item in value)
    return value
