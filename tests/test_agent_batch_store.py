"""The batch results table on both store backends (SQLite and a real PostgreSQL server): keyed by
(user, item, model version, prompt version), a batch written twice is stored once, erasure leaves no rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent.batch import BatchStore, profile_hash, read_users
from catalog.errors import BadInput, MissingFile
from ranker.base import Profile
from ranker.evidence import Evidence


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.heavy)])  # a server: heavy
def target(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    if request.param == "sqlite":
        return tmp_path / "db.sqlite3"
    return str(request.getfixturevalue("pg_url"))


def _rows(user: str, items: list[str], mv: str = "m1", pv: str = "template/1", ph: str = "h1") -> list[dict[str, Any]]:
    return [
        {"user_id": user, "item_id": it, "position": pos, "score": 1.0 / pos, "model_version": mv,
         "prompt_version": pv, "profile_hash": ph, "n": len(items), "list_report": "",
         "evidence": Evidence(item_id=it, title=f"t{it}", score=1.0 / pos, base_value=0.0).model_dump_json(),
         "explanation": f"because {it}", "grounded": 1}
        for pos, it in enumerate(items, start=1)
    ]  # fmt: skip


def test_put_is_idempotent_and_replaces_a_users_list(target: str | Path) -> None:
    with BatchStore(target) as s:
        assert s.put(_rows("u1", ["1", "2", "3"]) + _rows("u2", ["4", "5", "6"])) == 2
        assert s.put(_rows("u1", ["1", "2", "3"])) == 1  # the same batch retried: stored once
        assert s.counts() == {"batch_lists": 2, "batch_items": 6} and s.duplicates() == 0
        s.put(_rows("u1", ["9", "1", "8"], ph="h2"))  # a newer profile replaces the list, not adds to it
        got = s.get("u1", "m1", "template/1")
        assert got is not None and [e.item_id for e in got.evidence] == ["9", "1", "8"] and got.profile_hash == "h2"
        assert got.explanations == ["because 9", "because 1", "because 8"]
        s.put(_rows("u1", ["7", "6", "5"], mv="m2"))  # another model version is another key
        assert s.current("m1", "template/1") == {"u1": "h2", "u2": "h1"} and s.current("m2", "template/1") == {
            "u1": "h1"
        }
        assert s.get("u1", "m1", "llm/9") is None
        assert s.delete_user("u1") == 8 and s.get("u1", "m2", "template/1") is None
        assert s.counts() == {"batch_lists": 1, "batch_items": 3}


def test_profile_hash_sees_every_part_the_ranker_reads() -> None:
    base = Profile(np.array([1, 2, 3]), np.ones(3, dtype=np.float32), user_idx=4, exclude=np.zeros(0, dtype=np.int64))
    variants = [
        Profile(np.array([1, 2, 4]), np.ones(3, dtype=np.float32), user_idx=4, exclude=np.zeros(0, dtype=np.int64)),
        Profile(np.array([1, 2, 3]), np.array([1, 1, 2], dtype=np.float32), user_idx=4, exclude=np.zeros(0, dtype=np.int64)),
        Profile(np.array([1, 2, 3]), np.ones(3, dtype=np.float32), user_idx=5, exclude=np.zeros(0, dtype=np.int64)),
        Profile(np.array([1, 2, 3]), np.ones(3, dtype=np.float32), user_idx=4, exclude=np.array([9])),
    ]  # fmt: skip
    same = Profile(np.array([1, 2, 3]), np.ones(3, dtype=np.float32), user_idx=4, exclude=np.zeros(0, dtype=np.int64))
    assert profile_hash(same) == profile_hash(base)
    assert len({profile_hash(v) for v in variants} | {profile_hash(base)}) == 5


def test_read_users_names_the_bad_line(tmp_path: Path) -> None:
    f = tmp_path / "users.txt"
    f.write_text("1\n# a comment\n2  # trailing\n\n1\n")
    assert read_users(str(f), ["1", "2", "3"]) == ["1", "2"]
    assert read_users("all", ["1", "2"]) == ["1", "2"]
    f.write_text("1\nnope\n")
    with pytest.raises(BadInput, match=r"users\.txt:2: unknown user id 'nope'"):
        read_users(str(f), ["1"])
    with pytest.raises(MissingFile, match="--users"):
        read_users(str(tmp_path / "missing.txt"), ["1"])


def test_description_store_on_both_backends(target: str | Path) -> None:
    """Item descriptions live in the same store: insert-or-replace by item id, resumable by prompt version."""
    from agent.describe import Description, DescriptionStore

    def d(item: str, text: str, version: str) -> Description:
        return Description(item_id=item, text=text, writer="template", grounded=True, attempts=0, reasons=["r"],
                           backend="none", model="none", prompt_version=version, created_at=1.5)  # fmt: skip

    with DescriptionStore(target) as s:
        s.put(d("1", "first", "v1"))
        s.put(d("2", "second", "v1"))
        s.put(d("1", "first again", "v2"))  # replaces, does not add
        assert s.get("1") == d("1", "first again", "v2") and s.get("3") is None
        assert sorted(x.item_id for x in s.all()) == ["1", "2"]
        assert s.done_ids("v1") == {"2"} and s.done_ids() == {"1", "2"}
