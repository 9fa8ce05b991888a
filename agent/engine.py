"""The composition root: builds every part of the system from one validated config.

:class:`Engine` holds the catalog, the trained ranker with its calibrator and explainer, the
retrieval index, the LLM writers and the store. It is built once per process (first run trains
the ranker and builds the index, with progress) and shared by every session.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agent.config import TrustrecConfig
from agent.state import DialogState
from agent.understanding import CatalogVocab
from catalog import Dataset, Store, Workspace, load_dataset
from catalog.splits import Split, user_histories, user_history_weights
from catalog.types import Item, User
from ranker.base import Profile, profile_size
from ranker.evidence import Evidence
from ranker.trust import ListReport

Progress = Callable[[str], None]

BEHAVIOUR_ORDER = {"view": 1, "click": 2, "rating": 3, "cart": 4, "purchase": 5}
"""How strong a logged behaviour is, for naming the one behind a history item ("bought" over "viewed")."""


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
    # behaviour weight of each history entry (catalog.splits.user_history_weights), aligned with ``histories``
    history_weights: list[np.ndarray] = field(default_factory=list)
    _twins: dict[int, list[int]] | None = None  # item index -> its other catalog entries (Engine.twins)
    # the store's tombstone stamp this process has applied (another replica's deletions change it)
    tombstone_version: tuple[int, float] | None = None
    _tombstone_guard: threading.Lock = field(default_factory=threading.Lock, repr=False)

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
        writer = ExplanationWriter(chat_model, config.llm, catalog=ds.items, lexicon=vocab.lexicon)
        describer = Describer(chat_model, config.llm, catalog_titles=titles)
        histories = user_histories(ds.interactions, ds.n_users, by_time=True)
        history_weights = user_history_weights(
            ds.interactions, ds.n_users, by_time=True, weights=config.data.behaviour_weights
        )
        engine = cls(
            config=config, workspace=ws, dataset=ds, split=split, vocab=vocab, store=store,
            ranker=ranker, explainer=explainer, index=index, encoder=encoder, writer=writer, describer=describer,
            descriptions=DescriptionStore(ws.store_target), llm=chat_model, histories=histories, lock=threading.RLock(),
            tombstoned=tombstoned, history_weights=history_weights,
        )  # fmt: skip
        engine.semantic = SemanticRetriever(index, encoder)  # type: ignore[attr-defined]
        engine.tombstone_version = store.tombstone_version()  # apply_tombstones read the list just now
        if config.agent.use_batch_results:
            from agent.batch import BatchStore

            engine.batch, engine.model_version = BatchStore(ws.store_target), stack.version
        return engine

    # ---------------------------------------------------------------- deleted users
    def forget_in_memory(self, user_id: str) -> int:
        """Stop serving a deleted user's history and attributes in this process; returns the history
        entries dropped (0 when already forgotten or unknown)."""
        with self._tombstone_guard:
            idx = self.dataset.user_index.get(user_id)
            history = int(self.histories[idx].size) if idx is not None and user_id not in self.tombstoned else 0
            if idx is not None:
                self.histories[idx] = np.zeros(0, dtype=np.int64)
                self.dataset.users[idx] = User(user_id=user_id)  # attributes (age, zip, ...) no longer shown
            self.tombstoned.add(user_id)
            return history

    def sync_tombstones(self) -> int:
        """Apply deletions another process (a replica on the shared store) made since the last call.

        One cheap query per call (the tombstone stamp); only when it changed are the tombstones read and
        the newly deleted users forgotten here as :meth:`forget_in_memory` does. Returns how many.
        """
        version = self.store.tombstone_version()
        if version == self.tombstone_version:
            return 0
        gone = self.store.tombstoned(self.dataset.user_index) - self.tombstoned
        for user_id in sorted(gone):
            self.forget_in_memory(user_id)
        self.tombstone_version = version
        return len(gone)

    # ---------------------------------------------------------------- helpers used by turns
    def item_idx(self, item_id: str) -> int | None:
        return self.dataset.item_index.get(item_id)

    def twins(self, i: int) -> list[int]:
        """Other catalog entries of the same item (same title and year under another id: ml-100k lists a few
        films twice), so a liked or asked-about item is never recommended back under its other id."""
        if self._twins is None:
            groups: dict[tuple[str, int | None], list[int]] = {}
            for k, it in enumerate(self.dataset.items):
                groups.setdefault((it.title.casefold().strip(), it.year), []).append(k)
            self._twins = {k: [x for x in g if x != k] for g in groups.values() if len(g) > 1 for k in g}
        return self._twins.get(i, [])

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
        bw = self.history_weights[idx] if idx is not None and idx < len(self.history_weights) else None
        # a caller that swapped ``histories`` (the conversation eval hides targets) has no weights for them
        hist, weights = list(base), (bw.tolist() if bw is not None and bw.size == base.size else [1.0] * base.size)
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
        # the other catalog entries of what the person liked or asked about in this session are not recommended back
        # (the stored history is left as the batch lists saw it: agent.batch.known_user_profile)
        exclude += [t for x in boosted if (i := self.item_idx(x)) is not None for t in self.twins(i)]
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

    def retrieve(
        self, state: DialogState, *, new_items: bool = False, language: str = "en"
    ) -> tuple[np.ndarray, list[str]]:
        """Candidate item indices for the session's constraints, and notes on what could not be met.

        Exact filters first (categories, years, prices, feedback exclusions; ``new_items`` also leaves
        out everything shown this session); a free-text wish or "like X" then narrows the pool by
        semantic and item-to-item retrieval. A later list prefers items not shown yet. The notes are in
        ``language`` (``agent/data/lang/explain-<language>.yaml``).
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
        text = " ".join(x for x in (c.need, c.query) if x)  # a stated need is what the candidates come from
        if text or c.reference_item_ids:
            gens: list[Any] = []
            if text:
                gens.append(self.semantic)  # type: ignore[attr-defined]
            if c.reference_item_ids:
                gens.append(ItemToItemRetriever(self.index))
            retriever = gens[0] if len(gens) == 1 else HybridRetriever(gens, k=self.config.retrieval.rrf_k)
            q = Query(text=text or None, item_ids=tuple(c.reference_item_ids))
            # with little known the order leans on popularity, so a wish in words or "like X" must narrow
            # the pool harder (the ranker alone decides for profiles of warm_k items and more)
            pool = self.config.agent.n_candidates
            if profile_size(self.profile(state)) < self.config.coldstart.warm_k:
                pool = min(pool, self.config.agent.n_candidates_new)
            # brands, ratings and feature words are evaluated on the catalog items, the rest by the index
            cands = retriever.retrieve(q, pool, filters.resolved(items))
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
            from agent.wording import wording

            w = wording(language)
            notes.append(w.say("only_match", n=chosen.size) if chosen.size else w.say("none_match"))
        return chosen, notes

    def behaviours(self, user_id: str | None) -> dict[str, str]:
        """The strongest logged behaviour per history item of a known user (purchase > cart > rating > click >
        view), so a chart can say "bought X" rather than "liked X"; {} for a new or deleted user."""
        idx = self.dataset.user_index.get(user_id) if user_id and user_id not in self.tombstoned else None
        if idx is None:
            return {}
        cache: dict[int, dict[str, str]] = self.__dict__.setdefault("_behaviours", {})
        if idx not in cache:
            df = self.dataset.interactions
            rows = df[df["user_idx"].to_numpy() == idx]
            out: dict[str, str] = {}
            for item_id, kind in zip(rows["item_id"].tolist(), rows["kind"].astype(str).tolist(), strict=True):
                if BEHAVIOUR_ORDER.get(kind, 0) > BEHAVIOUR_ORDER.get(out.get(item_id, ""), -1):
                    out[item_id] = kind
            if len(cache) > 10_000:  # bounded: one entry per user seen by this process
                cache.clear()
            cache[idx] = out
        return cache[idx]

    def need_conflict(self, state: DialogState) -> tuple[list[str], list[str]] | None:
        """``(need categories, history categories)`` when the stated need points elsewhere than the history.

        The history's categories are those of at least a fifth of the known user's history items; the need's
        are the ones inferred from it. None without a need, without inferred categories, without a history, or
        when they share a category.
        """
        c = state.constraints
        if not c.need or not c.need_categories:
            return None
        p = self.profile(state)
        hist = p.history[p.weights > 0] if p.history.size else p.history
        if hist.size == 0:
            return None
        counts: dict[str, int] = {}
        for i in hist.tolist():
            for cat in self.dataset.items[int(i)].categories:
                counts[cat] = counts.get(cat, 0) + 1
        usual = [k for k, v in sorted(counts.items(), key=lambda x: (-x[1], x[0])) if v >= 0.2 * hist.size]
        if not usual or set(usual) & set(c.need_categories):
            return None
        need_items = {i for i, it in enumerate(self.dataset.items) if set(it.categories) & set(c.need_categories)}
        if need_items & set(hist.tolist()):  # bought from the need's categories before: no disagreement to report
            return None
        return list(c.need_categories), usual[:2]

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
        behaviours = self.behaviours(state.user_id)
        for ev in out.items:
            ev.matches = constraint_matches(state, ev, self.dataset.item(ev.item_id))
            for h in ev.history:
                if not h.session and not h.reference:
                    h.behaviour = behaviours.get(h.item_id)
        mark_requests(state, out.items, getattr(self.ranker, "group_words", None))
        return list(out.items), out.list_report

    def stored_list(self, state: DialogState, candidates: np.ndarray, n: int) -> tuple[list[Evidence], Any] | None:
        """The stored batch list for this request, when it is the batch's request (a known user, nothing
        said or shown this session, every item a candidate, the default length and diversity) and the
        profile, model version and prompt version match; else None (computed live). Items whose stored text
        the LLM wrote carry it (``stored_text``), shown when it passes the checks again."""
        from agent.batch import plain_request, profile_hash
        from agent.writer import TEMPLATE_VERSION
        from ranker.evidence import StoredText
        from ranker.trust import ListReport

        uid = state.user_id
        if self.batch is None or uid is None or uid in self.tombstoned or candidates.size != self.dataset.n_items:
            return None
        c = state.constraints
        if (n, c.diversity) != (plain_request(self.config)[0], None) or c.model_copy(update={"n": None}) != type(c)():
            return None
        idx = self.dataset.user_index.get(uid)
        if idx is None or state.shown_history or state.feedback != type(state.feedback)():
            return None
        # the profile the live path would rank for: the user's history now, with nothing the session added;
        # the list this writer's LLM wrote when a batch run did (``--llm``), else the template run's
        current = profile_hash(self.profile(state))
        for version in dict.fromkeys((self.writer.version, TEMPLATE_VERSION)):
            stored = self.batch.get(uid, self.model_version, version)
            if stored is not None and len(stored.evidence) == n and stored.profile_hash == current:
                break
        else:
            return None
        for ev, text, writer in zip(stored.evidence, stored.explanations, stored.writers, strict=True):
            ev.source = "batch"
            if text and version != TEMPLATE_VERSION:  # the LLM's text, or the template's where it failed the checks
                ev.stored_text = StoredText(text=text, writer=writer, prompt_version=version)
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


def constraint_matches(dialog: DialogState, ev: Evidence, item: Item | None = None) -> list[str]:
    """The session's constraints this item satisfies, in words: its asked-for categories, the year range;
    with the catalog ``item``, also its brand, price, rating and feature words where those were asked for."""
    c = dialog.constraints
    out = [g for g in ev.categories if g in set(c.include_categories)]
    if c.include_all and set(c.include_categories) - set(ev.categories):
        out = []  # an all-of wish the item does not fully meet is not claimed as met
    if ev.year is not None and (c.year_min is not None or c.year_max is not None):
        lo = "" if c.year_min is None else str(c.year_min)
        hi = "" if c.year_max is None else str(c.year_max)
        out.append(f"{lo}-{hi}" if lo and hi else (f"{lo} or later" if lo else f"{hi} or earlier"))
    if item is None:
        return out
    # a shop's constraints, as whole numbers (a decimal point would end the "Matches:" sentence): a bound
    # that is not whole is rounded outwards and said strictly ("under $61" for a cap of $60.98), still true
    if c.include_brands and item.brand and item.brand.casefold() in {b.casefold() for b in c.include_brands}:
        out.append(item.brand)
    lo_ok = c.price_min is None or (item.price is not None and item.price >= c.price_min)
    hi_ok = c.price_max is None or (item.price is not None and item.price <= c.price_max)
    if item.price is not None and (c.price_min is not None or c.price_max is not None) and lo_ok and hi_ok:
        if c.price_min is not None and c.price_max is not None:  # a range that holds the bounds: "$40-$60"
            out.append(f"${math.floor(c.price_min)}-${math.ceil(c.price_max)}")
        elif c.price_max is not None:
            out.append(_whole(c.price_max, "$", "under", "or less", up=True))
        elif c.price_min is not None:
            out.append(_whole(c.price_min, "$", "over", "or more", up=False))
    if c.rating_min is not None and item.rating.mean is not None and item.rating.mean >= c.rating_min:
        out.append("rated " + _whole(c.rating_min, "", "over", "or more", up=False))
    if c.features:
        from retrieval.filters import Filters

        out.extend(f for f in c.features if Filters(features=frozenset([f])).matches(item))
    return out


def _whole(bound: float, unit: str, strict: str, inclusive: str, *, up: bool) -> str:
    """A bound in whole numbers that stays true: "$60 or less", or "under $61" for 60.98 (``up``)."""
    if float(bound).is_integer():
        return f"{unit}{int(bound)} {inclusive}"
    return f"{strict} {unit}{math.ceil(bound) if up else math.floor(bound)}"
