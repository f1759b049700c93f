"""Who may call the service: the signed JSON Web Token a CDS client sends with every request.

A token is accepted only when its issuer (``iss``) is on the allow-list, its signature verifies
with a key (by ``kid``) from that issuer's JWK Set, with an asymmetric algorithm (never ``none``
or HMAC), its audience (``aud``) is the URL of the endpoint called, it has not expired (``exp``),
was not issued in the future (``iat``), lives at most ``max_lifetime`` seconds, and its ``jti``
has not been seen before (a bounded replay cache holds each until its ``exp``).

Keys come only from the JWK Set configured for the issuer (a URL, fetched and cached, or a file
read at start): a ``jku`` header is accepted only when it names that same URL, and nothing is
ever fetched from a URL that a token names. Why a token was refused goes to the log (never the
token itself) and never to the caller, who gets a plain 401.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
from jwt import PyJWK

__all__ = [
    "ALGORITHMS",
    "AuthError",
    "IssuerKeys",
    "ReplayCache",
    "TokenVerifier",
    "issuer_keys",
]

log = logging.getLogger("immunorules.service")

#: Asymmetric signature algorithms only: the spec forbids ``none`` and every HMAC algorithm.
ALGORITHMS = (
    "ES256",
    "ES384",
    "ES512",
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "EdDSA",
)
#: The largest JWK Set read from a URL or a file.
MAX_JWKS_BYTES = 256 * 1024
#: A key id not in a cached JWK Set refetches it, at most this often (seconds): a stream of
#: tokens with made-up key ids cannot turn into a stream of requests to the issuer.
REFETCH_INTERVAL = 30.0


class AuthError(Exception):
    """A request that is not let in; ``reason`` is for the log only."""

    def __init__(self, reason: str, *, status: int = 401) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def _keyset(data: Any, where: str) -> dict[str, tuple[PyJWK, str | None]]:
    """The usable keys of a JWK Set by key id, each with the algorithm it declares (if any)."""
    if not isinstance(data, Mapping) or not isinstance(data.get("keys"), list):
        raise ValueError(f"{where} is not a JWK Set (a JSON object with a 'keys' array)")
    keys: dict[str, tuple[PyJWK, str | None]] = {}
    for entry in data["keys"]:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("kid"), str):
            continue
        if "d" in entry:  # a private key has no business in a published set
            continue
        try:
            key = PyJWK(dict(entry))
        except (jwt.PyJWTError, ValueError, TypeError):
            continue
        declared = entry.get("alg")
        keys[entry["kid"]] = (key, declared if isinstance(declared, str) else None)
    if not keys:
        raise ValueError(f"{where} holds no usable public key with a 'kid'")
    return keys


@dataclass
class IssuerKeys:
    """One trusted issuer's keys: a JWK Set from a URL (fetched when needed, kept ``ttl``
    seconds) or given at start (from a file)."""

    url: str | None
    keys: dict[str, tuple[PyJWK, str | None]] = field(default_factory=dict)
    ttl: float = 3600.0
    deadline: float = 5.0
    fetched: float = float("-inf")
    tried: float = float("-inf")
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def key(self, kid: str, client: httpx.AsyncClient) -> tuple[PyJWK, str | None] | None:
        found = self.keys.get(kid)
        if self.url is None:
            return found
        now = time.monotonic()
        stale = now - self.fetched > self.ttl
        if found is not None and not stale:
            return found
        async with self.lock:
            now = time.monotonic()
            stale = now - self.fetched > self.ttl
            if (kid not in self.keys or stale) and now - self.tried >= REFETCH_INTERVAL:
                self.tried = now
                await self._fetch(client)
        return self.keys.get(kid)

    async def _fetch(self, client: httpx.AsyncClient) -> None:
        assert self.url is not None
        try:
            # The whole fetch, not each read: a set sent a byte at a time cannot hold calls up.
            async with asyncio.timeout(self.deadline):
                body = await self._download(client)
            self.keys = _keyset(json.loads(body), "the JWK Set")
            self.fetched = time.monotonic()
        except TimeoutError:
            log.error("JWK Set fetch failed: not received within %.1f s", self.deadline)
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            # Keys fetched before stay in use until a fetch succeeds.
            log.error("JWK Set fetch failed: %s: %s", type(exc).__name__, _short(exc))

    async def _download(self, client: httpx.AsyncClient) -> bytes:
        assert self.url is not None
        async with client.stream("GET", self.url, headers={"Accept": "application/json"}) as r:
            if r.status_code != 200:
                raise ValueError(f"HTTP {r.status_code}")
            body = bytearray()
            async for chunk in r.aiter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise ValueError(f"more than {MAX_JWKS_BYTES} bytes")
        return bytes(body)


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]


def issuer_keys(
    source: str | os.PathLike[str] | Mapping[str, Any], *, ttl: float, deadline: float = 5.0
) -> IssuerKeys:
    """The keys of one issuer from a JWK Set URL (``http://`` or ``https://``: fetched when first
    needed, each fetch given ``deadline`` seconds in all), a JWK Set file (at most
    ``MAX_JWKS_BYTES`` of it read), or a JWK Set given as a mapping. ``ValueError`` when a file
    or mapping holds no usable key."""
    if isinstance(source, Mapping):
        return IssuerKeys(url=None, keys=_keyset(source, "the JWK Set given"), ttl=ttl)
    text = os.fspath(source)
    if text.startswith(("https://", "http://")):
        return IssuerKeys(url=text, ttl=ttl, deadline=deadline)
    try:
        with Path(text).open("rb") as handle:  # a device or a pipe may never end
            raw = handle.read(MAX_JWKS_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"cannot read the JWK Set file {text}: {exc.strerror or exc}") from None
    if len(raw) > MAX_JWKS_BYTES:
        raise ValueError(f"the JWK Set file {text} is larger than {MAX_JWKS_BYTES} bytes")
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"the JWK Set file {text} is not JSON: {exc}") from None
    return IssuerKeys(url=None, keys=_keyset(data, f"the JWK Set file {text}"), ttl=ttl)


class ReplayCache:
    """The ``jti`` of every accepted token until its ``exp``: a token is accepted once.

    At most ``max_entries`` are held; when that many unexpired tokens were accepted, new ones
    are refused (503) rather than forgetting one that could then be replayed."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self._seen: set[tuple[str, str]] = set()
        self._expiry: list[tuple[float, tuple[str, str]]] = []

    def __len__(self) -> int:
        return len(self._seen)

    def add(self, key: tuple[str, str], exp: float, now: float) -> None:
        """Record ``key`` until ``exp``; :class:`AuthError` if it was seen, or if full."""
        while self._expiry and self._expiry[0][0] < now:
            self._seen.discard(heapq.heappop(self._expiry)[1])
        if key in self._seen:
            raise AuthError("replayed token (jti seen before)")
        if len(self._seen) >= self.max_entries:
            raise AuthError("replay cache full", status=503)
        self._seen.add(key)
        heapq.heappush(self._expiry, (exp, key))


_REASONS: tuple[tuple[type[jwt.PyJWTError], str], ...] = (
    (jwt.ExpiredSignatureError, "expired token"),
    (jwt.ImmatureSignatureError, "token not valid yet (iat or nbf in the future)"),
    (jwt.InvalidAudienceError, "wrong audience"),
    (jwt.InvalidIssuerError, "wrong issuer"),
    (jwt.MissingRequiredClaimError, "a required claim is missing"),
    (jwt.InvalidSignatureError, "bad signature"),
)


class TokenVerifier:
    """Checks the bearer token of a request (see the module docstring for every check)."""

    def __init__(
        self,
        issuers: Mapping[str, IssuerKeys],
        audience: str,
        *,
        leeway: float = 30.0,
        max_lifetime: float = 3600.0,
        replay: ReplayCache | None = None,
    ) -> None:
        self.issuers = dict(issuers)
        self.audience = audience.rstrip("/")
        self.leeway = leeway
        self.max_lifetime = max_lifetime
        self.replay = replay if replay is not None else ReplayCache()

    async def verify(
        self, authorization: str | None, path: str, client: httpx.AsyncClient
    ) -> dict[str, Any]:
        """The claims of the token in an ``Authorization`` header for a request to ``path``;
        :class:`AuthError` when it is missing or not acceptable."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthError("no bearer token")
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise AuthError("malformed token") from None
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise AuthError(f"algorithm not allowed: {str(algorithm)[:20]!r}")
        if str(header.get("typ", "")).upper() != "JWT":
            raise AuthError("typ is not JWT")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError("no kid in the token header")
        issuer = unverified.get("iss")
        if not isinstance(issuer, str) or issuer not in self.issuers:
            raise AuthError("issuer not on the allow-list")
        keys = self.issuers[issuer]
        jku = header.get("jku")
        if jku is not None and keys.url is not None and jku != keys.url:
            raise AuthError("jku is not the JWK Set URL configured for the issuer")
        found = await keys.key(kid, client)
        if found is None:
            raise AuthError("unknown kid for the issuer")
        key, declared = found
        if declared is not None and declared != algorithm:
            raise AuthError("the token's alg is not the key's")
        expected = self.audience + path
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                audience=expected,
                issuer=issuer,
                leeway=self.leeway,
                options={"require": ["iss", "aud", "exp", "iat", "jti"]},
            )
        except jwt.PyJWTError as exc:
            reason = next((text for kind, text in _REASONS if isinstance(exc, kind)), None)
            raise AuthError(reason or f"invalid token ({type(exc).__name__})") from None
        except (TypeError, ValueError):  # a key that does not fit the algorithm
            raise AuthError("the key does not fit the algorithm") from None
        now = time.time()
        try:
            exp = float(claims["exp"])
        except (OverflowError, TypeError, ValueError):  # e.g. 10**400: no time at all
            raise AuthError("exp is not a usable time") from None
        if exp - now > self.max_lifetime + self.leeway:
            raise AuthError(f"token lives longer than {self.max_lifetime:.0f} s")
        jti = claims["jti"]
        if not isinstance(jti, str) or not jti:
            raise AuthError("jti is not a string")
        self.replay.add((issuer, jti), exp + self.leeway, now)
        return claims
