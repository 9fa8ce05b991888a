"""The ranker contract, checked the same way for every ranker (LensKit-style: one mixin of tests,
one small class per ranker that says how to build it).

Every ranker: is a :class:`ranker.base.Ranker`; scores a batch exactly as one profile at a time;
scores an item subset exactly as the same columns of the full matrix; treats an unknown user as a
new one; scores an empty history without failing; refuses history items outside the catalog; and,
where it declares ``additive_in_history``, is additive in the history entries. Configs round-trip.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest

from ranker.base import Profile, Ranker


@pytest.fixture(scope="module")
def ro(ml100k):  # type: ignore[no-untyped-def]
    from catalog import ro_split

    return ro_split(ml100k, seed=2020)


class RankerContract:
    """Mixin: subclasses set ``build(dataset, split) -> Ranker``."""

    atol: ClassVar[float] = 1e-5

    def build(self, dataset: Any, split: Any) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    @pytest.fixture(scope="class")
    def ranker(self, ml100k, ro):  # type: ignore[no-untyped-def]
        return self.build(ml100k, ro)

    @pytest.fixture(scope="class")
    def profiles(self, ro) -> list[Profile]:  # type: ignore[no-untyped-def]
        hist = ro.histories("train")
        users = [u for u in range(len(hist)) if hist[u].size >= 5][:4]
        out = [Profile(hist[u][:12], user_idx=u) for u in users]
        out.append(Profile(hist[users[0]][:3], np.array([1.0, 3.0, -1.0])))  # a session: like and dislike
        return out

    def test_is_a_ranker(self, ranker: Any) -> None:
        assert isinstance(ranker, Ranker)
        assert ranker.n_items > 0

    def test_shape_and_finite(self, ranker: Any, profiles: list[Profile]) -> None:
        s = ranker.score(profiles)
        assert s.shape == (len(profiles), ranker.n_items)
        assert np.isfinite(s).all()

    def test_batch_equals_single(self, ranker: Any, profiles: list[Profile]) -> None:
        batch = ranker.score(profiles)
        for i, p in enumerate(profiles):
            np.testing.assert_allclose(batch[i], ranker.score([p])[0], atol=self.atol, rtol=1e-5)

    def test_item_subset_equals_columns(self, ranker: Any, profiles: list[Profile]) -> None:
        items = np.array([0, 7, 49, ranker.n_items - 1, 7], dtype=np.int64)
        np.testing.assert_allclose(
            ranker.score(profiles, items), ranker.score(profiles)[:, items], atol=self.atol, rtol=1e-5
        )

    def test_unknown_user_is_a_new_user(self, ranker: Any, profiles: list[Profile]) -> None:
        p = profiles[0]
        unknown = Profile(p.history, p.weights, user_idx=10**6)
        new = Profile(p.history, p.weights, user_idx=None)
        np.testing.assert_allclose(ranker.score([unknown]), ranker.score([new]), atol=self.atol, rtol=1e-5)

    def test_empty_history(self, ranker: Any) -> None:
        s = ranker.score([Profile(np.zeros(0, dtype=np.int64))])
        assert s.shape == (1, ranker.n_items) and np.isfinite(s).all()

    def test_history_item_outside_the_catalog_is_refused(self, ranker: Any) -> None:
        with pytest.raises(ValueError, match="outside"):
            ranker.score([Profile(np.array([0, ranker.n_items + 3]))])

    def test_additive_where_declared(self, ranker: Any, profiles: list[Profile]) -> None:
        if not getattr(ranker, "additive_in_history", False):
            pytest.skip(f"{type(ranker).__name__} does not declare additivity in the history")
        p = profiles[-1]
        empty = ranker.score([Profile(np.zeros(0, dtype=np.int64))])[0]
        singles = ranker.score([Profile(p.history[[j]], p.weights[[j]]) for j in range(p.history.size)])
        np.testing.assert_allclose(
            ranker.score([Profile(p.history, p.weights)])[0] - empty, (singles - empty).sum(axis=0), atol=1e-4
        )

    def test_config_round_trips(self, ranker: Any) -> None:
        cfg = getattr(ranker, "config", None)
        if cfg is None:
            pytest.skip(f"{type(ranker).__name__} has no config")
        assert type(cfg).model_validate_json(cfg.model_dump_json()) == cfg


class TestPop(RankerContract):
    def build(self, dataset: Any, split: Any) -> Any:
        from ranker.baselines import PopRanker

        return PopRanker().fit(dataset, split)


class TestItemKNN(RankerContract):
    def build(self, dataset: Any, split: Any) -> Any:
        from ranker.baselines import ItemKNNRanker

        return ItemKNNRanker().fit(dataset, split)


class TestEASE(RankerContract):
    def build(self, dataset: Any, split: Any) -> Any:
        from ranker.baselines import EASERanker

        return EASERanker().fit(dataset, split)


class TestBPR(RankerContract):
    def build(self, dataset: Any, split: Any) -> Any:
        from ranker.baselines import BPRConfig, BPRRanker

        return BPRRanker(BPRConfig(epochs=2)).fit(dataset, split)


@pytest.mark.heavy
class TestServedJointRanker(RankerContract):
    """The ranker the agent serves: the trained joint model inside the new-user blend."""

    atol = 1e-4

    def build(self, dataset: Any, split: Any) -> Any:
        from agent.config import TrustrecConfig
        from ranker.stack import build_stack

        return build_stack(TrustrecConfig(), model="joint", train=True, dataset=dataset).ranker
