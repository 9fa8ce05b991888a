"""Item descriptions from attributes, stored with provenance in the workspace store DB.

:class:`Describer` writes one sentence per item from its title, year, categories, brand and price,
checks it with the grounding guard, regenerates a failing one (bounded by
``LLMConfig.grounding_retries``) and otherwise stores the last text marked ungrounded (or the
template when the LLM is unavailable). :class:`DescriptionStore` keeps them in its own table
``item_descriptions`` of the store (SQLite file or PostgreSQL); :meth:`Describer.run` is a resumable batch job:
items already described with the current prompt version are skipped.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal

from langchain_core.language_models.chat_models import BaseChatModel
from pydantic import BaseModel, Field

from agent.config import LLMConfig
from agent.grounding import GroundingGuard, description_facts, facts_line, template_description
from agent.llm.backends import complete, model_label, prompt_style
from agent.llm.errors import LLMError
from agent.prompts import Prompt, load_prompt
from catalog.store import Database
from catalog.types import Item

_SCHEMA = """
CREATE TABLE IF NOT EXISTS item_descriptions (
    item_id TEXT PRIMARY KEY, text TEXT NOT NULL, writer TEXT NOT NULL, grounded INTEGER NOT NULL,
    attempts INTEGER NOT NULL, reasons TEXT NOT NULL, backend TEXT NOT NULL, model TEXT NOT NULL,
    prompt_version TEXT NOT NULL, created_at REAL NOT NULL)
"""


class Description(BaseModel):
    """A generated item description with provenance."""

    item_id: str
    text: str
    writer: Literal["llm", "template"]
    grounded: bool = Field(description="Passed the grounding guard (an LLM text stored after failing is marked False).")
    attempts: int
    reasons: list[str] = Field(default_factory=list)
    backend: str
    model: str
    prompt_version: str
    created_at: float = Field(description="Unix seconds.")


class DescriptionStore:
    """The ``item_descriptions`` table of the workspace store (its SQLite file or the PostgreSQL database).

    Args:
        target: SQLite file (``Workspace.store_path``) or a ``postgresql://`` URL (``Workspace.store_target``).
    """

    def __init__(self, target: str | Path) -> None:
        self._db = Database(target)
        self.path = self._db.path
        self._lock = self._db.lock
        self._db.create(_SCHEMA, _SCHEMA.replace("REAL", "DOUBLE PRECISION"))

    def put(self, d: Description) -> None:
        """Insert or replace one description (committed on return)."""
        row = (d.item_id, d.text, d.writer, int(d.grounded), d.attempts, json.dumps(d.reasons), d.backend, d.model,
               d.prompt_version, d.created_at)  # fmt: skip
        with self._db.tx() as c:
            c.execute(
                "INSERT INTO item_descriptions VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(item_id) DO UPDATE SET "
                + ", ".join(f"{k}=excluded.{k}" for k in _KEYS[1:]),
                row,
            )

    def get(self, item_id: str) -> Description | None:
        r = self._db.execute(f"SELECT {', '.join(_KEYS)} FROM item_descriptions WHERE item_id=?", (item_id,)).fetchone()
        return _row(r) if r else None

    def all(self) -> list[Description]:
        rows = self._db.execute(f"SELECT {', '.join(_KEYS)} FROM item_descriptions ORDER BY created_at, item_id")
        return [_row(r) for r in rows.fetchall()]

    def done_ids(self, prompt_version: str | None = None) -> set[str]:
        """Item ids described (with ``prompt_version`` when given)."""
        q, args = "SELECT item_id FROM item_descriptions", ()
        if prompt_version is not None:
            q, args = q + " WHERE prompt_version=?", (prompt_version,)  # type: ignore[assignment]
        return {r[0] for r in self._db.execute(q, args).fetchall()}

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> DescriptionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_KEYS = ("item_id", "text", "writer", "grounded", "attempts", "reasons", "backend", "model", "prompt_version",
         "created_at")  # fmt: skip


def _row(r: tuple) -> Description:
    d = dict(zip(_KEYS, r, strict=True))
    d["grounded"] = bool(d["grounded"])
    d["reasons"] = json.loads(d["reasons"])
    return Description(**d)


class Describer:
    """Writes grounded item descriptions (see module docs).

    Args:
        llm: The chat model; None writes templates only.
        cfg: Limits and backend name.
        catalog_titles: Every catalog title (naming another title fails the guard).
        style: Prompt style; default from the backend.
    """

    def __init__(
        self,
        llm: BaseChatModel | None,
        cfg: LLMConfig | None = None,
        *,
        catalog_titles: Iterable[str] = (),
        style: str | None = None,
    ) -> None:
        self.llm = llm
        self.cfg = cfg or LLMConfig()
        self.prompt: Prompt = load_prompt("describe", style or prompt_style(self.cfg))
        self.guard = GroundingGuard(catalog_titles, max_sentences=2)

    @property
    def version(self) -> str:
        return self.prompt.version

    def describe(self, item: Item) -> Description:
        """Describe one item; never raises for LLM failures."""
        facts = description_facts(item)
        reasons: list[str] = []
        attempts = 0
        last: str | None = None
        backend = self.cfg.backend if self.llm is not None else "none"
        model = model_label(self.llm) if self.llm is not None else "none"
        if self.llm is not None:
            msgs = self.prompt.messages(facts=facts_line(item))
            for attempt in range(1 + self.cfg.grounding_retries):
                attempts += 1
                llm = self.llm
                if attempt and "temperature" in type(llm).model_fields:
                    llm = llm.model_copy(update={"temperature": 0.7})
                try:
                    text = " ".join(
                        complete(llm, msgs, timeout_s=self.cfg.timeout_s, stop=list(self.prompt.stop)).split()
                    )
                except LLMError as e:
                    reasons.append(f"{type(e).__name__}: {e}")
                    break
                verdict = self.guard.check(text, facts)
                if verdict.ok:
                    return Description(item_id=item.item_id, text=text, writer="llm", grounded=True, attempts=attempts,
                                       reasons=reasons, backend=backend, model=model,
                                       prompt_version=self.prompt.version, created_at=time.time())  # fmt: skip
                reasons.extend(verdict.reasons)
                last = text
        if last:
            return Description(item_id=item.item_id, text=last, writer="llm", grounded=False, attempts=attempts,
                               reasons=reasons, backend=backend, model=model, prompt_version=self.prompt.version,
                               created_at=time.time())  # fmt: skip
        return Description(item_id=item.item_id, text=template_description(item), writer="template", grounded=True,
                           attempts=attempts, reasons=reasons, backend=backend, model=model,
                           prompt_version=self.prompt.version, created_at=time.time())  # fmt: skip

    def run(
        self,
        items: Iterable[Item],
        store: DescriptionStore,
        *,
        force: bool = False,
        progress: Callable[[int, int, Description], None] | None = None,
    ) -> list[Description]:
        """Describe ``items`` and store each as soon as it is done (resumable).

        Items already stored with this prompt version are skipped unless ``force``. An interrupt
        loses at most the item in progress.

        Returns:
            The descriptions written in this run.
        """
        items = list(items)
        done = set() if force else store.done_ids(self.prompt.version)
        todo = [it for it in items if it.item_id not in done]
        out: list[Description] = []
        for i, it in enumerate(todo):
            d = self.describe(it)
            store.put(d)
            out.append(d)
            if progress is not None:
                progress(i + 1, len(todo), d)
        return out
