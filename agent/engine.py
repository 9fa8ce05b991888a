"""The composition root: builds every part of the system from one validated config.

:class:`Engine` holds the catalog, the trained ranker with its calibrator and explainer, the
retrieval index, the LLM writers and the store. It is built once per process (first run trains
the ranker and builds the index, with progress) and shared by every session.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agent.config import TrustrecConfig
from agent.state import DialogState
from agent.understanding import CatalogVocab
from catalog import Dataset, Store, Workspace, load_dataset
from catalog.splits import Split, user_histories
from ranker.base import Profile, profile_size
from ranker.evidence import Evidence
from ranker.trust import ListReport

Progress = Callable[[str], None]


@dataclass
class Engine:
    """Everything a turn needs, built once. Use :meth:`build`."""

    config: TrustrecConfig
    workspace: Workspace
    dataset: Dataset
    split: Split
    vocab: CatalogVocab
    store: Store
    ranker: Any  # ranker.model.JointRanker
    explainer: Any  # ranker.explain.RecommendationExplainer
    index: Any  # retrieval.FaissIndex
    encoder: Any  # retrieval.TextEncoder
    writer: Any  # agent.writer.ExplanationWriter
    describer: Any  # agent.describe.Describer
    descriptions: Any  # agent.describe.DescriptionStore
    llm: Any  # BaseChatModel | None
    histories: list[np.ndarray]
    lock: threading.RLock
    batch: Any = None  # agent.batch.BatchStore: stored batch lists the plain request may reuse
    model_version: str = ""  # ranker.stack.RankingStack.version: stored results must match it
    tombstoned: set[str] = field(default_factory=set)  # deleted users: served without history
    warming: set[str] = field(default_factory=set)  # parts still warming up in the background (agent.warmup)

    @classmethod
    def build(
        cls, config: TrustrecConfig, *, progress: Progress | None = None, llm: Any = "config", warm_up: bool = True
    ) -> Engine:
        """Load or prepare every component.

        Args:
            config: The system config.
            progress: Called with one line per step (first run trains and indexes).
            llm: ``"config"`` builds the configured chat model; ``None`` means templates only; or a
                ready LangChain chat model (tests pass a scripted one).
            warm_up: Run one explanation now so the first turn does not compile shap's kernels; False
                leaves that to :class:`agent.warmup.Warmup` (``trustrec serve`` warms up in the background).
        """
        from agent.describe import Describer, DescriptionStore
        from agent.writer import ExplanationWriter
        from catalog.privacy import apply_tombstones
        from ranker.jit_cache import enable_shap_jit_cache
        from ranker.stack import build_stack
        from retrieval import SemanticRetriever, TextEncoder, build_or_load_index

        say = progress or (lambda _m: None)
        ws = config.workspace()
        say(f"workspace {ws.home}")
        ds = load_dataset(config.data, ws, progress=say)
        store = Store(ws.store_target)
        ds, tombstoned = apply_tombstones(ds, store)  # deleted users: out of training, histories and views
        stack = build_stack(config, protocol=config.agent.protocol, model="joint", train=True, dataset=ds, progress=say)
        split, ranker = stack.split, stack.ranker
        explainer = stack.explainer()
        enable_shap_jit_cache(ws.cache / "numba")
        if warm_up:
            say("warming up the explainer (compiles shap's kernels once; cached on disk afterwards)")
            warm_up_explainer(explainer, split)
        encoder = TextEncoder(config.retrieval.encoder)
        index = build_or_load_index(ds, ws, config.retrieval, encoder=encoder, progress=_stage(say))
        say(f"index ready ({index.ntotal if hasattr(index, 'ntotal') else ds.n_items} items)")
        vocab = CatalogVocab.from_dataset(ds, embed=encoder.encode)
        chat_model = _make_llm(config, ws, say) if llm == "config" else llm
        titles = [it.title for it in ds.items]
        writer = ExplanationWriter(chat_model, config.llm, catalog=ds.items)
        describer = Describer(chat_model, config.llm, catalog_titles=titles)
        histories = user_histories(ds.interactions, ds.n_users, by_time=True)
        engine = cls(
            config=config, workspace=ws, dataset=ds, split=split, vocab=vocab, store=store,
            ranker=ranker, explainer=explainer, index=index, encoder=encoder, writer=writer, describer=describer,
            descriptions=DescriptionStore(ws.store_target), llm=chat_model, histories=histories, lock=threading.RLock(),
            tombstoned=tombstoned,
        )  # fmt: skip
        engine.semantic = SemanticRetriever(index, encoder)  # type: ignore[attr-defined]
        if config.agent.use_batch_results:
            from agent.batch import BatchStore

            engine.batch, engine.model_version = BatchStore(ws.store_target), stack.version
        return engine

    # ---------------------------------------------------------------- helpers used by turns
    def item_idx(self, item_id: str) -> int | None:
        return self.dataset.item_index.get(item_id)

    def profile(self, state: DialogState) -> Profile:
        """The user's history plus this session's feedback, as the ranker sees it.

        Known users bring all their interactions (time order). Session likes and reference items
        are added with weight ``1 + like_boost`` (the ranker's session part); dislikes are added
        with a negative weight, so similar items drop, and are excluded with not-interested items.
        """
        cfg = self.config.agent
        uid = state.user_id
        idx = self.dataset.user_index.get(uid) if uid and uid not in self.tombstoned else None
        base = self.histories[idx] if idx is not None else np.zeros(0, dtype=np.int64)
        seen = set(base.tolist())
        hist, weights = list(base), [1.0] * base.size
        fb = state.feedback
        boosted = [*fb.liked, *state.constraints.reference_item_ids]
        for item_id in boosted:
            i = self.item_idx(item_id)
            if i is None:
                continue
            if i in seen:  # already in history: strengthen it
                pos = hist.index(i)
                weights[pos] = max(weights[pos], 1.0 + cfg.like_boost)
            else:
                hist.append(i)
                weights.append(1.0 + cfg.like_boost)
                seen.add(i)
        for item_id in fb.disliked:
            i = self.item_idx(item_id)
            if i is not None and i not in seen:
                hist.append(i)
                weights.append(-cfg.dislike_penalty)
                seen.add(i)
        exclude = [self.item_idx(x) for x in (*fb.disliked, *fb.not_interested)]
        return Profile(
            np.asarray(hist, dtype=np.int64),
            np.asarray(weights, dtype=np.float32),
            user_idx=idx,
            exclude=np.asarray([i for i in exclude if i is not None], dtype=np.int64),
        )

    def explain_item(self, state: DialogState, item: int) -> Any:
        """The evidence for one item as if it were recommended now (a :class:`ranker.evidence.Evidence`).

        The item itself is neither evidence nor excluded: it is dropped from the profile's history and
        exclusions, then scored, attributed and trust-scored like a list of one.
        """
        p = self.profile(state)
        if item in p.history:
            p = p.without(np.flatnonzero(p.history == item))
        p = Profile(p.history, p.weights, p.user_idx, p.exclude[p.exclude != item], p.regime_size)
        with self.lock:
            out = self.explainer(p, 1, candidates=np.asarray([item]), mmr_lambda=1.0, user_id=state.user_id)
        return out.items[0]

    def retrieve(self, state: DialogState, *, new_items: bool = False) -> tuple[np.ndarray, list[str]]:
        """Candidate item indices for the session's constraints, and notes on what could not be met.

        Exact filters first (categories, years, prices, feedback exclusions; ``new_items`` also leaves
        out everything shown this session); a free-text wish or "like X" then narrows the pool by
        semantic and item-to-item retrieval. A later list prefers items not shown yet.
        """
        from retrieval import HybridRetriever, ItemToItemRetriever, Query

        c = state.constraints
        excluded = set(state.feedback.excluded())
        if new_items:
            excluded |= set(state.shown_history)
        filters = c.filters(excluded)
        items = self.dataset.items
        allowed = np.asarray([i for i, it in enumerate(items) if filters.matches(it)], dtype=np.int64)
        notes: list[str] = []
        if c.query or c.reference_item_ids:
            gens: list[Any] = []
            if c.query:
                gens.append(self.semantic)  # type: ignore[attr-defined]
            if c.reference_item_ids:
                gens.append(ItemToItemRetriever(self.index))
            retriever = gens[0] if len(gens) == 1 else HybridRetriever(gens, k=self.config.retrieval.rrf_k)
            q = Query(text=c.query or None, item_ids=tuple(c.reference_item_ids))
            # with little known the order leans on popularity, so a wish in words or "like X" must narrow
            # the pool harder (the ranker alone decides for profiles of warm_k items and more)
            pool = self.config.agent.n_candidates
            if profile_size(self.profile(state)) < self.config.coldstart.warm_k:
                pool = min(pool, self.config.agent.n_candidates_new)
            cands = retriever.retrieve(q, pool, filters)
            chosen = np.asarray([self.dataset.item_index[i] for i in cands.item_ids], dtype=np.int64)
        else:
            chosen = allowed
        n = c.n or self.config.agent.default_n
        if self.config.agent.fresh_lists and not new_items and state.shown_history:
            # the person saw the earlier lists and asked for something else: show what they have not seen
            # yet while enough of it matches (liked items are history and never shown again anyway)
            seen = [self.dataset.item_index[i] for i in state.shown_history if i in self.dataset.item_index]
            fresh = chosen[~np.isin(chosen, np.asarray(seen, dtype=np.int64))]
            if fresh.size >= n:
                chosen = fresh
        if chosen.size < n:
            notes.append(
                f"only {chosen.size} items match your constraints" if chosen.size else "no items match your constraints"
            )
        return chosen, notes

    def rank(self, state: DialogState, candidates: np.ndarray) -> tuple[list[Evidence], ListReport | None]:
        """The top of ``candidates`` for the session (MMR by its diversity wish), each with evidence and trust."""
        if candidates.size == 0:
            return [], None
        c = state.constraints
        n = c.n or self.config.agent.default_n
        diversity = c.diversity if c.diversity is not None else self.config.agent.understand.default_diversity
        lam = 1.0 - 0.5 * diversity
        stored = self.stored_list(state, candidates, n)
        if stored is not None:
            return stored
        with self.lock:
            out = self.explainer(self.profile(state), n, candidates=candidates, mmr_lambda=lam, user_id=state.user_id)
        for ev in out.items:
            ev.matches = constraint_matches(state, ev)
        mark_requests(state, out.items, getattr(self.ranker, "group_words", None))
        return list(out.items), out.list_report

    def stored_list(self, state: DialogState, candidates: np.ndarray, n: int) -> tuple[list[Evidence], Any] | None:
        """The stored batch list for this request, when it is the batch's request (a known user, nothing
        said or shown this session, every item a candidate, the default length and diversity) and the
        profile, model version and prompt version match; else None (computed live)."""
        from agent.batch import plain_request, profile_hash
        from agent.writer import TEMPLATE_VERSION

        uid = state.user_id
        if self.batch is None or uid is None or uid in self.tombstoned or candidates.size != self.dataset.n_items:
            return None
        c = state.constraints
        if (n, c.diversity) != (plain_request(self.config)[0], None) or c.model_copy(update={"n": None}) != type(c)():
            return None
        idx = self.dataset.user_index.get(uid)
        if idx is None or state.shown_history or state.feedback != type(state.feedback)():
            return None
        stored = self.batch.get(uid, self.model_version, TEMPLATE_VERSION)
        if stored is None or len(stored.evidence) != n:
            return None
        # the profile the live path would rank for: the user's history now, with nothing the session added
        if profile_hash(self.profile(state)) != stored.profile_hash:
            return None
        for ev in stored.evidence:
            ev.source = "batch"
        from ranker.trust import ListReport

        report = None if stored.list_report is None else ListReport.model_validate(stored.list_report)
        return stored.evidence, report

    def description(self, item_id: str) -> str:
        d = self.descriptions.get(item_id)
        return d.text if d is not None and d.grounded else ""

    def close(self) -> None:
        self.store.close()
        self.descriptions.close()
        if self.batch is not None:
            self.batch.close()


def warm_up_explainer(explainer: Any, split: Split) -> None:
    """Run one explanation so the first user's turn does not pay for start-up compilation."""
    hist = next((h for h in split.histories("train") if h.size), None)
    if hist is not None:
        explainer(Profile(hist[-30:]), 3)


def _stage(say: Progress) -> Callable[[str, int, int], None]:
    last: dict[str, int] = {}

    def cb(stage: str, done: int, total: int) -> None:
        if done == total or done - last.get(stage, 0) >= max(1, total // 5):
            last[stage] = done
            say(f"{stage}: {done}/{total}")

    return cb


def _make_llm(config: TrustrecConfig, ws: Workspace, say: Progress) -> Any:
    """The configured chat model, or None (templates only) when it cannot be built."""
    from agent.llm import LLMError, make_chat_model

    try:
        model = make_chat_model(config.llm, ws)
    except LLMError as e:
        say(f"LLM unavailable ({e}); explanations will use templates")
        return None
    say(f"LLM backend: {config.llm.backend}")
    return model


def mark_requests(dialog: DialogState, evidence: list[Evidence], words: dict[str, str] | None = None) -> None:
    """Tell items the person asked "something like" apart from their likes (both weigh as session likes).

    "Something like X" is not "I liked X": such attributions are marked ``reference`` (not ``session``),
    so no shown sentence and no trust basis calls them liked.
    """
    from ranker.explain import basis_words

    asked = set(dialog.constraints.reference_item_ids) - set(dialog.feedback.liked)
    if not asked:
        return
    for ev in evidence:
        changed = False
        for h in ev.history:
            if h.item_id in asked:
                h.reference, h.session, changed = True, False, True
        if changed and ev.trust is not None:
            ev.trust.basis = basis_words(ev.history, ev.features, ev.trust.profile_size, words)


def constraint_matches(dialog: DialogState, ev: Evidence) -> list[str]:
    """The session's constraints this item satisfies, in words: its asked-for categories, the year range."""
    c = dialog.constraints
    out = [g for g in ev.categories if g in set(c.include_categories)]
    if c.include_all and set(c.include_categories) - set(ev.categories):
        out = []  # an all-of wish the item does not fully meet is not claimed as met
    if ev.year is not None and (c.year_min is not None or c.year_max is not None):
        lo = "" if c.year_min is None else str(c.year_min)
        hi = "" if c.year_max is None else str(c.year_max)
        out.append(f"{lo}-{hi}" if lo and hi else (f"{lo} or later" if lo else f"{hi} or earlier"))
    return out
