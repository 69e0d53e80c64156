"""Who is asking: bearer API keys and JWTs, stream tokens for EventSource, and what a user may see.

Off until ``STAGECAST_API_KEYS``, ``STAGECAST_JWT_SECRET`` or ``STAGECAST_JWT_PUBLIC_KEY`` is
set, so ``make run`` needs no configuration. When on, every request under the API prefixes
(``/api``, ``/v1``, ``/langgraph``) needs ``Authorization: Bearer <key or JWT>``; the check
is by URL prefix in ``before_request``, so routes added later are covered without a decorator.

``EventSource`` cannot send headers, so a run's ``stream_url`` carries ``?access_token=``: a
short-lived HS256 token naming one user and one run, accepted only on that run's stream URL
(never a long-lived key in a URL). Runs and threads belong to their creator; to anyone else
they do not exist (``404``), so a guessed id tells nothing (docs/security.md).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import Blueprint, Flask, Request, Response, current_app, g, request, url_for
from pydantic import BaseModel, ConfigDict, Field

from .config import Settings
from .errors import ServiceError
from .events import ErrorCode

# Everything a client calls to run agents or read their output; /healthz, /metrics (its own
# token), the pages and /openapi.json stay outside.
_PROTECTED = re.compile(r"^/(api|v1|langgraph)(/|$)")
_STREAM_AUDIENCE = "stagecast:stream"
_REALM = 'Bearer realm="stagecast"'


@dataclass(frozen=True)
class Principal:
    """The caller of one request."""

    user_id: str | None = None  # the authenticated user; None when unauthenticated or auth is off
    admin: bool = False
    open: bool = False  # authentication is off: everything is visible to everyone

    def can_see(self, owner: str | None) -> bool:
        """May this caller see a run or thread of ``owner`` (None: created anonymously)?"""
        return self.open or self.admin or (self.user_id is not None and owner == self.user_id)


OPEN = Principal(open=True)
NOBODY = Principal()


class Unauthorized(ServiceError):
    def __init__(self, message: str, invalid_token: bool = True) -> None:
        super().__init__(ErrorCode.UNAUTHORIZED, 401, message)
        # The challenge every 401 carries (RFC 6750), whichever error handler renders it:
        # a protocol adapter renders errors in its own protocol's shape.
        g.auth_challenge = _REALM + (', error="invalid_token"' if invalid_token else "")


class StreamTokenRequest(BaseModel):
    """The body of ``POST /api/stream-tokens``."""

    model_config = ConfigDict(extra="forbid")

    run_id: str = Field(min_length=1, max_length=200)


class StreamToken(BaseModel):
    """A token for ``new EventSource(stream_url)``: it opens that run's stream and nothing else.
    With authentication off there is no token, and ``stream_url`` is the plain one."""

    access_token: str | None
    expires_in: int | None
    stream_url: str


HostAuthenticate = Callable[[Request], str | None]
"""The host app's ``authenticate(request)``: the user's id, or None (401)."""


class Authenticator:
    """Checks bearer credentials and signs and checks stream tokens, from the settings."""

    def __init__(self, settings: Settings, host: HostAuthenticate | None = None) -> None:
        # The host app's own login (the extension's ``authenticate=``) turns authentication on.
        self.host = host
        self.enabled = settings.auth_enabled or host is not None
        # Without a secret of Stagecast's own, a stream token's key would be derived from
        # nothing, so none is made: the host's session cookie opens the stream instead.
        self.signs_stream_tokens = bool(
            settings.stream_token_secret or settings.jwt_secret or settings.api_keys or host is None
        )
        self._keys = [(key.encode(), user) for user, key in settings.api_keys.items()]
        self._admins = frozenset(settings.admins)
        # The algorithm a token names picks the key, and each key serves only its own kind:
        # a token "signed" with the public key's text as an HMAC secret never verifies.
        self._jwt_keys: dict[str, Any] = {}
        if settings.jwt_secret:
            self._jwt_keys["HS256"] = settings.jwt_secret
        if settings.jwt_public_key:
            public_key = serialization.load_pem_public_key(settings.jwt_public_key.encode())
            algorithm = "ES256" if isinstance(public_key, ec.EllipticCurvePublicKey) else "RS256"
            self._jwt_keys[algorithm] = public_key
        self._audience = settings.jwt_audience
        self._issuer = settings.jwt_issuer
        self._stream_ttl_s = settings.stream_token_ttl_s
        self._stream_key = _stream_key(settings)

    def principal(self, user_id: str) -> Principal:
        return Principal(user_id=user_id, admin=user_id in self._admins)

    def authenticate(self, token: str) -> Principal:
        """The user a bearer token names, or Unauthorized."""
        given = token.encode()
        user = None
        for key, owner in self._keys:  # every key is compared, so timing tells nothing
            if hmac.compare_digest(given, key):
                user = owner
        if user is not None:
            return self.principal(user)
        if self._jwt_keys and token.count(".") == 2:
            return self.principal(self._jwt_subject(token))
        raise Unauthorized("The bearer token is not a valid key or JWT.")

    def _jwt_subject(self, token: str) -> str:
        try:
            header = jwt.get_unverified_header(token)
            algorithm = header.get("alg")
            # Whatever the header holds (a list, a number, nothing), only a name we hold a key for.
            key = self._jwt_keys.get(algorithm) if isinstance(algorithm, str) else None
            if key is None or not isinstance(algorithm, str):
                raise Unauthorized("The JWT's alg is not one this server accepts.")
            if any(not isinstance(header.get(name, ""), str) for name in ("kid", "typ", "cty")):
                raise Unauthorized("The JWT's header is malformed.")
            # PyJWT refuses an aud when no audience is configured; an iss when no issuer is
            # configured is refused here, so a token made for another service never passes.
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["exp", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("The JWT has expired.") from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"The JWT is not valid: {exc}.") from None
        except (TypeError, ValueError, KeyError, AttributeError):
            # A header or claim of an unexpected type that PyJWT does not check itself.
            raise Unauthorized("The JWT is malformed.") from None
        if self._issuer is None and "iss" in claims:
            raise Unauthorized("The JWT names an issuer, and this server is configured with none.")
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise Unauthorized("The JWT's sub must name the user.")
        return subject

    def stream_token(self, user_id: str, run_id: str) -> tuple[str, int]:
        """A token that opens ``run_id``'s stream for ``user_id``, and its lifetime in seconds."""
        now = int(time.time())
        claims = {
            "sub": user_id,
            "run": run_id,
            "aud": _STREAM_AUDIENCE,
            "iat": now,
            "exp": now + self._stream_ttl_s,
        }
        return jwt.encode(claims, self._stream_key, algorithm="HS256"), self._stream_ttl_s

    def stream_principal(self, token: str, run_id: str) -> Principal:
        """The user a stream token was given to, if it was made for ``run_id`` and is still valid."""
        try:
            claims = jwt.decode(
                token,
                self._stream_key,
                algorithms=["HS256"],
                audience=_STREAM_AUDIENCE,
                options={"require": ["exp", "sub", "run"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized(
                "The access_token has expired; ask POST /api/stream-tokens for another."
            ) from None
        except jwt.PyJWTError:
            raise Unauthorized("The access_token is not valid.") from None
        if claims["run"] != run_id:
            raise Unauthorized("The access_token was made for another run.")
        return self.principal(claims["sub"])


def _stream_key(settings: Settings) -> bytes:
    """The stream tokens' HMAC key: the setting, or derived from the secrets every worker and
    host already shares (so no new secret is needed to run several of them)."""
    material = settings.stream_token_secret or settings.jwt_secret or ""
    if not settings.stream_token_secret:
        material += "\n".join(f"{user}={key}" for user, key in sorted(settings.api_keys.items()))
    return hmac.new(b"stagecast stream tokens", material.encode(), hashlib.sha256).digest()


def authenticator() -> Authenticator:
    return current_app.extensions["stagecast_auth"]


def current_principal() -> Principal:
    """The caller of this request (set before every request)."""
    return g.get("principal", NOBODY)


def current_owner() -> str | None:
    """What a run started by this request records as its owner (None with auth off)."""
    return current_principal().user_id


def _identify() -> None:
    """Before each request: who is calling; a 401 for the API paths when nobody is."""
    if _PROTECTED.match(request.path) or not authenticator().enabled:
        _identify_caller()
    else:
        g.principal = NOBODY


def _identify_caller() -> None:
    """Who is calling a Stagecast route (all of them are protected); a 401 when nobody is."""
    auth = authenticator()
    if not auth.enabled:
        g.principal = OPEN
        return
    g.principal = NOBODY
    # A CORS preflight carries no credentials by design; flask-cors answers it.
    if request.method == "OPTIONS":
        return
    if auth.host is not None:
        user = auth.host(request)
        if user is not None:
            g.principal = auth.principal(str(user))
            return
    # With the host's login, Stagecast's own keys are not consulted.
    authorization = request.headers.get("Authorization") if auth.host is None else None
    if authorization is not None:
        scheme, _, bearer = authorization.partition(" ")
        if scheme.lower() != "bearer" or not bearer.strip():
            raise Unauthorized("Send Authorization: Bearer <API key or JWT>.")
        g.principal = auth.authenticate(bearer.strip())
        return
    token = request.args.get("access_token")
    run_id = (request.view_args or {}).get("run_id")
    stream = request.endpoint == current_app.extensions["stagecast"].endpoint("runs.stream")
    if token and stream and run_id and auth.signs_stream_tokens and request.method in ("GET", "HEAD"):
        g.principal = auth.stream_principal(token, run_id)
        return
    if auth.host is not None:
        raise Unauthorized("Authentication required: sign in first.", False)
    raise Unauthorized("Authentication required: send Authorization: Bearer <API key or JWT>.", False)


def _challenge(response: Response) -> Response:
    if response.status_code == 401:
        response.headers.setdefault("WWW-Authenticate", g.get("auth_challenge", _REALM))
    return response


def stream_token_for(run_id: str) -> StreamToken:
    """How the caller opens ``run_id``'s stream without headers: with auth on, a URL carrying a
    stream token made for the caller and that run."""
    user = current_principal().user_id
    endpoint = current_app.extensions["stagecast"].endpoint("runs.stream")
    if user is None or not authenticator().signs_stream_tokens:
        url = url_for(endpoint, run_id=run_id)
        return StreamToken(access_token=None, expires_in=None, stream_url=url)
    token, ttl = authenticator().stream_token(user, run_id)
    url = url_for(endpoint, run_id=run_id, access_token=token)
    return StreamToken(access_token=token, expires_in=ttl, stream_url=url)


def init_app(
    app: Flask,
    settings: Settings,
    scope: Blueprint | None = None,
    authenticate: HostAuthenticate | None = None,
) -> Authenticator:
    """Check callers before each request: of the API paths of ``app``, or, with ``scope`` (the
    extension's blueprint in a host app), of every route of ``scope`` and none of the host's."""
    auth = Authenticator(settings, authenticate)
    app.extensions["stagecast_auth"] = auth
    (scope or app).before_request(_identify if scope is None else _identify_caller)
    (scope or app).after_request(_challenge)
    return auth


def bind_user(claimed: Any) -> str | None:
    """The ``user_id`` a run request may carry: the authenticated user's, filled in when
    absent; any other is refused (``403``). With auth off, whatever the client says."""
    user = current_principal().user_id
    if user is None:
        return claimed
    if claimed is not None and claimed != user:
        raise ServiceError(ErrorCode.FORBIDDEN, 403, "user_id must be the authenticated user's id.")
    return user
