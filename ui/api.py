"""The HTTP API (FastAPI) over one :class:`agent.Recommender`, with the Gradio app mounted at ``/``.

Endpoints (all JSON, OpenAPI at ``/openapi.json``, docs at ``/docs``):

- ``POST /v1/chat``: one chat turn -> the typed reply (text plus item cards with evidence).
- ``POST /v1/chat/stream``: the same turn as server-sent events: ``text`` (the headline), ``cards``
  (every card with template text, trust and attributions, as soon as ranking is done), ``card`` (one
  card whose template text was replaced by checked LLM text), ``reply`` (the final reply, as
  ``/v1/chat`` returns it); ``error`` if the turn fails after the stream began.
- ``POST /v1/recommend``: ``{"user_id": "196", "n": 5}`` -> ``n`` items with trust and explanations.
- ``POST /v1/explain``: why one item for a session's user.
- ``POST /v1/feedback``: a like, dislike, rating... stored durably, idempotent by ``event_id``.
- ``GET /v1/profile/{session_id}``, ``PATCH`` (set constraints), ``DELETE`` (forget a part).
- ``DELETE /v1/users/{user_id}``: erase a user's data, tokens and sessions (admin in token mode).
- ``GET /v1/users/{user_id}/export``: everything stored about a user, as JSON (the user or an admin).
- ``GET /healthz`` (answers at once, also while models load) and ``GET /readyz`` (200 once the
  background warm-up of the explainer and the LLM is done, 503 with its progress before).

Turns (chat, stream, recommend, explain) run on a bounded :class:`ui.pool.TurnPool`, never on the
event loop; past ``server.turn_workers`` running and ``server.max_pending_turns`` waiting, 503.

Authentication and authorization (:mod:`ui.auth`): with ``[server.auth] mode = "token"`` every
``/v1`` route needs ``Authorization: Bearer <token>`` (401 otherwise, 429 past the per-token rate
limit); a ``user`` token acts only as its own user and its own sessions (404 for anything else), a
``service`` token for any user it names but only on its own sessions, an ``admin`` token for anyone
(audited). ``mode = "none"`` (loopback only) leaves every route open, as on a local demo.

Bad input never yields a 5xx: 422 names the field, 404 an unknown item or user, 413 a body over
:data:`MAX_BODY_BYTES` or a message over the recommender's length cap.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.reply import ItemCard, Reply
from agent.state import MAX_N, Constraints
from catalog import FeedbackEvent, FeedbackKind
from catalog.errors import BadInput, TrustrecError
from ui.auth import Access, AccessPolicy
from ui.pool import PoolBusy, TurnPool

if TYPE_CHECKING:
    from agent.config import AuthConfig
    from agent.recommender import Recommender
    from agent.reply import TurnEvent
    from agent.warmup import Warmup

__all__ = ["MAX_BODY_BYTES", "BodySizeLimit", "ReplicaHeader", "create_api"]

MAX_BODY_BYTES = 64 * 1024
log = logging.getLogger("trustrec.api")
MAX_STREAM_EVENTS = 256  # events queued per streamed turn (a turn makes at most 3 + 2 x 50 cards)
WEB_LOGIN_MESSAGE = (
    "Log in with your user id (service and admin tokens: any user id, or 'new' for a new user) and, "
    "as the password, a token from `trustrec auth add-token`."
)
Id = Field(min_length=1, max_length=128)


def _access(request: Request) -> Access:
    """The one authorization dependency of every ``/v1`` route (the app's :class:`ui.auth.AccessPolicy`)."""
    policy: AccessPolicy = request.app.state.access_policy
    return policy.access(request)


Acc = Annotated[Access, Depends(_access)]  # the same (cached per request) object inside each route


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChatRequest(_In):
    """One user message."""

    message: str = Field(min_length=1, max_length=MAX_BODY_BYTES, description="The user's message (plain text).")
    session_id: str | None = Field(
        None, min_length=1, max_length=128, description="Session to continue; new if absent."
    )
    user_id: str | None = Field(None, min_length=1, max_length=128, description="A known user, or absent (cold start).")


class RecommendRequest(_In):
    """A list without a chat message."""

    user_id: str | None = Field(None, min_length=1, max_length=128, description="A known user, or absent (cold start).")
    n: int = Field(5, ge=1, le=MAX_N, description="List length.")
    session_id: str | None = Field(None, min_length=1, max_length=128, description="Session to record the list in.")


class RecommendResponse(BaseModel):
    """``n`` items, each with score, calibrated confidence, trust report, attributions and explanation."""

    session_id: str
    user_id: str | None
    cards: list[ItemCard] = Field(description="The items, best first (the same cards a chat reply carries).")
    list_report: dict[str, Any] | None = None
    notes: list[str] = Field(default_factory=list)


ConstraintsEdit: type[BaseModel] = create_model(  # type: ignore[call-overload]  # every constraint field, optional
    "ConstraintsEdit",
    __base__=_In,
    __doc__="Constraint fields to set; absent fields keep their value, null clears one.",
    **{
        name: (f.annotation | None, Field(None, description=f.description))  # type: ignore[operator]
        for name, f in Constraints.model_fields.items()
    },
)


class ExplainRequest(_In):
    """Explain one item for a session's user."""

    item_id: str = Id
    session_id: str | None = Field(None, min_length=1, max_length=128, description="Session whose feedback counts.")
    user_id: str | None = Field(None, min_length=1, max_length=128, description="A known user, or absent.")


class FeedbackRequest(_In):
    """A user's feedback on an item."""

    session_id: str = Id
    item_id: str = Id
    kind: FeedbackKind
    user_id: str | None = Field(None, min_length=1, max_length=128)
    value: float | None = Field(None, description="Rating value for kind=rating.")
    event_id: str | None = Field(
        None, min_length=1, max_length=128, description="Idempotency key; generated if absent."
    )


class FeedbackResponse(BaseModel):
    event_id: str
    stored: bool = Field(description="False when this event_id was stored before (nothing changed).")


class ProfileResponse(BaseModel):
    """The editable preference memory of a session."""

    session_id: str
    user_id: str | None
    turn: int
    constraints: dict[str, Any]
    liked: list[dict[str, Any]]
    disliked: list[dict[str, Any]]
    not_interested: list[dict[str, Any]]
    shown: list[dict[str, Any]]


class DeleteUserResponse(BaseModel):
    user_id: str
    deleted: dict[str, int]


class ExportResponse(BaseModel):
    """Everything stored about one user."""

    user_id: str
    deleted: bool = Field(description="The user was deleted (tombstoned): their history is no longer used.")
    attributes: dict[str, Any] = Field(default_factory=dict, description="Catalog attributes (age, ...).")
    history: list[dict[str, Any]] = Field(default_factory=list, description="Interactions the recommender uses.")
    stored_interactions: list[dict[str, Any]] = Field(default_factory=list)
    feedback: list[dict[str, Any]] = Field(default_factory=list)
    sessions: list[dict[str, Any]] = Field(default_factory=list, description="Each session's preference memory.")
    tokens: list[dict[str, Any]] = Field(default_factory=list, description="API tokens (ids and roles; no secrets).")


class BodySizeLimit:
    """Pure ASGI middleware: refuse request bodies over ``limit`` bytes under ``prefix`` with 413.

    Checks ``Content-Length`` first; a body without one (chunked) is read up to the limit and replayed.
    """

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES, prefix: str = "/v1/") -> None:
        self.app, self.limit, self.prefix = app, limit, prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        too_big = JSONResponse({"detail": f"request body over {self.limit} bytes"}, status_code=413)
        for k, v in scope.get("headers", []):
            if k == b"content-length":
                try:
                    declared = int(v)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > self.limit:
                    await too_big(scope, receive, send)
                    return
        # No (trusted) length: read the streamed body up to the limit before the app sees it.
        body: list[bytes] = []
        more = True
        seen = 0
        while more:
            msg = await receive()
            if msg["type"] != "http.request":
                return  # client went away
            chunk = msg.get("body", b"")
            seen += len(chunk)
            if seen > self.limit:
                await too_big(scope, receive, send)
                return
            body.append(chunk)
            more = bool(msg.get("more_body", False))
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class SafeJSONResponse(JSONResponse):
    """JSON that survives text the request smuggled in: a JSON string may hold a lone surrogate ("\\ud800"),
    which UTF-8 cannot encode; such an answer (a 422 echoing the input, an error naming the session) is
    written with ASCII escapes instead of failing as a 500."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


class ReplicaHeader:
    """Pure ASGI middleware: name the replica that answered in a response header (streams untouched)."""

    def __init__(self, app: ASGIApp, replica: str, header: str = "x-trustrec-replica") -> None:
        self.app, self.value, self.header = app, replica.encode("latin-1", "replace"), header.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def named(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                msg = {**msg, "headers": [*msg.get("headers", []), (self.header, self.value)]}
            await send(msg)

        await self.app(scope, receive, named)


def create_api(
    recommender: Recommender,
    *,
    ui: bool = True,
    auth: AuthConfig | None = None,
    warmup: Warmup | None = None,
    pool: TurnPool | None = None,
    replica: str | None = None,
) -> FastAPI:
    """The HTTP API for ``recommender``, with the Gradio app mounted at ``/`` when ``ui``.

    Args:
        recommender: A built recommender, shared by all requests.
        ui: Mount the browser app (``ui.app.build_app``) at ``/``.
        auth: Authentication settings (default: ``recommender.engine.config.server.auth``).
        warmup: The background warm-up (:class:`agent.warmup.Warmup`) ``/readyz`` reports on; None
            when everything was loaded before the server started.
        pool: Where turns run (default: a :class:`ui.pool.TurnPool` sized by ``[server]``).
        replica: This replica's id (``trustrec serve --engine ray``): every answer names it in the
            ``X-Trustrec-Replica`` header and ``/healthz`` reports it.

    Access follows ``[server.auth]`` (:class:`ui.auth.AccessPolicy`): every
    ``/v1`` route depends on the policy, which authenticates (token mode) and decides which users
    and sessions the caller may touch.
    """
    from agent.safety import MessageTooLong

    rec = recommender
    users = rec.engine.dataset.user_index
    server_cfg = rec.engine.config.server
    policy = AccessPolicy(rec, auth or server_cfg.auth)
    turns = pool or TurnPool(server_cfg.turn_workers, server_cfg.max_pending_turns)
    api = FastAPI(
        default_response_class=SafeJSONResponse,
        title="trustrec API",
        version="1",
        description="Explainable conversational recommendations: every item comes with evidence and a trust report.",
    )
    api.add_middleware(BodySizeLimit, limit=MAX_BODY_BYTES, prefix="/v1/")
    if replica is not None:
        api.add_middleware(ReplicaHeader, replica=replica)

    @api.exception_handler(MessageTooLong)
    async def _too_long(_r: Request, e: MessageTooLong) -> JSONResponse:
        return SafeJSONResponse({"detail": str(e), "limit": e.limit, "error": type(e).__name__}, status_code=413)

    @api.exception_handler(RequestValidationError)
    async def _invalid_request(_r: Request, e: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler echoes the input, which may not be encodable: the same answer, encoded safely
        return SafeJSONResponse({"detail": jsonable_encoder(e.errors())}, status_code=422)

    @api.exception_handler(ValidationError)
    async def _invalid(_r: Request, e: ValidationError) -> JSONResponse:
        errs = [{"loc": list(x["loc"]), "msg": x["msg"], "type": x["type"]} for x in e.errors()]
        return SafeJSONResponse({"detail": errs}, status_code=422)

    @api.exception_handler(UnicodeDecodeError)
    async def _not_utf8(_r: Request, e: UnicodeDecodeError) -> JSONResponse:
        # the body's bytes are not UTF-8 text: the caller's fault, like malformed JSON
        detail = f"the request body is not UTF-8 text (byte {e.start}); send JSON encoded as UTF-8"
        return SafeJSONResponse({"detail": detail, "error": "BadInput"}, status_code=422)

    @api.exception_handler(TrustrecError)
    async def _user_error(_r: Request, e: TrustrecError) -> JSONResponse:
        retry = getattr(e, "retry_after_s", None)  # SessionBusy: the same session's turn runs elsewhere
        headers = {"Retry-After": str(retry)} if retry is not None else None
        return SafeJSONResponse({"detail": str(e), "error": type(e).__name__}, status_code=e.status, headers=headers)

    @api.exception_handler(PoolBusy)
    async def _busy(_r: Request, e: PoolBusy) -> JSONResponse:
        return SafeJSONResponse({"detail": str(e)}, status_code=503, headers={"Retry-After": str(e.retry_after_s)})

    @api.exception_handler(Exception)
    async def _bug(r: Request, e: Exception) -> JSONResponse:
        # not the caller's fault: log the trace under an id the answer names, and say so
        ref = uuid.uuid4().hex[:12]
        log.error("internal error %s on %s %s", ref, r.method, r.url.path, exc_info=e)
        return JSONResponse({"detail": f"internal error (reference {ref}); it is logged", "error": "internal"}, 500)

    def known_item(item_id: str) -> str:
        if rec.engine.item_idx(item_id) is None:
            raise HTTPException(404, f"unknown item_id {item_id!r}")
        return item_id

    @api.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, Any]:
        """Liveness and what is loaded; answers at once, also while the models warm up."""
        eng = rec.engine
        if "llm" in eng.warming:
            llm = f"{eng.config.llm.backend} (loading; templates until ready)"
        else:
            llm = eng.config.llm.backend if eng.llm is not None else "none (templates)"
        return {
            "status": "ok",
            "ready": warmup.ready if warmup is not None else not eng.warming,
            "warming": sorted(eng.warming),
            "items": eng.dataset.n_items,
            "users": eng.dataset.n_users,
            "mode": rec.mode,
            "llm": llm,
            "turns_in_flight": turns.in_flight,
            "replica": replica,
        }

    @api.get("/readyz", tags=["ops"])
    def readyz() -> JSONResponse:
        """200 once the background warm-up is done (each part ready, failed or off), else 503 with its progress."""
        if warmup is None:
            return JSONResponse({"ready": not rec.engine.warming, "parts": {}}, status_code=200)
        st = warmup.status()
        return JSONResponse(st.model_dump(mode="json"), status_code=200 if st.ready else 503)

    api.state.access_policy = policy
    # every /v1 route depends on the policy: authentication (token mode) cannot be forgotten on one of them
    v1 = APIRouter(prefix="/v1", dependencies=[Depends(_access)])

    def chat_turn(body: ChatRequest, acc: Access) -> Reply:
        sid, user = acc.session(body.session_id, acc.user(body.user_id), create=True)
        return rec.chat(sid or f"api-{uuid.uuid4().hex}", body.message, user)

    @v1.post("/chat", response_model=Reply, tags=["chat"])
    async def chat(body: ChatRequest, acc: Acc) -> Reply:
        """One chat turn. Continue a conversation by sending the returned ``session_id`` back."""
        return await turns.run(chat_turn, body, acc)

    @v1.post(
        "/chat/stream", tags=["chat"], response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}, "description": "Server-sent events: text, cards, "
                         "card (LLM text replaced a template), reply (as /v1/chat returns it), error."}},
    )  # fmt: skip
    async def chat_stream(body: ChatRequest, acc: Acc) -> StreamingResponse:
        """One chat turn as server-sent events: the cards as soon as ranking is done, then each card's
        LLM text as it passes the checks, then the whole reply. Errors before the first event answer
        with the status ``/v1/chat`` would give; errors after it end the stream with an ``error`` event."""
        loop = asyncio.get_running_loop()
        q: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(maxsize=MAX_STREAM_EVENTS)
        put = lambda kind, value: loop.call_soon_threadsafe(q.put_nowait, (kind, value))  # noqa: E731

        def produce() -> None:
            try:
                sid, user = acc.session(body.session_id, acc.user(body.user_id), create=True)
                for event in rec.stream(sid or f"api-{uuid.uuid4().hex}", body.message, user):
                    put("event", event)
            except Exception as e:  # delivered to the response (a 4xx before the first event)
                put("error", e)
            else:
                put("end", None)

        turns.submit(produce)  # PoolBusy -> 503
        idle = server_cfg.stream_idle_timeout_s
        try:
            first = await asyncio.wait_for(q.get(), timeout=idle)
        except TimeoutError:
            raise HTTPException(504, f"the turn produced nothing within {idle:.0f} s") from None
        if first[0] == "error":
            raise first[1]

        async def events() -> AsyncIterator[str]:
            kind, value = first
            while True:
                if kind == "event":
                    yield _sse(value)
                elif kind == "error":
                    if not isinstance(value, TrustrecError):  # a bug mid-stream: logged, and said without details
                        log.error("internal error in a streamed turn", exc_info=value)
                    yield _sse_error(
                        str(value) if isinstance(value, TrustrecError) else "the turn failed; it is logged"
                    )
                    return
                else:
                    return
                try:
                    kind, value = await asyncio.wait_for(q.get(), timeout=idle)
                except TimeoutError:
                    yield _sse_error(f"no event for {idle:.0f} s; the turn was given up")
                    return

        return StreamingResponse(
            events(), media_type=SSE, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )

    def recommend_turn(body: RecommendRequest, acc: Access) -> RecommendResponse:
        sid, user = acc.session(body.session_id, acc.user(body.user_id), create=True)
        reply = rec.recommend(user, body.n, sid)
        return RecommendResponse(
            session_id=reply.session_id, user_id=user, cards=reply.cards,
            list_report=reply.list_report, notes=reply.notes,
        )  # fmt: skip

    @v1.post("/recommend", response_model=RecommendResponse, tags=["chat"])
    async def recommend(body: RecommendRequest, acc: Acc) -> RecommendResponse:
        """``n`` recommendations for a user (or a new user), each with trust and an explanation."""
        return await turns.run(recommend_turn, body, acc)

    def explain_turn(body: ExplainRequest, acc: Access) -> ItemCard:
        sid, user = acc.session(body.session_id, acc.user(body.user_id), create=False)
        return rec.explain(sid or f"api-{uuid.uuid4().hex}", known_item(body.item_id), user)

    @v1.post("/explain", response_model=ItemCard, tags=["chat"])
    async def explain(body: ExplainRequest, acc: Acc) -> ItemCard:
        """Why one item for this user, as if it were recommended now (attributions, trust, explanation)."""
        return await turns.run(explain_turn, body, acc)

    @v1.post("/feedback", response_model=FeedbackResponse, tags=["feedback"])
    def feedback(body: FeedbackRequest, acc: Acc) -> FeedbackResponse:
        """Store feedback durably and apply it to the session at once (idempotent by ``event_id``).

        In token mode the session must be one the caller made (through chat or recommend)."""
        sid, user = acc.session(body.session_id, acc.user(body.user_id, known=False), create=False)
        event_id = body.event_id or f"api-{uuid.uuid4().hex}"
        ev = FeedbackEvent(
            event_id=event_id, session_id=sid or body.session_id, user_id=user,
            item_id=known_item(body.item_id), kind=body.kind, value=body.value,
        )  # fmt: skip
        return FeedbackResponse(event_id=event_id, stored=rec.feedback(ev))

    def own_session(acc: Access, session_id: str) -> str:
        if len(session_id) > 128:  # validated before the owner lookup (422, as in mode none)
            raise BadInput("session_id must be a non-empty string of at most 128 characters")
        return acc.session(session_id, None, create=False)[0] or session_id

    @v1.get("/profile/{session_id}", response_model=ProfileResponse, tags=["memory"])
    def profile(session_id: str, acc: Acc) -> dict[str, Any]:
        """The preference memory of a session (constraints, likes, dislikes, shown items)."""
        return rec.profile(own_session(acc, session_id))

    @v1.patch("/profile/{session_id}", response_model=ProfileResponse, tags=["memory"])
    def edit_profile(
        session_id: str,
        constraints: ConstraintsEdit,
        acc: Acc,
    ) -> dict[str, Any]:
        """Set constraint fields (e.g. ``{"year_min": 1980, "exclude_categories": ["Horror"]}``); ``null`` clears one."""
        return rec.edit_profile(own_session(acc, session_id), **constraints.model_dump(exclude_unset=True))

    @v1.delete("/profile/{session_id}", response_model=ProfileResponse, tags=["memory"])
    def clear_profile(
        session_id: str,
        acc: Acc,
        part: Literal["constraints", "likes", "dislikes", "not_interested", "ratings", "feedback", "all"] = "all",
    ) -> dict[str, Any]:
        """Forget part of a session's memory."""
        return rec.clear_profile(own_session(acc, session_id), part)

    @v1.delete("/users/{user_id}", response_model=DeleteUserResponse, tags=["privacy"])
    def delete_user(user_id: str, acc: Acc) -> DeleteUserResponse:
        """Erase a user: stored rows, tokens, every session, leaving no trace in the files; a tombstone
        keeps the next training from using them, and their history is no longer used or shown."""
        from catalog.store import user_hash

        if len(user_id) > 128:
            raise BadInput("user_id must be a non-empty string of at most 128 characters")
        acc.admin(f"user#{user_hash(user_id)[:16]}")
        counts = rec.delete_user(user_id)
        if user_id not in users and not any(counts.values()):
            raise HTTPException(404, f"unknown user_id {user_id!r}: nothing stored for this user")
        return DeleteUserResponse(user_id=user_id, deleted=counts)

    @v1.get("/users/{user_id}/export", response_model=ExportResponse, tags=["privacy"])
    def export_user(user_id: str, acc: Acc) -> ExportResponse:
        """Everything stored about a user, as JSON (the user themself or an admin)."""
        if len(user_id) > 128:
            raise BadInput("user_id must be a non-empty string of at most 128 characters")
        acc.self_or_admin(user_id)
        return _export(rec, user_id)

    api.include_router(v1)

    if ui:
        import gradio as gr

        from ui.app import APP_CSS, app_theme, build_app

        cfg = rec.engine.config.server
        login: dict[str, Any] = {}
        if policy.enabled:  # the same tokens log in to the app: user id as the name, the token as the password
            login = {"auth": policy.web_login, "auth_message": WEB_LOGIN_MESSAGE}
        api = gr.mount_gradio_app(
            api, build_app(rec, access=policy if policy.enabled else None), path="/", server_name=cfg.host,
            server_port=cfg.port, theme=app_theme(), css=APP_CSS, footer_links=["api"], allowed_paths=[],
            ssr_mode=False, run_history=False, **login,
        )  # fmt: skip
    return api


SSE = "text/event-stream"


def _sse(event: TurnEvent) -> str:
    """One server-sent event: its kind as the event name, its JSON (one line) as the data."""
    return f"event: {event.kind}\ndata: {event.model_dump_json()}\n\n"


def _sse_error(detail: str) -> str:
    import json

    return f"event: error\ndata: {json.dumps({'detail': detail})}\n\n"


def _export(rec: Recommender, user_id: str) -> ExportResponse:
    """Everything stored about ``user_id``: catalog attributes and history (unless deleted), store rows,
    feedback, each session's memory and the user's API tokens (ids and roles, never hashes)."""
    e = rec.engine
    deleted = user_id in e.tombstoned or e.store.is_tombstoned(user_id)
    idx = e.dataset.user_index.get(user_id)
    attributes: dict[str, Any] = {}
    history: list[dict[str, Any]] = []
    if idx is not None and not deleted:
        attributes = dict(e.dataset.users[idx].attributes)
        df = e.dataset.interactions
        rows = df.loc[df["user_idx"] == idx, ["item_id", "kind", "value", "timestamp"]].astype(object)
        for item_id, kind, value, ts in rows.itertuples(index=False, name=None):
            history.append({
                "item_id": str(item_id), "title": e.vocab.label(str(item_id)), "kind": str(kind),
                "value": None if value is None or value != value else float(value), "timestamp": float(ts),
            })  # fmt: skip
    return ExportResponse(
        user_id=user_id, deleted=deleted, attributes=attributes, history=history,
        stored_interactions=[i.model_dump(mode="json") for i in e.store.interactions(user_id)],
        feedback=[f.model_dump(mode="json") for f in e.store.feedback(user_id=user_id)],
        sessions=[rec.profile(sid) for sid in rec.sessions_of(user_id)],
        tokens=[{k: t[k] for k in ("token_id", "principal", "role", "created", "revoked")}
                for t in e.store.tokens(user_id=user_id)],
    )  # fmt: skip
