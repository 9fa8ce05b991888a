"""The faithfulness evaluation's session mix and recording (the full run needs the built agent:
`trustrec eval faithfulness`, and the `faithfulness` suite checks)."""

from __future__ import annotations

import re

from agent.config import LLMConfig
from agent.writer import ExplanationWriter
from evals.faithfulness import FaithfulnessConfig, _RecordingWriter, _scripts
from evals.suite import check_kinds, load_suite
from tests.llm_helpers import dataset, real_evidence


def test_sessions_mix_warm_cold_start_and_constrained_chats() -> None:
    ds = dataset()
    scripts = _scripts(ds, FaithfulnessConfig(sessions=9, n=7))
    kinds = [k for k, _, _ in scripts]
    assert kinds.count("warm") == kinds.count("cold") == kinds.count("constrained") == 3
    for kind, user, msgs in scripts:
        assert (user is not None) == (kind == "warm")
        assert user is None or user in ds.user_index
        assert "Show me 7 picks" in " ".join(msgs) or "show me 7 picks" in " ".join(msgs)
        if kind != "warm":
            assert msgs[-1] == "LIKE_SHOWN"  # a first like of a shown title, said in words
        if kind == "constrained":
            assert msgs[1].startswith("something like ")
    assert _scripts(ds, FaithfulnessConfig(sessions=9, n=7)) == scripts  # deterministic for a seed


def test_sessions_in_chinese_say_the_same_in_chinese() -> None:
    ds = dataset()
    en = _scripts(ds, FaithfulnessConfig(sessions=9, n=7))
    zh = _scripts(ds, FaithfulnessConfig(sessions=9, n=7, language="zh"))
    assert [(k, u) for k, u, _ in zh] == [(k, u) for k, u, _ in en]  # the same people and draws
    for kind, _user, msgs in zh:
        assert msgs[0].startswith("推荐7个") or msgs[0].startswith("我想要"), msgs
        assert all(m == "LIKE_SHOWN" or re.search(r"[\u4e00-\u9fff]", m) for m in msgs), msgs
        assert not any(re.search(r"\b(show|picks|like)\b", m, re.I) for m in msgs if m != "LIKE_SHOWN"), msgs
        if kind == "constrained":
            assert msgs[1].startswith("类似《") and msgs[1].endswith("》的"), msgs


def test_recording_writer_keeps_the_evidence_of_every_text() -> None:
    inner = ExplanationWriter(None, LLMConfig(), catalog=dataset().items)
    rec = _RecordingWriter(inner)
    ev = real_evidence()
    x = rec.write(ev)
    assert rec.records == [(ev, x)] and x.verified
    y = rec.write_many([ev, ev], "zh")  # the turn's language passes through
    assert [z.text for z in y] == [inner.template(ev, "zh").text] * 2 and len(rec.records) == 3
    assert rec.prompt is inner.prompt  # everything else passes through


def test_faithfulness_is_a_suite_check_in_smoke_and_full() -> None:
    assert "faithfulness" in check_kinds()
    smoke = {c.name: c for c in load_suite("smoke").checks if c.kind == "faithfulness"}
    full = {c.name: c for c in load_suite("full").checks if c.kind == "faithfulness"}
    assert smoke and all(c.params.get("llm") is False for c in smoke.values())
    assert full and all(c.thresholds["false_claims"].max == 0 for c in full.values())
