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
from agent.understand import CatalogVocab
from catalog import Dataset, Store, Workspace, load_dataset, make_split
from catalog.splits import Split
from ranker.base import Profile

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
        from ranker.calibration import CalibrationConfig, ensure_calibrator
        from ranker.coldstart import category_groups, ensure_cold_start
        from ranker.diversity import item_popularity
        from ranker.explain import RecommendationExplainer
        from ranker.jit_cache import enable_shap_jit_cache
        from ranker.train import ensure_trained, model_folder
        from retrieval import SemanticRetriever, TextEncoder, build_or_load_index

        say = progress or (lambda _m: None)
        ws = config.workspace()
        say(f"workspace {ws.home}")
        ds = load_dataset(config.data, ws, progress=say)
        store = Store(ws.store_path)
        ds, tombstoned = apply_tombstones(ds, store)  # deleted users: out of training, histories and views
        protocol = config.agent.protocol
        split = make_split(ds, protocol, seed=config.data.seed)
        folder = model_folder(ws, protocol)
        if not (folder / "model.safetensors").is_file():
            say(f"training the joint ranker ({protocol}); this runs once and takes a few minutes")
        ranker = ensure_trained(ws, ds, split, config=config.ranker, seed=config.seed, progress=progress is not None)
        say(f"ranker ready ({folder})")
        cal, fitted = ensure_calibrator(
            ranker, split, folder / "calibration.json", CalibrationConfig(), checkpoint=folder / "model.safetensors"
        )
        say("calibrator " + ("fitted on validation data" if fitted else "loaded"))
        ranker, cal = ensure_cold_start(
            ranker, split, ds.n_users, cal, folder / "coldstart.json", config.coldstart,
            checkpoint=folder / "model.safetensors", progress=say, item_groups=category_groups(ds.items),
        )  # fmt: skip
        counts = item_popularity(split.train["item_idx"].to_numpy(), ds.n_items)
        explainer = RecommendationExplainer(ranker, ds, cal, counts)
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
        df = ds.interactions.sort_values(["user_idx", "timestamp"], kind="stable")
        groups = df.groupby("user_idx")["item_idx"].apply(lambda s: s.to_numpy())
        histories = [np.zeros(0, dtype=np.int64)] * ds.n_users
        for u, items in groups.items():
            histories[int(u)] = items.astype(np.int64)  # type: ignore[call-overload]
        engine = cls(
            config=config, workspace=ws, dataset=ds, split=split, vocab=vocab, store=store,
            ranker=ranker, explainer=explainer, index=index, encoder=encoder, writer=writer, describer=describer,
            descriptions=DescriptionStore(ws.store_path), llm=chat_model, histories=histories, lock=threading.RLock(),
            tombstoned=tombstoned,
        )  # fmt: skip
        engine.semantic = SemanticRetriever(index, encoder)  # type: ignore[attr-defined]
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

    def description(self, item_id: str) -> str:
        d = self.descriptions.get(item_id)
        return d.text if d is not None and d.grounded else ""

    def close(self) -> None:
        self.store.close()
        self.descriptions.close()


def warm_up_explainer(explainer: Any, split: Split) -> None:
    """Run one explanation so the first user's turn does not pay for start-up compilation."""
    users = split.train.groupby("user_idx")["item_idx"].apply(lambda s: s.to_numpy())
    if len(users):
        hist = np.asarray(users.iloc[0], dtype=np.int64)
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
