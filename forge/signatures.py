"""Is this delivery from the forge: each forge's own proof, checked in constant time.

GitHub signs the raw body with HMAC-SHA256 (`X-Hub-Signature-256: sha256=<hex>`), Gitea
and Forgejo likewise (`X-Gitea-Signature: <hex>`, Forgejo also `X-Forgejo-Signature`),
GitLab sends the secret itself (`X-Gitlab-Token`)."""

import hashlib
import hmac
from collections.abc import Mapping

# Checked when a board has no secret for the forge, so that such a board answers in the
# time a board with a wrong signature does.
NO_SECRET = "no secret is set for this forge"


def _hmac_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _same(given: str | None, expected: str) -> bool:
    if given is None:
        return False
    # Bytes: compare_digest refuses str with characters beyond ASCII, which a header can hold.
    return hmac.compare_digest(given.strip().encode("utf-8", "replace"), expected.encode())


def _github(headers: Mapping[str, str], secret: str, body: bytes) -> bool:
    return _same(headers.get("X-Hub-Signature-256"), "sha256=" + _hmac_hex(secret, body))


def _gitea(headers: Mapping[str, str], secret: str, body: bytes) -> bool:
    given = headers.get("X-Gitea-Signature") or headers.get("X-Forgejo-Signature")
    return _same(given, _hmac_hex(secret, body))


def _gitlab(headers: Mapping[str, str], secret: str, body: bytes) -> bool:
    return _same(headers.get("X-Gitlab-Token"), secret)


CHECKS = {"github": _github, "gitea": _gitea, "gitlab": _gitlab}


def is_signed(forge: str, *, headers: Mapping[str, str], secret: str, body: bytes) -> bool:
    """Whether `headers` prove that `body` comes from whoever holds `secret` (none set:
    never, after the same work as a check that fails)."""
    matches = CHECKS[forge](headers, secret or NO_SECRET, body)
    return bool(secret) and matches
