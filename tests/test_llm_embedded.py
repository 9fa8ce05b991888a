"""The embedded gemma-3-270m generates real text (short outputs); one module-scoped load."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage

from agent.config import LLMConfig
from agent.describe import Describer, DescriptionStore
from agent.grounding import GroundingGuard, evidence_facts
from agent.llm import LLMTimeout, complete, make_chat_model, stream
from agent.llm.embedded import EmbeddedChatModel, load_engine, render_prompt
from agent.prompts import load_prompt
from agent.writer import ExplanationWriter
from catalog import Workspace
from tests.llm_helpers import dataset, real_evidence, titles

PROMPT = load_prompt("describe", "fewshot").messages(facts='title "Toy Story"; year 1995; categories Animation, Comedy')


@pytest.fixture(scope="module")
def model() -> EmbeddedChatModel:
    m = make_chat_model(LLMConfig(max_new_tokens=8, timeout_s=120), Workspace())
    assert isinstance(m, EmbeddedChatModel)
    m.loaded()  # the one load of this module
    return m


def test_loaded_once_per_process(model: EmbeddedChatModel) -> None:
    ws = Workspace()
    assert load_engine(model.embedded_backend, ws.models, ws.cache) is model.loaded()
    assert model.model_copy(update={"max_new_tokens": 4}).loaded() is model.loaded()


def test_generates_real_text_greedy_and_stops_at_newline(model: EmbeddedChatModel) -> None:
    a = complete(model, PROMPT, timeout_s=120, stop=["\n"])
    b = complete(model, PROMPT, timeout_s=120, stop=["\n"])
    assert a.strip() and "\n" not in a
    assert a == b  # greedy
    assert model.loaded().count_tokens(a) <= 8


def test_streams_the_same_text_in_pieces(model: EmbeddedChatModel) -> None:
    pieces = list(stream(model, PROMPT, timeout_s=120, stop=["\n"]))
    assert len(pieces) >= 2
    assert "".join(pieces) == complete(model, PROMPT, timeout_s=120, stop=["\n"])


def test_render_prompt_continues_the_last_human_turn() -> None:
    text = render_prompt(PROMPT)
    assert text.endswith("Description:") and "Heat is a 1995 action crime thriller." in text
    assert render_prompt([HumanMessage("a")]) == "a"


def test_deadline_raises_timeout_and_writer_degrades(model: EmbeddedChatModel) -> None:
    fast = model.model_copy(update={"timeout_s": 1e-9})
    with pytest.raises(LLMTimeout):
        complete(fast, PROMPT, timeout_s=120)
    ex = ExplanationWriter(fast, LLMConfig(), catalog_titles=titles()).write(real_evidence())
    assert ex.writer == "template" and ex.grounded and any("LLMTimeout" in r for r in ex.reasons)


@pytest.mark.slow
def test_writer_on_real_evidence(model: EmbeddedChatModel) -> None:
    llm = model.model_copy(update={"max_new_tokens": 32})
    ev = real_evidence("196", "181")
    ex = ExplanationWriter(llm, LLMConfig(grounding_retries=1), catalog_titles=titles()).write(ev)
    from agent.prompts import load_prompt

    assert ex.attempts >= 1 and ex.prompt_version in (load_prompt("explain", "fewshot").version, "template/1")
    assert ex.grounded
    assert GroundingGuard(titles()).check(ex.text, evidence_facts(ev)).ok
    if ex.writer == "llm":
        assert ex.model.startswith("gemma-3-270m")
    else:
        assert ex.rejected, "a template is used only after rejected LLM texts"


@pytest.mark.slow
def test_describe_batch_is_stored_with_provenance_and_resumable(model: EmbeddedChatModel, tmp_path: Path) -> None:
    llm = model.model_copy(update={"max_new_tokens": 24})
    ds = dataset()
    items = [ds.items[ds.item_index[i]] for i in ("1", "50", "181")]
    d = Describer(llm, LLMConfig(grounding_retries=1), catalog_titles=titles())
    seen: list[int] = []
    with DescriptionStore(tmp_path / "store.sqlite3") as store:
        out = d.run(items, store, progress=lambda k, _t, _d: seen.append(k))
        assert [x.item_id for x in out] == ["1", "50", "181"] and seen == [1, 2, 3]
        for x in out:
            assert x.prompt_version == "describe-fewshot/1" and x.backend == "embedded" and x.created_at > 0
            assert x.text.strip()
            assert x.grounded or x.reasons  # an ungrounded text is marked with why
        assert d.run(items, store) == []  # resumable: nothing left to do
    with DescriptionStore(tmp_path / "store.sqlite3") as again:
        assert again.get("50") == next(x for x in out if x.item_id == "50")
