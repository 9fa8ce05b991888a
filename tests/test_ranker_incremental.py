"""Folding dialog feedback into the trained model (``trustrec train --incremental``)."""

from __future__ import annotations

import numpy as np

from catalog import FeedbackEvent, FeedbackKind, make_split
from ranker.base import Profile
from ranker.incremental import feedback_rows, fold_feedback, is_positive


def _ev(i: int, user: str, item: str, kind: FeedbackKind, value: float | None = None) -> FeedbackEvent:
    return FeedbackEvent(event_id=f"e{i}", session_id="s", user_id=user, item_id=item, kind=kind, value=value)


def test_only_positive_new_pairs_of_known_users_become_rows(ml100k) -> None:  # type: ignore[no-untyped-def]
    split = make_split(ml100k, "ro811")
    u = split.train.iloc[0]
    events = [
        _ev(1, "1", "1682", FeedbackKind.LIKE),
        _ev(2, "1", "1682", FeedbackKind.LIKE),  # repeat: one row
        _ev(3, "1", "1681", FeedbackKind.DISLIKE),  # negative: never a positive
        _ev(4, "1", "1680", FeedbackKind.RATING, 2.0),
        _ev(5, "1", "1679", FeedbackKind.RATING, 5.0),
        _ev(6, "no-such-user", "1", FeedbackKind.LIKE),
        _ev(7, str(u.user_id), str(u.item_id), FeedbackKind.LIKE),  # already in train
    ]
    assert [is_positive(e) for e in events[:5]] == [True, True, False, False, True]
    rows = feedback_rows(ml100k, split.train, events)
    assert sorted(rows["item_id"]) == ["1679", "1682"]
    assert set(rows["user_idx"]) == {ml100k.user_index["1"]}


def test_fold_changes_collaborative_scores_toward_the_liked_item(ml100k) -> None:  # type: ignore[no-untyped-def]
    """A tiny stand-in model (the real feature code, few features) shows the fold moves scores."""
    from ranker.features import fit_features

    split = make_split(ml100k, "ro811")
    feats = fit_features(ml100k, split.train, ease_lambda=250.0, window=3, smoothing=5.0, year_buckets=10)

    class Tiny:  # the JointRanker surface fold_feedback uses: config, text_vecs, features, invalidate
        class config:
            ease_lambda, transition_window, transition_smoothing, year_buckets = 250.0, 3, 5.0, 10
            rp3_alpha, rp3_beta, seq_decay, seq_window, seq_lambda, ease_text = 0.8, 0.6, 0.85, 30, 200.0, 0.0

        text_vecs = None
        features = feats

        def invalidate(self) -> None:
            pass

        def score(self, profiles: list[Profile]) -> np.ndarray:
            x = np.zeros((len(profiles), ml100k.n_items), dtype=np.float32)
            for r, p in enumerate(profiles):
                x[r, p.history] = 1
            return x @ self.features.ease

    rare = int(np.argsort(feats.popularity)[0])  # an item nobody in train liked
    anchor = ml100k.item_index["50"]
    likers = [u.user_id for u in ml100k.users[:40]]
    events = [_ev(k, uid, ml100k.items[rare].item_id, FeedbackKind.LIKE) for k, uid in enumerate(likers)]
    events += [_ev(100 + k, uid, "50", FeedbackKind.LIKE) for k, uid in enumerate(likers)]
    model = Tiny()
    before = model.score([Profile(np.asarray([anchor]))])[0, rare]
    model, res = fold_feedback(model, ml100k, split, events, lambda m: {"calls": 1.0})
    after = model.score([Profile(np.asarray([anchor]))])[0, rare]
    assert res.new_interactions > 0 and res.events == len(events)
    assert after > before  # co-liked with Star Wars now: Star Wars fans get it higher
