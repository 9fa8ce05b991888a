"""The HTTP API (FastAPI) over one :class:`agent.Recommender`, with the Gradio app mounted at ``/``.

Endpoints (all JSON, OpenAPI at ``/openapi.json``, docs at ``/docs``):

- ``POST /v1/chat``: one chat turn -> the typed reply (text plus item cards with evidence).
- ``POST /v1/recommend``: ``{"user_id": "196", "n": 5}`` -> ``n`` items with trust and explanations.
- ``POST /v1/explain``: why one item for a session's user.
- ``POST /v1/feedback``: a like, dislike, rating... stored durably, idempotent by ``event_id``.
- ``GET /v1/profile/{session_id}``, ``PATCH`` (set constraints), ``DELETE`` (forget a part).
- ``DELETE /v1/users/{user_id}``: erase a user's data and sessions.
- ``GET /healthz``.

Bad input never yields a 5xx: 422 names the field, 404 an unknown item or user, 413 a body over
:data:`MAX_BODY_BYTES` or a message over the recommender's length cap.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, Literal

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.reply import ItemCard, Reply
from catalog import FeedbackEvent, FeedbackKind

if TYPE_CHECKING:
    from agent.recommender import Recommender

__all__ = ["MAX_BODY_BYTES", "BodySizeLimit", "create_api"]

MAX_BODY_BYTES = 64 * 1024
Id = Field(min_length=1, max_length=128)


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
    n: int = Field(5, ge=1, le=50, description="List length.")
    session_id: str | None = Field(None, min_length=1, max_length=128, description="Session to record the list in.")


class RecommendResponse(BaseModel):
    """``n`` items, each with score, calibrated confidence, trust report, attributions and explanation."""

    session_id: str
    user_id: str | None
    items: list[ItemCard]
    list_report: dict[str, Any] | None = None
    notes: list[str] = Field(default_factory=list)


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


def create_api(recommender: Recommender, *, ui: bool = True) -> FastAPI:
    """The HTTP API for ``recommender``, with the Gradio app mounted at ``/`` when ``ui``.

    Args:
        recommender: A built recommender, shared by all requests.
        ui: Mount the browser app (``ui.app.build_app``) at ``/``.
    """
    from agent.safety import MessageTooLong

    rec = recommender
    users = rec.engine.dataset.user_index
    api = FastAPI(
        title="trustrec API",
        version="1",
        description="Explainable conversational recommendations: every item comes with evidence and a trust report.",
    )
    api.add_middleware(BodySizeLimit, limit=MAX_BODY_BYTES, prefix="/v1/")

    @api.exception_handler(MessageTooLong)
    async def _too_long(_r: Request, e: MessageTooLong) -> JSONResponse:
        return JSONResponse({"detail": str(e), "limit": e.limit}, status_code=413)

    @api.exception_handler(ValidationError)
    async def _invalid(_r: Request, e: ValidationError) -> JSONResponse:
        errs = [{"loc": list(x["loc"]), "msg": x["msg"], "type": x["type"]} for x in e.errors()]
        return JSONResponse({"detail": errs}, status_code=422)

    @api.exception_handler(ValueError)
    async def _value(_r: Request, e: ValueError) -> JSONResponse:
        return JSONResponse({"detail": str(e)}, status_code=422)

    @api.exception_handler(KeyError)
    async def _missing(_r: Request, e: KeyError) -> JSONResponse:
        return JSONResponse({"detail": str(e.args[0]) if e.args else "not found"}, status_code=404)

    def known_user(user_id: str | None) -> str | None:
        if user_id is not None and user_id not in users:
            raise HTTPException(404, f"unknown user_id {user_id!r}; omit user_id for a new user (cold start)")
        return user_id

    def known_item(item_id: str) -> str:
        if rec.engine.item_idx(item_id) is None:
            raise HTTPException(404, f"unknown item_id {item_id!r}")
        return item_id

    @api.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, Any]:
        """Liveness and what is loaded."""
        eng = rec.engine
        return {
            "status": "ok",
            "items": eng.dataset.n_items,
            "users": eng.dataset.n_users,
            "mode": rec.mode,
            "llm": eng.config.llm.backend if eng.llm is not None else "none (templates)",
        }

    @api.post("/v1/chat", response_model=Reply, tags=["chat"])
    def chat(body: ChatRequest) -> Reply:
        """One chat turn. Continue a conversation by sending the returned ``session_id`` back."""
        sid = body.session_id or f"api-{uuid.uuid4().hex}"
        return rec.chat(sid, body.message, known_user(body.user_id))

    @api.post("/v1/recommend", response_model=RecommendResponse, tags=["chat"])
    def recommend(body: RecommendRequest) -> RecommendResponse:
        """``n`` recommendations for a user (or a new user), each with trust and an explanation."""
        reply = rec.recommend(known_user(body.user_id), body.n, body.session_id)
        return RecommendResponse(
            session_id=reply.session_id, user_id=body.user_id, items=reply.cards,
            list_report=reply.list_report, notes=reply.notes,
        )  # fmt: skip

    @api.post("/v1/explain", response_model=ItemCard, tags=["chat"])
    def explain(body: ExplainRequest) -> ItemCard:
        """Why one item for this user, as if it were recommended now (attributions, trust, explanation)."""
        sid = body.session_id or f"api-{uuid.uuid4().hex}"
        return rec.explain(sid, known_item(body.item_id), known_user(body.user_id))

    @api.post("/v1/feedback", response_model=FeedbackResponse, tags=["feedback"])
    def feedback(body: FeedbackRequest) -> FeedbackResponse:
        """Store feedback durably and apply it to the session at once (idempotent by ``event_id``)."""
        event_id = body.event_id or f"api-{uuid.uuid4().hex}"
        ev = FeedbackEvent(
            event_id=event_id, session_id=body.session_id, user_id=body.user_id,
            item_id=known_item(body.item_id), kind=body.kind, value=body.value,
        )  # fmt: skip
        return FeedbackResponse(event_id=event_id, stored=rec.feedback(ev))

    @api.get("/v1/profile/{session_id}", response_model=ProfileResponse, tags=["memory"])
    def profile(session_id: str) -> dict[str, Any]:
        """The preference memory of a session (constraints, likes, dislikes, shown items)."""
        return rec.profile(session_id)

    @api.patch("/v1/profile/{session_id}", response_model=ProfileResponse, tags=["memory"])
    def edit_profile(session_id: str, constraints: dict[str, Any]) -> dict[str, Any]:
        """Set constraint fields (e.g. ``{"year_min": 1980, "exclude_categories": ["Horror"]}``)."""
        return rec.edit_profile(session_id, **constraints)

    @api.delete("/v1/profile/{session_id}", response_model=ProfileResponse, tags=["memory"])
    def clear_profile(
        session_id: str,
        part: Literal["constraints", "likes", "dislikes", "not_interested", "ratings", "feedback", "all"] = "all",
    ) -> dict[str, Any]:
        """Forget part of a session's memory."""
        return rec.clear_profile(session_id, part)

    @api.delete("/v1/users/{user_id}", response_model=DeleteUserResponse, tags=["privacy"])
    def delete_user(user_id: str) -> DeleteUserResponse:
        """Erase a user: stored rows and every session, leaving no trace in the files."""
        counts = rec.delete_user(user_id)
        if user_id not in users and not any(counts.values()):
            raise HTTPException(404, f"unknown user_id {user_id!r}: nothing stored for this user")
        return DeleteUserResponse(user_id=user_id, deleted=counts)

    if ui:
        import gradio as gr

        from ui.app import APP_CSS, app_theme, build_app

        cfg = rec.engine.config.server
        api = gr.mount_gradio_app(
            api, build_app(rec), path="/", server_name=cfg.host, server_port=cfg.port, theme=app_theme(),
            css=APP_CSS, footer_links=["api"], allowed_paths=[], ssr_mode=False, run_history=False,
        )  # fmt: skip
    return api
