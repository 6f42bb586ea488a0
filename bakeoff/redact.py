"""Keep secrets out of everything bakeoff writes.

Results are shared (CI artifacts, pull requests), so a cluster address with a password or
token in it, or a credential that happens to be in the environment, must never reach a file.
:func:`redact` masks the password of ``scheme://user:password@host`` addresses, the values of
secret-looking parameters, and the value of every secret-looking environment variable.

A parameter is ``key=value`` after ``?``, ``&`` or ``;``, in any case: a signed URL's query
(AWS SigV4 ``X-Amz-Signature``, ``X-Amz-Credential``, ``X-Amz-Security-Token``; GCS
``X-Goog-Signature``, ``X-Goog-Credential``; an Azure SAS ``sig``) and a Spark Connect address's
path parameters (``sc://host:15002/;use_ssl=true;token=…``: ``token`` is the secret; ``user_id``,
``user_agent`` and ``session_id`` are not, and stay readable).
"""

from __future__ import annotations

import os
import re
from typing import Any

MASK = "***"
SECRET_NAME = re.compile(r"secret|token|passw|credential|signature|api_?key|access_?key|auth", re.I)
# A parameter named only ``sig`` (Azure SAS, generic signed URLs): too short to search for
# inside other names, so matched whole.
_SECRET_PARAMETER = re.compile(rf"{SECRET_NAME.pattern}|^sig$", re.I)
_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^/\s:@]*):[^/\s@]*@", re.I)
# ``;`` ends a value as ``&`` does (Spark Connect separates its parameters with it), so one
# parameter's value never swallows the next parameter; quotes and brackets end it too, so
# masking a value inside a quoted repr keeps the closing quote.
_PARAMETER = re.compile(r"(?P<sep>[?&;])(?P<key>[^=?&;#\s'\"<>]+)=(?P<value>[^?&;#\s'\"<>]*)")
_SHORTEST_SECRET = 6  # shorter values ("1", "true") would mask ordinary text


def _secret_values() -> list[str]:
    values = {
        value
        for name, value in os.environ.items()
        if SECRET_NAME.search(name) and len(value) >= _SHORTEST_SECRET
    }
    return sorted(values, key=len, reverse=True)


def _parameter(match: re.Match[str]) -> str:
    secret = _SECRET_PARAMETER.search(match["key"]) and match["value"]
    return f"{match['sep']}{match['key']}={MASK}" if secret else match[0]


def redact_text(text: str) -> str:
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = _PARAMETER.sub(_parameter, text)
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
