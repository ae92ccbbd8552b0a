"""Credentials never reach a terminal or a log: every URI GraphFuse prints goes through here.

Tracking URIs, database URLs and remote URLs may carry a password in their user-info part
(``postgresql://user:secret@host/db``) or a token in their query (``?token=...``). Both are
replaced by ``***``; the rest of the URI stays readable, so the message still says where.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
_SECRET_KEYS = re.compile(r"pass|pwd|secret|token|key|sig|auth|credential", re.IGNORECASE)
#: user:password@ inside any text (URIs embedded in an exception message, say).
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^/\s:@]*):(?P<pw>[^/\s@]*)@")


def redact_uri(uri: str) -> str:
    """``uri`` with any password and secret-looking query values replaced by ``***``."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return redact_text(uri)
    if not parts.scheme or not parts.netloc and not parts.query:
        return redact_text(uri)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{host}" if ":" in userinfo else f"{MASK}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, MASK if _SECRET_KEYS.search(k) else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str) -> str:
    """Mask ``scheme://user:password@`` wherever it appears in free text."""
    return _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
