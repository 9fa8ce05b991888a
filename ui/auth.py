"""Who may see and change what: authentication, authorization and rate limits of the HTTP API and the app.

All access rules live here, in :class:`AccessPolicy` (one per server) and the per-request
:class:`Access` it hands every ``/v1`` endpoint as a FastAPI dependency. The in-process Python API
(:class:`agent.Recommender`) stays unauthenticated; this is the HTTP/UI layer's job.

Modes (``[server.auth] mode``, :class:`agent.config.AuthConfig`):

- ``none``: no login; every caller may act as anyone (the local demo). Allowed only on a loopback
  bind (:func:`check_bind`).
- ``token``: every ``/v1`` request carries ``Authorization: Bearer <token>``; tokens come from
  ``trustrec auth add-token`` and only their SHA-256 hash is stored. A missing, malformed, unknown or
  revoked token gets the same 401.

Roles and what they may do (token mode):

- ``user`` (bound to one ``user_id``): acts only as its own user. Another user id, or a session that
  another principal created, answers 404 exactly like one that does not exist.
- ``service`` (an app embedding trustrec): acts for any end user it names; sees only the sessions it
  created.
- ``admin``: anyone and any session; ``DELETE /v1/users/{id}`` and cross-user reads (another user's
  export) need it (403 otherwise). Every admin action is appended to the store's audit log.

Sessions are bound to the principal that created them (``session_owners`` in the store) and to the
end user they act for; in token mode the server makes their ids (``secrets.token_urlsafe``), and an id
the caller does not own is "not found". Each token has a request budget per minute (a token bucket;
429 with ``Retry-After``); the buckets of at most ``rate_limit_tokens`` tokens are kept (least recently
used dropped), so memory stays bounded.
"""

from __future__ import annotations

import ipaddress
import math
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from fastapi import HTTPException, Request

from catalog.errors import BadInput, UnknownSession
from catalog.store import ROLES, token_hash, user_hash

if TYPE_CHECKING:
    from agent.config import AuthConfig, ServerConfig
    from agent.recommender import Recommender
    from catalog import Store

__all__ = [
    "ROLES",
    "Access",
    "AccessPolicy",
    "InsecureBind",
    "Principal",
    "RateLimiter",
    "check_bind",
    "create_token",
    "is_loopback",
]

Role = Literal["user", "service", "admin"]
NEW_USER_LOGIN = "new"
"""The app's login name for acting as a new user (service and admin tokens)."""

UNAUTHORIZED = "not authenticated"
SESSION_NOT_FOUND = "unknown session_id"


def unknown_user(user_id: str) -> HTTPException:
    """The one 404 for a user id that does not exist *or* that the caller may not act as."""
    return HTTPException(404, f"unknown user_id {user_id!r}; omit user_id for a new user (cold start)")


# ------------------------------------------------------------------------------------- principals


@dataclass(frozen=True)
class Principal:
    """Who is calling: a token's principal name, role and (role ``user``) user id."""

    name: str
    role: Role
    user_id: str | None = None
    token_id: str | None = None

    @property
    def owner(self) -> str:
        """The key sessions are bound to: a user's sessions are theirs whichever of their tokens made them."""
        return f"user:{self.user_id}" if self.role == "user" else f"{self.role}:{self.name}"


def create_token(store: Store, role: str, *, user_id: str | None = None, name: str | None = None) -> dict[str, Any]:
    """Make a new random token and store only its hash.

    Args:
        store: The workspace store.
        role: ``user`` (needs ``user_id``), ``service`` or ``admin``.
        user_id: The user a ``user`` token acts as.
        name: The principal's name (default ``user-<user_id>`` or ``<role>-<token id>``).

    Returns:
        ``token`` (shown once; not recoverable), ``token_id``, ``principal``, ``role``, ``user_id``.

    Raises:
        ValueError: Unknown role, a user token without ``user_id``, or a user id on another role.
    """
    if role not in ROLES:
        raise BadInput(f"--role must be one of {', '.join(ROLES)}, not {role!r}")
    if role == "user" and not user_id:
        raise BadInput("a user token needs --user-id (the user it acts as)")
    if role != "user" and user_id:
        raise BadInput(f"--user-id is for user tokens; a {role} token names users per request")
    if user_id is not None and (not user_id.strip() or len(user_id) > 128):
        raise BadInput("--user-id must be a non-empty string of at most 128 characters")
    token_id = f"tok_{secrets.token_hex(6)}"
    principal = name or (f"user-{user_id}" if role == "user" else f"{role}-{token_id[4:]}")
    token = secrets.token_urlsafe(32)
    store.add_token(token_id, token_hash(token), principal, role, user_id)
    return {"token": token, "token_id": token_id, "principal": principal, "role": role, "user_id": user_id}


def principal_of(store: Store, token: str) -> Principal | None:
    """The live principal of ``token``, or None (unknown or revoked)."""
    if not token or len(token) > 512:
        return None
    row = store.token(token_hash(token))
    if row is None:
        return None
    return Principal(row["principal"], row["role"], row["user_id"], row["token_id"])


# ------------------------------------------------------------------------------------- bind check


class InsecureBind(ValueError):
    """``mode = "none"`` on an address other machines can reach."""


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(server: ServerConfig) -> None:
    """Refuse to serve without authentication anywhere but loopback.

    Raises:
        InsecureBind: ``server.auth.mode`` is ``none`` and ``server.host`` is not a loopback address.
    """
    if server.auth.mode == "none" and not is_loopback(server.host):
        raise InsecureBind(
            f"refusing to serve on {server.host} without authentication: anyone who reaches the port could read "
            "and delete every user's data. Turn tokens on with\n"
            '  server.auth.mode = "token"\n'
            "in trustrec.toml (or the environment variable TRUSTREC_SERVER__AUTH__MODE=token), then create tokens with\n"
            "  trustrec auth add-token --role user --user-id 42   (or --role service / --role admin)\n"
            "and send them as `Authorization: Bearer <token>`; the app asks for the same token at login."
        )


# ------------------------------------------------------------------------------------- rate limit


class RateLimiter:
    """A token bucket per key: ``per_minute`` requests a minute, bursts up to ``per_minute``.

    At most ``max_keys`` buckets are kept (least recently used dropped first), so memory is bounded
    whatever the number of callers. ``per_minute = 0`` allows everything.
    """

    def __init__(self, per_minute: int, max_keys: int = 10_000, *, clock: Any = time.monotonic) -> None:
        self.per_minute, self.max_keys, self.clock = per_minute, max_keys, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, last time)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def hit(self, key: str) -> float:
        """Take one request from ``key``'s bucket. Returns 0 when allowed, else seconds until the next one is."""
        if self.per_minute <= 0:
            return 0.0
        rate = self.per_minute / 60.0
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * rate)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / rate
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        return wait


# ------------------------------------------------------------------------------------- policy


@dataclass
class Access:
    """What one request may do: built by :meth:`AccessPolicy.access` (a FastAPI dependency).

    ``principal`` is None in mode ``none`` (everything allowed, as on a local demo).
    """

    policy: AccessPolicy
    principal: Principal | None
    action: str = ""
    _audited: set[str] = field(default_factory=set)

    @property
    def store(self) -> Store:
        return self.policy.store

    def _audit(self, target: str, outcome: str = "allowed") -> None:
        p = self.principal
        if p is not None and p.role == "admin" and target not in self._audited:
            self._audited.add(target)
            self.store.audit(p.name, p.role, self.action, target, outcome)

    def user(self, requested: str | None, *, known: bool = True) -> str | None:
        """The end user this request acts for.

        Args:
            requested: The user id the caller named (None: a new user; a ``user`` principal's own id).
            known: The id must be a user of the catalog (feedback accepts any id, as a new app user).

        Raises:
            HTTPException: 404 for an unknown user or, for a ``user`` principal, any user but its own.
        """
        p = self.principal
        if p is not None and p.role == "user":
            if requested is not None and requested != p.user_id:
                raise unknown_user(requested)
            return p.user_id  # its own id, known to the dataset or not (a new user of the app)
        if known and requested is not None and requested not in self.policy.users:
            raise unknown_user(requested)
        self._audit(f"user#{user_hash(requested)[:16]}" if requested else "user:new")
        return requested

    def session(self, session_id: str | None, user_id: str | None, *, create: bool) -> tuple[str | None, str | None]:
        """The session this request may use, and the end user it acts for.

        Args:
            session_id: The session the caller named (None: a new one).
            user_id: The end user resolved by :meth:`user`.
            create: Whether a new session is recorded (chat, recommend) or only read (explain).

        Returns:
            ``(session_id, user_id)``. In token mode a new session gets a random id bound to the
            caller; in mode none the caller's id is used as is (None lets the recommender pick one).

        Raises:
            HTTPException: 404 for a session that does not exist, that another principal owns, or
                that acts for another end user (409 for an admin).
        """
        p = self.principal
        if p is None:
            return session_id, user_id
        if session_id is None:
            sid = f"s-{secrets.token_urlsafe(24)}"
            if create:
                self.store.claim_session(sid, p.owner, user_id)
            return sid, user_id
        row = self.store.session_owner(session_id)
        if row is None:
            raise HTTPException(404, SESSION_NOT_FOUND)
        owner, bound = row
        if owner != p.owner:
            if p.role != "admin":
                raise HTTPException(404, SESSION_NOT_FOUND)
            self._audit(f"session:{session_id}")
        if bound is not None and user_id is not None and user_id != bound:
            if p.role == "admin":
                raise HTTPException(409, "this session acts for another user; start a new session")
            raise HTTPException(404, SESSION_NOT_FOUND)
        if bound is None and user_id is not None:
            self.store.bind_session_user(session_id, user_id)
        return session_id, user_id if user_id is not None else bound

    def admin(self, target: str) -> None:
        """Allow an admin-only action (403 for other roles); audited."""
        p = self.principal
        if p is None:
            return
        if p.role != "admin":
            raise HTTPException(403, "this action needs an admin token")
        self._audit(target)

    def self_or_admin(self, user_id: str) -> None:
        """Allow a read of everything about ``user_id``: the user themself or an admin (403 otherwise)."""
        p = self.principal
        if p is None or (p.role == "user" and p.user_id == user_id):
            return
        self.admin(f"user#{user_hash(user_id)[:16]}")


class AccessPolicy:
    """The access rules of one server over ``recommender``'s store (see the module docs).

    Args:
        recommender: The served recommender (its store keeps tokens, session owners and the audit log).
        config: ``[server.auth]``.
    """

    def __init__(self, recommender: Recommender, config: AuthConfig) -> None:
        self.rec = recommender
        self.config = config
        self.store = recommender.engine.store
        self.users = recommender.engine.dataset.user_index
        self.limiter = RateLimiter(config.rate_limit_per_minute, config.rate_limit_tokens)

    @property
    def enabled(self) -> bool:
        return self.config.mode == "token"

    def authenticate(self, authorization: str | None) -> Principal:
        """The principal of an ``Authorization`` header.

        Raises:
            HTTPException: 401 (one answer for missing, malformed, unknown and revoked tokens) or 429.
        """
        scheme, _, token = (authorization or "").partition(" ")
        p = principal_of(self.store, token.strip()) if scheme.lower() == "bearer" else None
        if p is None:
            raise HTTPException(401, UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})
        wait = self.limiter.hit(p.token_id or p.name)
        if wait > 0:
            raise HTTPException(
                429, "rate limit: too many requests for this token", headers={"Retry-After": str(math.ceil(wait))}
            )
        return p

    def access(self, request: Request) -> Access:
        """FastAPI dependency of every ``/v1`` route: authenticate (token mode) and hand out the rules."""
        route = request.scope.get("route")
        action = f"{request.method} {getattr(route, 'path', request.url.path)}"
        if not self.enabled:
            return Access(self, None, action)
        return Access(self, self.authenticate(request.headers.get("authorization")), action)

    # ---------------------------------------------------------------- the app (Gradio login)
    def web_login(self, username: str, password: str) -> bool:
        """Gradio's auth hook: the password is a token, the username the user id to chat as.

        A ``user`` token logs in only as its own user id; ``service`` and ``admin`` tokens as any
        known user id, or ``new`` for a new user.
        """
        p = principal_of(self.store, (password or "").strip())
        name = (username or "").strip()
        if p is None or not name:
            return False
        if p.role == "user":
            return name == p.user_id
        if p.role == "admin":
            self.store.audit(p.name, p.role, "app login", "user:new" if name == NEW_USER_LOGIN else
                             f"user#{user_hash(name)[:16]}")  # fmt: skip
        return name == NEW_USER_LOGIN or name in self.users

    def web_session(self, session_id: str, login: str) -> None:
        """Bind an app session to its login (first use) or refuse one another login owns.

        Raises:
            KeyError: The session belongs to another login (answered like an unknown session).
        """
        owner = f"user:{login}"
        user = None if login == NEW_USER_LOGIN else login
        if self.store.claim_session(session_id, owner, user):
            return
        row = self.store.session_owner(session_id)
        if row is None or row[0] != owner:
            raise UnknownSession(SESSION_NOT_FOUND)


def web_login_user() -> tuple[bool, str | None]:
    """``(logged_in, user_id)`` of the app event being handled (Gradio's login; ``new`` is a new user).

    ``(False, None)`` outside a login (mode none, or no request).
    """
    from gradio.context import LocalContext

    req = LocalContext.request.get(None)
    name = getattr(req, "username", None) if req is not None else None
    if not name:
        return False, None
    return True, None if name == NEW_USER_LOGIN else str(name)
