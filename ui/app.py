"""The browser app: chat with streaming replies, item cards with evidence, feedback, memory.

:func:`build_app` turns a ready :class:`agent.Recommender` into a ``gr.Blocks``; ``ui.api`` mounts
it on the same FastAPI server as the HTTP API (``trustrec serve``). The app only renders what the
recommender returns: every piece of item or user text is HTML-escaped before it reaches the page,
and chat text is escaped for both HTML and Markdown.

The session id (plus the visible transcript and the last cards) lives in the browser's local
storage (``gr.BrowserState``), encrypted with a secret kept in the workspace, so a page reload or
a server restart resumes the same session; the dialog state itself is persisted by the recommender.
"""

from __future__ import annotations

import html
import json
import os
import secrets
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from catalog import FeedbackEvent, FeedbackKind
from catalog.errors import BadInput, TrustrecError
from ui.auth import NEW_USER_LOGIN, web_login_user

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from agent.recommender import Recommender
    from ui.auth import AccessPolicy

__all__ = [
    "APP_CSS", "CONCURRENCY_LIMIT", "EXAMPLES", "LOADING_POLL_S", "NEW_USER", "QUEUE_MAX_SIZE", "app_theme", "build_app",
]  # fmt: skip

NEW_USER = "new"
QUEUE_MAX_SIZE = 64  # pending events beyond this are refused (the page shows "queue full")
CONCURRENCY_LIMIT = 4  # chat turns run at once; more wait in the queue
LOADING_POLL_S = 2.0  # how often an open page asks whether the models finished loading
MAX_KEPT_MESSAGES = 60  # transcript messages kept in the browser's storage
MAX_ONBOARDING_CHIPS = 6  # buttons for the titles offered to a new person (agent.onboarding offers 5)
BEHAVIOUR_WORDS = {"purchase": "bought", "cart": "carted", "click": "clicked", "view": "viewed", "rating": "rated"}
"""How the SHAP chart names the behaviour behind a history item (no behaviour known: "liked")."""
EXAMPLES = [
    "Recommend 5",
    "Why the second one?",
    "More like number 3",
    "What do you know about me?",
]
"""Requests that suit any catalog; the catalog's domain file (``examples``) adds its own first."""

APP_CSS = """
.gradio-container {max-width: 1280px !important; margin: auto;}
#tr-header {padding: 14px 4px 4px 4px;}
#tr-header h1 {font-size: 1.7rem; margin: 0; font-weight: 750; letter-spacing: -0.02em;}
#tr-header h1 span {color: #4f46e5;}
#tr-header p {margin: 4px 0 0 0; color: #6b7280; font-size: 0.95rem;}
.tr-cards {display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 12px;}
.tr-card {border: 1px solid #e5e7eb; border-radius: 14px; padding: 12px 14px; background: #fff;
  box-shadow: 0 1px 2px rgba(0,0,0,.04); display: flex; flex-direction: column; gap: 6px;}
.tr-card-top {display: flex; align-items: center; justify-content: space-between; gap: 6px;}
.tr-pos {background: #eef2ff; color: #4338ca; border-radius: 999px; font-weight: 700; font-size: .8rem;
  padding: 2px 9px;}
.tr-title {font-weight: 700; font-size: 1.02rem; line-height: 1.25; color: #111827;}
.tr-year {color: #6b7280; font-weight: 500;}
.tr-shop {color: #111827; font-size: .85rem; font-weight: 600;}
.tr-chips {display: flex; flex-wrap: wrap; gap: 4px;}
.tr-chip {background: #f3f4f6; color: #374151; border-radius: 999px; padding: 1px 8px; font-size: .75rem;}
.tr-badge {border-radius: 999px; padding: 2px 9px; font-size: .75rem; font-weight: 700; white-space: nowrap;}
.tr-high {background: #dcfce7; color: #166534;}
.tr-mid {background: #fef9c3; color: #854d0e;}
.tr-low {background: #fee2e2; color: #991b1b;}
.tr-meter {height: 6px; background: #f3f4f6; border-radius: 999px; overflow: hidden;}
.tr-meter > div {height: 100%; background: linear-gradient(90deg, #6366f1, #22c55e);}
.tr-stats {font-size: .75rem; color: #6b7280;}
.tr-desc {font-size: .85rem; color: #374151;}
.tr-expl {font-size: .85rem; color: #1f2937; background: #f9fafb; border-left: 3px solid #6366f1;
  padding: 6px 8px; border-radius: 6px;}
.tr-writer {font-size: .7rem; color: #6b7280; text-transform: uppercase; letter-spacing: .04em;}
.tr-empty {color: #9ca3af; padding: 18px; text-align: center; border: 1px dashed #e5e7eb; border-radius: 14px;}
.tr-mem h4 {margin: 6px 0 2px 0; font-size: .85rem; color: #374151;}
.tr-mem ul {margin: 0 0 4px 18px; padding: 0; font-size: .85rem;}
.tr-mem .tr-none {color: #9ca3af; font-size: .85rem;}
.tr-status {font-size: .85rem; color: #374151; min-height: 1.2em;}
.tr-basis {font-size: .78rem; color: #1e3a8a; background: #eff6ff; border-radius: 6px; padding: 3px 7px;}
.tr-onboard-hint {font-size: .85rem; color: #374151;}
.tr-loading {font-size: .85rem; color: #92400e; background: #fffbeb; border: 1px solid #fde68a; border-radius: 8px;
  padding: 6px 10px;}
"""


def app_theme() -> gr.themes.Base:
    """The app's theme (Gradio 6 takes themes and CSS at launch/mount time, not in ``Blocks``)."""
    return gr.themes.Soft(primary_hue="indigo", secondary_hue="slate", radius_size="lg")


# ---------------------------------------------------------------------------------------- rendering
def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


_MD_SPECIALS = str.maketrans({c: "\\" + c for c in "\\`*_{}[]()#+!|~>"})


def chat_text(text: str) -> str:
    """Escape text for the chat: HTML first, then Markdown syntax (no links, images or raw HTML)."""
    return html.escape(text, quote=False).translate(_MD_SPECIALS)


def _band(x: float | None) -> str:
    if x is None:
        return "tr-mid"
    return "tr-high" if x >= 0.6 else "tr-mid" if x >= 0.4 else "tr-low"


def card_html(card: dict[str, Any]) -> str:
    """One item card as escaped HTML: title, year, categories, brand, price and rating (where the catalog has
    them), description, trust badge, explanation. The labels are in the language of the card's explanation
    (``card`` in ``agent/data/lang/explain-<code>.yaml``)."""
    words = card_words(str(card.get("explanation") or ""))
    trust = card.get("trust") or {}
    composite = trust.get("composite")
    conf = card.get("confidence")
    year = f' <span class="tr-year">({_e(card["year"])})</span>' if card.get("year") else ""
    chips = "".join(f'<span class="tr-chip">{_e(c)}</span>' for c in card.get("categories", []))
    badge_text = words["trust"].format(score=round(100 * composite)) if composite is not None else words["trust_na"]
    meter = f'<div class="tr-meter"><div style="width:{max(0.0, min(1.0, composite or 0.0)) * 100:.0f}%"></div></div>'
    stats = []
    if conf is not None:
        stats.append(words["confidence"].format(pct=f"{100 * conf:.0f}"))
    if trust.get("uncertainty") is not None:
        stats.append(words["uncertainty"].format(u=f"{trust['uncertainty']:.2f}"))
    basis = [str(b) for b in (trust.get("basis") or []) if str(b).strip()]
    if trust.get("cold_start"):
        basis_html = f'<div class="tr-basis">{_e(cold_start_words(basis, words))}</div>'
    elif basis:
        basis_html = f'<div class="tr-basis">{_e(words["rests_on"].format(basis="; ".join(basis)))}</div>'
    else:
        basis_html = ""
    shop = []  # a shop's facts, as the catalog gives them
    if card.get("brand"):
        shop.append(words["by"].format(brand=card["brand"]))
    if card.get("price") is not None:
        shop.append(f"${card['price']:,.2f}")
    if card.get("rating") is not None:
        shop.append(words["rated"].format(r=f"{card['rating']:.1f}", n=int(card.get("rating_count") or 0)))
    shop_html = f'<div class="tr-shop">{_e(" · ".join(shop))}</div>' if shop else ""
    desc = f'<div class="tr-desc">{_e(card["description"])}</div>' if card.get("description") else ""
    writer = words["llm"] if card.get("writer") == "llm" else words["template"]
    grounded = words["grounded"] if card.get("grounded", True) else words["not_grounded"]
    if card.get("source") == "batch":
        grounded += words["batch"]
    return (
        f'<div class="tr-card" data-item-id="{_e(card["item_id"])}">'
        f'<div class="tr-card-top"><span class="tr-pos">#{int(card["position"])}</span>'
        f'<span class="tr-badge {_band(composite)}" title="composite trust (0-100)">{_e(badge_text)}</span></div>'
        f'<div class="tr-title">{_e(card["title"])}{year}</div>'
        f'<div class="tr-chips">{chips}</div>{shop_html}{meter}'
        f'<div class="tr-stats">{_e(" · ".join(stats))}</div>{basis_html}{desc}'
        f'<div class="tr-expl">{_e(card.get("explanation", ""))}</div>'
        f'<div class="tr-writer">{_e(writer + grounded)}</div></div>'
    )


def session_language(st: dict[str, Any]) -> str:
    """The language of the session's latest message ('zh' or 'en'), for the panels around the chat."""
    from agent.wording import text_language

    msgs = st.get("messages") or []
    return text_language(str(msgs[-1].get("content", ""))) if msgs and isinstance(msgs[-1], dict) else "en"


def card_words(explanation: str) -> dict[str, str]:
    """The card labels of the language ``explanation`` is written in (English when unsure)."""
    from agent.wording import text_language, wording

    return {**wording("en").raw["card"], **(wording(text_language(explanation)).raw.get("card") or {})}


def loading_html(warming: set[str] | frozenset[str]) -> str:
    """The "model loading" line while parts warm up in the background (empty once everything is ready)."""
    parts = []
    if "llm" in warming:
        parts.append("the language model is loading: explanations use templates until it is ready")
    if "explainer" in warming:
        parts.append("the explainer is warming up: the first answer may take a few seconds longer")
    if not parts:
        return ""
    return f'<div class="tr-loading" role="status">Model loading: {_e("; ".join(parts))}.</div>'


def turn_text(head: str, cards: list[dict[str, Any]], tail: str = "") -> str:
    """The chat message of a turn: the headline, one line per card with its current explanation, the tail."""
    lines = [
        f"\n{c['position']}. {c['title']}"
        + (f" ({c['year']})" if c.get("year") else "")
        + f": {c.get('explanation', '')}"
        for c in cards
    ]
    return head + "".join(lines) + tail


def cold_start_words(basis: list[str], words: dict[str, str] | None = None) -> str:
    """The cold-start flag in words: what a recommendation for someone new rests on."""
    w = words or card_words("")
    return w["new_to_you"].format(basis="; ".join(basis) if basis else w["cold_start_basis"])


def onboarding_hint(items: list[dict[str, Any]]) -> str:
    """The line above the onboarding chips (empty when nothing is offered)."""
    if not items:
        return ""
    return '<div class="tr-onboard-hint">New here? Click the titles you liked (or just keep chatting):</div>'


def chip_label(item: dict[str, Any]) -> str:
    """A chip's text: the catalog title and year (Gradio renders button labels as text, not HTML)."""
    return f"{item['title']} ({item['year']})" if item.get("year") else str(item["title"])


def cards_html(cards: list[dict[str, Any]]) -> str:
    if not cards:
        return '<div class="tr-empty">Recommendations appear here, each with its evidence and a trust badge.</div>'
    return '<div class="tr-cards">' + "".join(card_html(c) for c in cards) + "</div>"


def memory_html(profile: dict[str, Any], language: str = "en") -> str:
    """The preference memory (constraints, likes, dislikes) as escaped HTML, its labels in ``language``
    (``memory`` in ``agent/data/lang/explain-<code>.yaml``)."""
    from agent.wording import wording

    words = {**wording("en").raw["memory"], **(wording(language).raw.get("memory") or {})}
    fields = words.get("fields") or {}

    def items(key: str) -> str:
        xs = profile.get(key) or []
        if not xs:
            return f'<div class="tr-none">{_e(words["none"])}</div>'
        return "<ul>" + "".join(f"<li>{_e(x['title'])}</li>" for x in xs) + "</ul>"

    cons = profile.get("constraints") or {}
    c_html = (
        "<ul>" + "".join(f"<li><b>{_e(fields.get(k, k))}</b>: {_e(v)}</li>" for k, v in cons.items()) + "</ul>"
        if cons
        else f'<div class="tr-none">{_e(words["none"])}</div>'
    )
    return (
        f'<div class="tr-mem"><h4>{_e(words["constraints"])}</h4>{c_html}<h4>{_e(words["liked"])}</h4>'
        f"{items('liked')}<h4>{_e(words['disliked'])}</h4>{items('disliked')}"
        f"<h4>{_e(words['not_interested'])}</h4>{items('not_interested')}</div>"
    )


def shap_figure(card: dict[str, Any] | None) -> Figure | None:
    """A horizontal bar chart of one card's attributions (history items and feature groups)."""
    if not card:
        return None
    from matplotlib.figure import Figure

    rows = [
        (f"{BEHAVIOUR_WORDS.get(str(h.get('behaviour')), 'liked')}: {h['title'][:34]}", float(h["value"]))
        for h in card.get("history", [])
    ]
    feats = [(f"feature: {k}", float(v)) for k, v in (card.get("features") or {}).items()]
    # without history attributions (a new person) the feature groups are the explanation: show them all,
    # zeros included, so the chart is never empty; with history, zero groups are left out
    rows += feats if not rows else [r for r in feats if abs(r[1]) > 1e-9]
    rows = sorted(rows, key=lambda r: abs(r[1]), reverse=True)[:10][::-1]
    fig = Figure(figsize=(6.2, 0.42 * max(3, len(rows)) + 1.0), dpi=100)
    ax = fig.add_subplot()
    if rows:
        vals = [v for _, v in rows]
        ax.barh([r[0] for r in rows], vals, color=["#22c55e" if v >= 0 else "#ef4444" for v in vals])
        ax.axvline(0, color="#9ca3af", linewidth=0.8)
        if not any(abs(v) > 1e-9 for v in vals):
            ax.text(0.5, 0.02, "all attributions are 0: the score rests on the prior", transform=ax.transAxes,
                    ha="center", fontsize=8, color="#6b7280")  # fmt: skip
    else:
        ax.text(0.5, 0.5, "no attributions for this item", transform=ax.transAxes, ha="center", fontsize=9)
    ax.set_title(f"Why #{card['position']}: {card['title'][:48]}", fontsize=10, loc="left")
    ax.set_xlabel("SHAP contribution to the score (green raises, red lowers)", fontsize=8)
    ax.tick_params(labelsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------------- state
def _new_state(user_id: str | None = None) -> dict[str, Any]:
    logged_in, login = web_login_user()
    if logged_in:  # token mode: the app acts only as the logged-in user
        user_id = login
    return {
        "session_id": f"web-{uuid.uuid4().hex}", "user_id": user_id, "messages": [], "cards": [], "turns": {},
        "onboarding": [],
    }  # fmt: skip


def _valid_state(st: Any) -> dict[str, Any]:
    if not isinstance(st, dict) or not isinstance(st.get("session_id"), str) or not st["session_id"]:
        return _new_state()
    out = _new_state(st.get("user_id") if isinstance(st.get("user_id"), str) else None)
    out["session_id"] = st["session_id"][:128]
    for key, kind in (("messages", list), ("cards", list), ("turns", dict), ("onboarding", list)):
        if isinstance(st.get(key), kind):
            out[key] = st[key]
    return out


def _state_guard(access: AccessPolicy | None) -> Any:
    """The browser-state check of the app's events: as is in mode none; in token mode every state acts
    as the logged-in user, on a session bound to that login (another login's session starts afresh)."""
    if access is None:
        return _valid_state

    def valid(st: Any) -> dict[str, Any]:
        out = _valid_state(st)
        login = web_login_user()[1]
        if out["user_id"] != login:
            out = _new_state(login)
        try:
            access.web_session(out["session_id"], login or NEW_USER_LOGIN)
        except KeyError:
            out = _new_state(login)
            access.web_session(out["session_id"], login or NEW_USER_LOGIN)
        return out

    return valid


def _api_user(access: AccessPolicy | None, session_id: str, user_id: str) -> str | None:
    """The user an app API call (``chat``, ``feedback``) acts as; in token mode the login, on its own sessions."""
    if access is None:
        return user_id or None
    login = web_login_user()[1]
    if user_id and user_id != login:
        raise BadInput(f"unknown user_id {user_id!r}")
    access.web_session(session_id, login or NEW_USER_LOGIN)
    return login


def browser_secret(cache: Path) -> str:
    """The per-workspace secret of the encrypted browser storage (made once), so sessions survive restarts
    and every replica over the workspace reads the same one (it is written whole or not at all)."""
    path = Path(cache) / "ui-browser-secret"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp")
        tmp.write_text(secrets.token_hex(32))
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)  # fails when another process made it first: theirs is kept
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def _user_choices(rec: Recommender, limit: int | None = None) -> list[tuple[str, str]]:
    out = [("New user (cold start)", NEW_USER)]
    for u in rec.engine.dataset.users[:limit]:
        a = u.attributes
        extra = " ".join(str(a[k]) for k in ("age", "gender", "occupation") if a.get(k) not in (None, ""))
        out.append((f"{u.user_id} · {extra}" if extra else u.user_id, u.user_id))
    return out


# ---------------------------------------------------------------------------------------- app
def build_app(recommender: Recommender, *, access: AccessPolicy | None = None) -> gr.Blocks:
    """The chat app for one recommender.

    Args:
        recommender: A built :class:`agent.Recommender`, shared by every browser session.
        access: Token mode (``ui.auth.AccessPolicy``, with Gradio's login): every event acts as the
            logged-in user and the "Who is chatting?" picker is hidden. None: the local demo.

    Returns:
        A ``gr.Blocks`` with its queue configured (``max_size`` and a concurrency limit). Launch it
        with :func:`app_theme` and :data:`APP_CSS`, or mount it with ``ui.api.create_api``.
    """
    from agent.safety import MessageTooLong

    rec = recommender
    secret = browser_secret(Path(rec.engine.workspace.cache))
    _valid_state = _state_guard(access)  # shadows the module's check for every event below

    def profile_of(st: dict[str, Any]) -> dict[str, Any]:
        return rec.profile(st["session_id"])

    def picker_update(cards: list[dict[str, Any]]) -> Any:
        choices = [(f"#{c['position']} {c['title']}", str(c["position"])) for c in cards]
        return gr.update(choices=choices, value=choices[0][1] if choices else None)

    def selected(st: dict[str, Any], pos: Any) -> dict[str, Any] | None:
        for c in st["cards"]:
            if str(c["position"]) == str(pos):
                return c
        return st["cards"][0] if st["cards"] else None

    def chip_updates(st: dict[str, Any]) -> tuple[Any, ...]:
        items = st["onboarding"][:MAX_ONBOARDING_CHIPS]
        ups = [
            gr.update(value=chip_label(items[k]), visible=True)
            if k < len(items)
            else gr.update(value="", visible=False)
            for k in range(MAX_ONBOARDING_CHIPS)
        ]
        return (onboarding_hint(items), *ups)

    def render(st: dict[str, Any], status: str = "") -> tuple[Any, ...]:
        prof = profile_of(st)
        return (
            st,
            st["messages"],
            cards_html(st["cards"]),
            picker_update(st["cards"]),
            shap_figure(selected(st, 1)),
            memory_html(prof, session_language(st)),
            json.dumps(prof.get("constraints") or {}, indent=1),
            f'<div class="tr-status">{_e(status)}</div>',
            *chip_updates(st),
        )

    def take_reply(st: dict[str, Any], msgs: list[dict[str, Any]], reply: Any) -> None:
        """Put a finished reply into the browser state: transcript, cards, offered titles."""
        body = reply.text + ("".join(f"\n(note: {n})" for n in reply.notes) if reply.notes else "")
        msgs[-1] = {"role": "assistant", "content": chat_text(body)}
        st["messages"] = msgs[-MAX_KEPT_MESSAGES:]
        st["onboarding"] = [o.model_dump(mode="json") for o in getattr(reply, "onboarding", [])]
        if reply.cards:
            st["cards"] = [c.model_dump(mode="json") for c in reply.cards]
            turns = dict(st["turns"])
            turns[str(len(st["messages"]) - 1)] = [c.item_id for c in reply.cards]
            st["turns"] = {k: v for k, v in turns.items() if int(k) < len(st["messages"])}

    def on_load(st: Any) -> tuple[Any, ...]:
        st = _valid_state(st)
        return (*render(st), st["user_id"] or NEW_USER)

    def on_user(choice: str, st: Any) -> tuple[Any, ...]:
        st = _valid_state(st)
        uid = None if choice in (None, NEW_USER) else str(choice)
        if uid == st["user_id"]:
            return render(st)
        return render(_new_state(uid), "New conversation" + (f" as user {uid}" if uid else " as a new user") + ".")

    def on_new(st: Any) -> tuple[Any, ...]:
        return render(_new_state(_valid_state(st)["user_id"]), "New conversation started.")

    def respond(message: str, st: Any) -> Any:
        """Stream a turn: the cards (template text, trust, SHAP) at once, then each card's LLM text."""
        st = _valid_state(st)
        text = (message or "").strip()
        if not text:
            yield ("", *render(st))
            return
        msgs = [*st["messages"], {"role": "user", "content": chat_text(text)}, {"role": "assistant", "content": "…"}]
        st["messages"] = msgs
        skip = [gr.skip()] * (7 + MAX_ONBOARDING_CHIPS)
        yield ("", st, msgs, *skip)
        head, tail, reply = "", "", None
        shown: list[dict[str, Any]] = []
        try:
            for event in rec.stream(st["session_id"], text, st["user_id"]):
                if event.kind == "text":
                    if shown:
                        tail += event.text
                    else:
                        head += event.text
                elif event.kind == "cards":
                    shown = [c.model_dump(mode="json") for c in event.cards]
                elif event.kind == "card":
                    k = event.card.position - 1
                    if 0 <= k < len(shown):
                        shown[k] = event.card.model_dump(mode="json")
                else:
                    reply = event.reply
                    break
                msgs[-1] = {"role": "assistant", "content": chat_text(turn_text(head, shown, tail))}
                if event.kind == "text":
                    yield (gr.skip(), gr.skip(), list(msgs), *skip)
                else:
                    first = shown[0] if shown else None
                    picker_up = picker_update(shown) if event.kind == "cards" else gr.skip()
                    plot_up = shap_figure(first) if event.kind == "cards" else gr.skip()
                    # the shown cards are the state's at once: a Like clicked while the words are still
                    # being written rates the card it was clicked on (not "ask for recommendations first")
                    st["cards"] = list(shown)
                    yield (gr.skip(), st, list(msgs), cards_html(shown), picker_up, plot_up, *skip[3:])
        except MessageTooLong as e:
            msgs[-1] = {"role": "assistant", "content": chat_text(f"Sorry: {e}")}
            yield ("", *render(st, str(e)))
            return
        except TrustrecError as e:
            msgs[-1] = {"role": "assistant", "content": chat_text(f"Sorry: {e}")}
            yield ("", *render(st, str(e)))
            return
        assert reply is not None
        take_reply(st, msgs, reply)
        status = "Degraded: the LLM failed, explanations use templates." if reply.degraded else ""
        yield ("", *render(st, status))

    def send_feedback(st: dict[str, Any], item_ids: list[str], kind: FeedbackKind) -> int:
        n = 0
        for item_id in item_ids:
            ev = FeedbackEvent(
                event_id=f"ui-{uuid.uuid4().hex}", session_id=st["session_id"], user_id=st["user_id"],
                item_id=item_id, kind=kind,
            )  # fmt: skip
            n += int(rec.feedback(ev))
        return n

    def on_item_feedback(kind: str, pos: Any, st: Any) -> tuple[Any, ...]:
        st = _valid_state(st)
        card = selected(st, pos)
        if card is None:
            return render(st, "Ask for recommendations first, then rate them.")
        fk = FeedbackKind(kind)
        try:
            send_feedback(st, [card["item_id"]], fk)
        except TrustrecError as e:
            return render(st, str(e))
        verb = {"like": "Liked", "dislike": "Disliked", "not_interested": "Marked not interested:"}[kind]
        out = render(st, f"{verb} {card['title']}. Your next recommendations take it into account.")
        return (*out[:3], gr.skip(), shap_figure(card), *out[5:])

    def on_chip(k: int, st: Any) -> tuple[Any, ...]:
        """A click on an offered title: a like event for it in this session, then a new list."""
        st = _valid_state(st)
        items = st["onboarding"]
        if not 0 <= k < len(items) or not isinstance(items[k], dict) or "item_id" not in items[k]:
            return render(st)
        item = items[k]
        try:
            send_feedback(st, [str(item["item_id"])], FeedbackKind.LIKE)
        except TrustrecError as e:
            return render(st, str(e))
        st["onboarding"] = [x for j, x in enumerate(items) if j != k]
        label = chip_label(item)
        msgs = [*st["messages"], {"role": "user", "content": chat_text(f"I liked {label}")},
                {"role": "assistant", "content": "…"}]  # fmt: skip
        try:
            reply = rec.chat(st["session_id"], "recommend", st["user_id"])
        except TrustrecError as e:
            return render(st, f"Liked {label}, but the new list failed: {e}")
        remaining = st["onboarding"]
        take_reply(st, msgs, reply)
        st["onboarding"] = remaining  # the other offered titles stay clickable
        return render(st, f"Liked {label}. Your recommendations now take it into account.")

    def on_message_like(st: Any, data: gr.LikeData) -> tuple[Any, ...]:
        st = _valid_state(st)
        idx = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
        items = st["turns"].get(str(idx), [])
        liked = data.liked is True or str(data.liked).lower() == "like"
        if not items:
            return render(st, "Thanks for the feedback (this message had no recommendations to rate).")
        try:
            send_feedback(st, items, FeedbackKind.LIKE if liked else FeedbackKind.DISLIKE)
        except TrustrecError as e:
            return render(st, str(e))
        return render(st, f"{'Liked' if liked else 'Disliked'} the {len(items)} items of that reply.")

    def on_pick(pos: Any, st: Any) -> Any:
        return shap_figure(selected(_valid_state(st), pos))

    def on_clear(part: str, st: Any) -> tuple[Any, ...]:
        st = _valid_state(st)
        rec.clear_profile(st["session_id"], part)  # type: ignore[arg-type]
        return render(st, f"Cleared {part.replace('_', ' ')}.")

    def on_edit(text: str, st: Any) -> tuple[Any, ...]:
        from pydantic import ValidationError

        st = _valid_state(st)
        try:
            data = json.loads(text or "{}")
            if not isinstance(data, dict):
                raise BadInput("constraints must be a JSON object")
            rec.edit_profile(st["session_id"], **data)
        except (ValueError, ValidationError) as e:
            return render(st, f"Could not save constraints: {e}")
        return render(st, "Constraints saved.")

    with gr.Blocks(title="trustrec: recommendations with evidence") as demo:
        bstate = gr.BrowserState(None, storage_key="trustrec-session", secret=secret)
        loading = gr.HTML(loading_html(rec.engine.warming), elem_id="tr-loading")
        poll = gr.Timer(LOADING_POLL_S, active=bool(rec.engine.warming))
        gr.HTML(
            '<div id="tr-header"><h1>trust<span>rec</span></h1><p>'
            + html.escape(rec.engine.vocab.lexicon.noun("en").capitalize())
            + " recommendations you can check: every "
            "suggestion shows why (SHAP attributions over your history and features), how sure we are "
            "(calibrated confidence and a trust score) and who wrote the explanation.</p></div>"
        )
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    label="Chat", height=430, sanitize_html=True, render_markdown=True, line_breaks=True,
                    feedback_options=["Like", "Dislike"], elem_id="tr-chat", layout="bubble",
                    placeholder="Ask for movies: genres, decades, 'something like Fargo', or 'why the first one?'",
                )  # fmt: skip
                with gr.Row():
                    box = gr.Textbox(
                        placeholder="Type a message and press Enter", show_label=False, scale=5, elem_id="tr-input",
                        max_lines=4, autofocus=True,
                    )  # fmt: skip
                    send = gr.Button("Send", variant="primary", scale=1, elem_id="tr-send")
                onboard_hint = gr.HTML("", elem_id="tr-onboard-hint")
                with gr.Row():
                    chips = [
                        gr.Button("", visible=False, size="sm", elem_id=f"tr-onboard-{k}", elem_classes=["tr-onboard"])
                        for k in range(MAX_ONBOARDING_CHIPS)
                    ]
                own = list(rec.engine.vocab.lexicon.domain.examples)
                gr.Examples([*own, *EXAMPLES[1:]] if own else EXAMPLES, inputs=[box], label="Try")
                cards = gr.HTML(cards_html([]), elem_id="tr-cards")
            with gr.Column(scale=2):
                with gr.Group():
                    user = gr.Dropdown(
                        _user_choices(rec), value=NEW_USER, label="Who is chatting?", filterable=True, elem_id="tr-user",
                        visible=access is None,  # token mode: the login says who is chatting
                    )  # fmt: skip
                    new_chat = gr.Button("New conversation", size="sm")
                with gr.Group():
                    picker = gr.Radio([], label="Selected recommendation", elem_id="tr-picker")
                    with gr.Row():
                        like = gr.Button("Like", elem_id="tr-like", size="sm")
                        dislike = gr.Button("Dislike", elem_id="tr-dislike", size="sm")
                        not_int = gr.Button("Not interested", elem_id="tr-notint", size="sm")
                    status = gr.HTML('<div class="tr-status"></div>', elem_id="tr-status")
                plot = gr.Plot(label="Why this item (SHAP)", show_label=False, elem_id="tr-shap")
                with gr.Accordion("What I remember about you", open=True):
                    memory = gr.HTML(memory_html({}), elem_id="tr-memory")
                    with gr.Row():
                        c_cons = gr.Button("Clear constraints", size="sm")
                        c_likes = gr.Button("Clear likes", size="sm")
                        c_dis = gr.Button("Clear dislikes", size="sm")
                        c_all = gr.Button("Forget all", size="sm", variant="stop")
                    with gr.Accordion("Edit constraints (JSON)", open=False):
                        cons = gr.Code("{}", language="json", show_label=False, interactive=True)
                        save = gr.Button("Save constraints", size="sm")

        outs = [bstate, chatbot, cards, picker, plot, memory, cons, status, onboard_hint, *chips]
        demo.load(on_load, [bstate], [*outs, user], show_progress="hidden", api_visibility="private")

        def on_poll() -> tuple[Any, Any]:
            """The loading line, until the background warm-up is done (then the poll stops)."""
            warming = set(rec.engine.warming)
            return loading_html(warming), gr.Timer(active=bool(warming))

        demo.load(on_poll, None, [loading, poll], show_progress="hidden", api_visibility="private")
        poll.tick(on_poll, None, [loading, poll], show_progress="hidden", api_visibility="private")
        private: dict[str, Any] = {"api_visibility": "private"}  # UI events carry browser state; clients use gr.api
        for trigger in (box.submit, send.click):
            trigger(respond, [box, bstate], [box, *outs], **private)
        for btn, kind in ((like, "like"), (dislike, "dislike"), (not_int, "not_interested")):
            btn.click(lambda p, s, kind=kind: on_item_feedback(kind, p, s), [picker, bstate], outs, **private)
        chatbot.like(on_message_like, [bstate], outs, **private)
        for k, chip in enumerate(chips):
            chip.click(lambda s, k=k: on_chip(k, s), [bstate], outs, **private)
        picker.input(on_pick, [picker, bstate], [plot], **private)
        for btn, part in ((c_cons, "constraints"), (c_likes, "likes"), (c_dis, "dislikes"), (c_all, "all")):
            btn.click(lambda s, part=part: on_clear(part, s), [bstate], outs, **private)
        save.click(on_edit, [cons, bstate], outs, **private)
        new_chat.click(on_new, [bstate], outs, **private)
        user.input(on_user, [user, bstate], outs, **private)

        def chat(message: str, session_id: str, user_id: str = "") -> dict[str, Any]:
            """One chat turn for API clients; returns the typed reply as JSON (cards with trust and explanations)."""
            return rec.chat(session_id, message, _api_user(access, session_id, user_id)).model_dump(mode="json")

        def feedback(session_id: str, item_id: str, kind: str = "like", user_id: str = "") -> bool:
            """Log feedback on an item; returns False when the event was already stored."""
            ev = FeedbackEvent(
                event_id=f"api-{uuid.uuid4().hex}", session_id=session_id, user_id=_api_user(access, session_id, user_id),
                item_id=item_id, kind=FeedbackKind(kind),
            )  # fmt: skip
            return rec.feedback(ev)

        gr.api(chat, api_name="chat")
        gr.api(feedback, api_name="feedback")
    demo.queue(max_size=QUEUE_MAX_SIZE, default_concurrency_limit=CONCURRENCY_LIMIT)
    return demo
