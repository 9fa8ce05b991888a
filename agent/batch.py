"""Batch recommend + explain for many users, on Ray Data or in this process, stored for the online path.

:func:`run_batch` computes, for every chosen user, the list the online path would show a known user who
asks for recommendations with nothing else said (default length and diversity, no constraints): the
top-n, SHAP attributions, the trust report and the template explanation (with ``llm``, every item's text
written by the configured LLM and checked as online). Ray Data runs it with
``map_batches`` over an actor pool; each actor (:class:`BatchExplainer`) holds the ranker, the
explainer and the calibrator once. Results go to :class:`BatchStore` (the workspace store: SQLite or
PostgreSQL), one row per ``(user, item, model version, prompt version)``:

- resumable: a user whose stored list has the current versions and the same profile (a hash of the
  history the ranker saw) is skipped; a stopped run keeps every batch it committed;
- retried without duplicates: an actor that dies is restarted and its batch run again (Ray's
  ``max_restarts`` / ``max_task_retries``); each user's rows are replaced in one transaction, keyed as
  above, so a batch written twice is stored once.

The online path (:meth:`agent.engine.Engine.rank`) reads a stored list when the request is the batch's
and the profile and versions match, and marks its cards ``source = "batch"``; otherwise it computes
live (``source = "live"``). A stored LLM text is shown when it is the online writer's (same prompt and
model: the prompt version ``explain-chat/1@<model>``) and passes the grounding guard and the claim
checker again; else the card's text is written live.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from catalog.errors import BadInput, StoreUnavailable
from catalog.store import Database
from ranker.base import Profile, recommend
from ranker.evidence import Evidence

Engine = Literal["local", "ray"]
ENGINES: tuple[str, ...] = ("local", "ray")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batch_lists (
    user_id TEXT NOT NULL, model_version TEXT NOT NULL, prompt_version TEXT NOT NULL, profile_hash TEXT NOT NULL,
    n INTEGER NOT NULL, list_report TEXT, created_at REAL NOT NULL,
    PRIMARY KEY (user_id, model_version, prompt_version));
CREATE TABLE IF NOT EXISTS batch_items (
    user_id TEXT NOT NULL, item_id TEXT NOT NULL, model_version TEXT NOT NULL, prompt_version TEXT NOT NULL,
    position INTEGER NOT NULL, score REAL NOT NULL, evidence TEXT, explanation TEXT, grounded INTEGER, writer TEXT,
    PRIMARY KEY (user_id, item_id, model_version, prompt_version))
"""
_TABLES = ("batch_lists", "batch_items")
_ADDED: dict[str, tuple[tuple[str, str], ...]] = {
    "batch_items": (("writer", "TEXT"),)
}  # columns newer than the first stores: added on open


def profile_hash(profile: Profile) -> str:
    """A SHA-256 of everything of a profile the ranker and explainer read (history, weights, exclusions, user)."""
    h = hashlib.sha256()
    for arr, dtype in ((profile.history, np.int64), (profile.weights, np.float32), (profile.exclude, np.int64)):
        h.update(b"|" + np.ascontiguousarray(np.asarray(arr, dtype=dtype)).tobytes())
    h.update(f"|{profile.user_idx}|{profile.regime_size}".encode())
    return h.hexdigest()


def plain_request(config: Any) -> tuple[int, float]:
    """``(n, mmr_lambda)`` of a recommendation asked for with nothing else said: the batch's request."""
    diversity = config.agent.understand.default_diversity
    return int(config.agent.default_n), 1.0 - 0.5 * diversity


def known_user_profile(history: np.ndarray, user_idx: int) -> Profile:
    """A known user's profile with nothing said this session (as :meth:`agent.engine.Engine.profile` builds it)."""
    h = np.asarray(history, dtype=np.int64)
    return Profile(h, np.ones(h.size, dtype=np.float32), user_idx=user_idx, exclude=np.zeros(0, dtype=np.int64))


@dataclass
class StoredList:
    """A user's stored batch list (evidence in list order)."""

    user_id: str
    model_version: str
    prompt_version: str
    profile_hash: str
    evidence: list[Evidence]
    explanations: list[str]
    list_report: dict[str, Any] | None
    created_at: float
    writers: list[str] = field(default_factory=list)  # per item: 'llm', 'template' or '' (not explained)


class BatchStore:
    """The ``batch_lists`` and ``batch_items`` tables of the workspace store (SQLite or PostgreSQL).

    Args:
        target: SQLite file or ``postgresql://`` URL (``Workspace.store_target``).
    """

    def __init__(self, target: str | Path) -> None:
        self._db = Database(target)
        self._db.create(_SCHEMA, _SCHEMA.replace("REAL", "DOUBLE PRECISION"),
                        private={"batch_lists": ("user_id",), "batch_items": ("user_id",)}, added=_ADDED)  # fmt: skip

    def current(self, model_version: str, prompt_version: str) -> dict[str, str]:
        """``user_id -> profile_hash`` of the lists stored with these versions."""
        rows = self._db.execute(
            "SELECT user_id, profile_hash FROM batch_lists WHERE model_version=? AND prompt_version=?",
            (model_version, prompt_version),
        ).fetchall()
        return {str(u): str(h) for u, h in rows}

    def put(self, rows: Sequence[dict[str, Any]]) -> int:
        """Store users' lists (rows as :class:`BatchExplainer` returns them), replacing each user's earlier
        list with the same versions, in one transaction. Returns the number of users written."""
        by_user: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        for r in rows:
            by_user.setdefault((str(r["user_id"]), str(r["model_version"]), str(r["prompt_version"])), []).append(r)
        now = time.time()
        with self._db.tx() as c:
            for (uid, mv, pv), items in by_user.items():
                c.execute(
                    "DELETE FROM batch_items WHERE user_id=? AND model_version=? AND prompt_version=?", (uid, mv, pv)
                )
                c.executemany(
                    "INSERT INTO batch_items(user_id,item_id,model_version,prompt_version,position,score,evidence,"
                    "explanation,grounded,writer) VALUES(?,?,?,?,?,?,?,?,?,?)",
                    [
                        (uid, str(r["item_id"]), mv, pv, int(r["position"]), float(r["score"]), r["evidence"] or None,
                         r["explanation"] or None, None if r["grounded"] < 0 else int(r["grounded"]),
                         r.get("writer") or None)
                        for r in items if r["item_id"]
                    ],
                )  # fmt: skip
                first = items[0]
                c.execute(
                    "INSERT INTO batch_lists(user_id,model_version,prompt_version,profile_hash,n,list_report,created_at) "
                    "VALUES(?,?,?,?,?,?,?) ON CONFLICT(user_id,model_version,prompt_version) DO UPDATE SET "
                    "profile_hash=excluded.profile_hash, n=excluded.n, list_report=excluded.list_report, "
                    "created_at=excluded.created_at",
                    (uid, mv, pv, str(first["profile_hash"]), int(first["n"]), first["list_report"] or None, now),
                )
        return len(by_user)

    def get(self, user_id: str, model_version: str, prompt_version: str) -> StoredList | None:
        """The user's stored list with these versions (with evidence only when it was explained), or None."""
        head = self._db.execute(
            "SELECT profile_hash, list_report, created_at FROM batch_lists WHERE user_id=? AND model_version=? "
            "AND prompt_version=?",
            (user_id, model_version, prompt_version),
        ).fetchone()
        if head is None:
            return None
        rows = self._db.execute(
            "SELECT evidence, explanation, writer FROM batch_items WHERE user_id=? AND model_version=? "
            "AND prompt_version=? ORDER BY position",
            (user_id, model_version, prompt_version),
        ).fetchall()
        evidence = [Evidence.model_validate_json(e) for e, _x, _w in rows if e]
        return StoredList(
            user_id, model_version, prompt_version, str(head[0]), evidence, [x or "" for _e, x, _w in rows],
            json.loads(head[1]) if head[1] else None, float(head[2]),
            [w or ("template" if x else "") for _e, x, w in rows],
        )  # fmt: skip

    def counts(self) -> dict[str, int]:
        return {t: int(self._db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in _TABLES}

    def duplicates(self) -> int:
        """Rows that share ``(user, item, model version, prompt version)`` (0 by construction; the tests check)."""
        row = self._db.execute(
            "SELECT COUNT(*) FROM (SELECT 1 FROM batch_items GROUP BY user_id, item_id, model_version, prompt_version "
            "HAVING COUNT(*) > 1) AS d"
        ).fetchone()
        return int(row[0])

    def delete_user(self, user_id: str) -> int:
        """Erase a user's stored lists (every version) and scrub them from the files; returns rows deleted."""
        with self._db.tx() as c:
            n = c.execute("DELETE FROM batch_items WHERE user_id=?", (user_id,)).rowcount
            n += c.execute("DELETE FROM batch_lists WHERE user_id=?", (user_id,)).rowcount
        if n:
            self._db.scrub(_TABLES)
        return n

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> BatchStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ------------------------------------------------------------------------------------------ the actor
class BatchExplainer:
    """What one Ray Data actor (or the local engine) holds: the ranker, explainer and calibrator, loaded once.

    Called with a batch ``{"user_id": array}``, returns one row per recommended item (columns: user_id,
    item_id, position, score, evidence JSON, explanation, grounded, writer, profile_hash, n, list_report,
    model_version, prompt_version, failed, seconds); a user with nothing to recommend gets one row with an
    empty item_id, and so does a user whose LLM texts could not be had (``failed`` 1: not stored).

    Args:
        config: The system config as a dict (``TrustrecConfig.model_dump``); it travels to Ray workers.
        explain: Attributions, trust and template text (else the ranked list and scores only).
        llm: Every item's text written by the configured LLM (``[llm]``: the embedded model or an
            OpenAI-compatible endpoint such as vLLM), checked by the grounding guard and the claim checker
            as online (a text failing them is regenerated, then the template's is stored); implies ``explain``.
        llm_threads: CPU threads of the embedded model in this actor (None: the config's).
        llm_retries: Tries again, with a pause of 1, 2, 4 ... s, for texts whose LLM call failed (unreachable,
            timeout, busy) before the user is given up for this run (``failed``; a rerun computes them).
        crash_marker: Test hook at the process edge: when this file exists, the first actor to see it
            removes it and exits the process without cleanup (as a killed worker would).
    """

    def __init__(
        self,
        config: dict[str, Any],
        explain: bool = True,
        crash_marker: str | None = None,
        *,
        llm: bool = False,
        llm_threads: int | None = None,
        llm_retries: int = 2,
    ) -> None:
        import torch

        from agent.config import TrustrecConfig
        from agent.writer import ExplanationWriter
        from catalog import load_dataset
        from catalog.privacy import apply_tombstones
        from catalog.splits import user_histories
        from ranker.stack import build_stack

        torch.set_num_threads(1)  # one CPU per actor: N actors use N cores, not N x all of them
        cfg = TrustrecConfig(**config)
        ws = cfg.workspace()
        ds = load_dataset(cfg.data, ws)
        ds, _gone = apply_tombstones(ds, ws.store_target)
        self.stack = build_stack(cfg, protocol=cfg.agent.protocol, model="joint", train=False, dataset=ds)
        self.dataset = ds
        self.histories = user_histories(ds.interactions, ds.n_users, by_time=True)
        self.explain = explain or llm
        self.explainer = self.stack.explainer() if self.explain else None
        if self.explainer is not None:  # shap's kernels: compiled once (disk cache), before the first user
            from ranker.jit_cache import enable_shap_jit_cache

            enable_shap_jit_cache(ws.cache / "numba")
            warm = next((h for h in self.stack.split.histories("train") if h.size), None)
            if warm is not None:
                self.explainer(Profile(warm[-30:]), 3)
        chat_model = None
        if llm:
            from agent.llm import make_chat_model

            llm_cfg = cfg.llm if llm_threads is None else cfg.llm.model_copy(update={"threads": llm_threads})
            chat_model = make_chat_model(llm_cfg, ws)
        self.writer = ExplanationWriter(chat_model, cfg.llm, catalog=ds.items)
        self.llm_retries = llm_retries
        self.n, self.mmr_lambda = plain_request(cfg)
        self.model_version = self.stack.version
        self.prompt_version = self.writer.version if self.explain else "none"
        self.crash_marker = crash_marker

    def _maybe_crash(self) -> None:
        if self.crash_marker and os.path.exists(self.crash_marker):
            try:
                os.remove(self.crash_marker)
            except FileNotFoundError:
                return  # another actor took it
            os._exit(17)

    def rows_for(self, user_id: str) -> list[dict[str, Any]]:
        t0 = time.perf_counter()
        rows = self._rows_for(user_id)
        rows[0]["seconds"] = time.perf_counter() - t0  # the user's compute time, on their first row only
        return rows

    def _rows_for(self, user_id: str) -> list[dict[str, Any]]:
        u = self.dataset.user_index.get(user_id)
        if u is None:
            raise BadInput(f"unknown user {user_id!r} in the batch's user list; ids are the dataset's")
        profile = known_user_profile(self.histories[u], u)
        base = {"user_id": user_id, "profile_hash": profile_hash(profile), "n": self.n, "seconds": 0.0,
                "model_version": self.model_version, "prompt_version": self.prompt_version, "failed": 0}  # fmt: skip
        empty = {**base, "item_id": "", "position": 0, "score": 0.0, "evidence": "", "explanation": "",
                 "grounded": -1, "writer": "", "list_report": ""}  # fmt: skip
        rows: list[dict[str, Any]] = []
        if self.explainer is not None:
            out = self.explainer(profile, self.n, candidates=None, mmr_lambda=self.mmr_lambda, user_id=user_id)
            report = "" if out.list_report is None else out.list_report.model_dump_json()
            texts = self._texts(out.items)
            if texts is None:
                return [{**empty, "failed": 1}]
            for pos, (ev, x) in enumerate(zip(out.items, texts, strict=True), start=1):
                rows.append({**base, "item_id": ev.item_id, "position": pos, "score": float(ev.score),
                             "evidence": ev.model_dump_json(), "explanation": x.text, "grounded": int(x.grounded),
                             "writer": x.writer, "list_report": report})  # fmt: skip
        else:
            recs = recommend(self.stack.ranker, profile, self.n)
            for pos, (i, s) in enumerate(zip(recs.item_idx, recs.scores, strict=True), start=1):
                rows.append({**empty, "item_id": self.dataset.items[int(i)].item_id, "position": pos,
                             "score": float(s)})  # fmt: skip
        return rows or [empty]

    def _texts(self, evidence: list[Evidence]) -> list[Any] | None:
        """Every item's explanation (the LLM's when configured); None when the LLM stayed unreachable."""
        if self.writer.llm is None:
            return [self.writer.template(ev) for ev in evidence]
        out = self.writer.write_many(evidence)
        for attempt in range(self.llm_retries):
            failed = [k for k, x in enumerate(out) if x.llm_failed]
            if not failed:
                break
            time.sleep(min(2.0**attempt, 8.0))
            for k, x in zip(failed, self.writer.write_many([evidence[k] for k in failed]), strict=True):
                out[k] = x
        return None if any(x.llm_failed for x in out) else out

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self._maybe_crash()
        rows = [r for uid in batch["user_id"] for r in self.rows_for(str(uid))]
        return {k: np.asarray([r[k] for r in rows]) for k in rows[0]} if rows else {}


# ------------------------------------------------------------------------------------------ the job
@dataclass
class BatchReport:
    """What a batch run did, and how fast."""

    engine: str
    workers: int
    users_asked: int
    users_skipped: int
    users_done: int
    explanations: int
    seconds: float
    model_version: str
    prompt_version: str
    startup_seconds: float = 0.0  # until the first results: Ray start, every actor loading the model
    steady_users_per_s: float = 0.0  # users/s after the first results (the pool at work)
    compute_seconds: float = 0.0  # summed over users: time in the ranker/explainer, start-up and transfer left out
    llm_texts: int = 0  # explanations the LLM wrote that passed the checks (the rest: the template's)
    users_failed: int = 0  # users whose LLM texts could not be had this run (not stored; a rerun computes them)
    notes: list[str] = field(default_factory=list)

    @property
    def users_per_s(self) -> float:
        return self.users_done / self.seconds if self.seconds > 0 else 0.0

    @property
    def explanations_per_s(self) -> float:
        return self.explanations / self.seconds if self.seconds > 0 else 0.0

    @property
    def llm_texts_per_s(self) -> float:
        return self.llm_texts / self.seconds if self.seconds > 0 else 0.0

    @property
    def actor_users_per_s(self) -> float:
        """One actor's rate while it computes (users over their summed compute time)."""
        return self.users_done / self.compute_seconds if self.compute_seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "users_per_s": round(self.users_per_s, 3),
                "explanations_per_s": round(self.explanations_per_s, 3),
                "llm_texts_per_s": round(self.llm_texts_per_s, 3),
                "actor_users_per_s": round(self.actor_users_per_s, 3)}  # fmt: skip


def read_users(spec: str, known: Iterable[str]) -> list[str]:
    """``all`` (every dataset user, dataset order) or a file with one user id per line (``#`` comments).

    Raises:
        MissingFile: The file does not exist.
        BadInput: A line names a user the dataset does not have (line number and id given).
    """
    from catalog.errors import MissingFile

    known_list = list(known)
    if spec == "all":
        return known_list
    path = Path(spec)
    if not path.is_file():
        raise MissingFile(f"--users {spec}: no such file; pass 'all' or a file with one user id per line")
    have = set(known_list)
    out: list[str] = []
    for no, line in enumerate(path.read_text().splitlines(), start=1):
        uid = line.split("#", 1)[0].strip()
        if not uid:
            continue
        if uid not in have:
            raise BadInput(f"{path}:{no}: unknown user id {uid!r}; the dataset's ids only (ml-100k: '1' to '943')")
        out.append(uid)
    return list(dict.fromkeys(out))


def _bar(total: int, progress: Callable[[int, int], None] | None) -> Callable[[int], None]:
    done = [0]

    def step(k: int) -> None:
        done[0] += k
        if progress is not None:
            progress(done[0], total)

    return step


def run_batch(
    config: Any,
    users: str = "all",
    *,
    engine: str = "ray",
    workers: int = 1,
    explain: bool = True,
    llm: bool = False,
    batch_size: int = 16,
    force: bool = False,
    max_retries: int = 2,
    crash_marker: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    say: Callable[[str], None] | None = None,
) -> BatchReport:
    """Compute and store the plain-request list of every chosen user (see the module docs).

    Args:
        config: The system config (``TrustrecConfig``).
        users: ``all`` or a file of user ids.
        engine: ``ray`` (Ray Data, ``workers`` actors; joins a running cluster when ``RAY_ADDRESS`` is set,
            else starts a local one with ``workers`` CPUs) or ``local`` (this process, no Ray).
        workers: Actors in the pool (one CPU each).
        explain: Attributions, trust and template text; False stores the ranked lists only.
        llm: The texts written by the configured LLM (see :class:`BatchExplainer`); implies ``explain``. At most
            one LLM request per actor is in flight (``workers`` in all); calls that fail are tried again
            ``max_retries`` times, then the user is left for the next run (``users_failed``).
        batch_size: Users per batch (per call of an actor, per store transaction).
        force: Recompute users whose stored list is current.
        max_retries: Restarts of a dead actor and retries of its batch.
        crash_marker: See :class:`BatchExplainer` (tests only).
        progress: Called with ``(users done, users to do)``.
        say: Called with one line per step.

    Raises:
        BadInput: Unknown engine, bad worker count or user id.
        StoreUnavailable: Ray is not installed (the ``scale`` extra).
    """
    from agent.writer import TEMPLATE_VERSION, stored_version
    from catalog import load_dataset
    from catalog.errors import ModelNotTrained
    from catalog.privacy import apply_tombstones
    from ranker.stack import model_version
    from ranker.train import model_folder

    if engine not in ENGINES:
        raise BadInput(f"--engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if not 1 <= workers <= 64:
        raise BadInput(f"--workers must be 1..64, not {workers}")
    if not 1 <= batch_size <= 1024:
        raise BadInput(f"--batch-size must be 1..1024, not {batch_size}")
    note = say or (lambda _m: None)
    ws = config.workspace()
    ds = load_dataset(config.data, ws)
    ds, gone = apply_tombstones(ds, ws.store_target)
    folder = model_folder(ws, config.agent.protocol)
    if not (folder / "model.safetensors").is_file():
        raise ModelNotTrained(
            f"no trained joint ranker in {folder}; run `trustrec train` first (batch jobs never train)"
        )
    version = model_version("joint", folder, ds)  # what the actors will load, without loading it here
    explain = explain or llm
    prompt_version = TEMPLATE_VERSION if explain else "none"
    llm_threads: int | None = None
    if llm:  # the key the actors' texts are stored under: the prompt and the model (built lazily: no load here)
        from agent.llm import make_chat_model
        from agent.llm.backends import prompt_style
        from agent.prompts import load_prompt

        prompt = load_prompt("explain", prompt_style(config.llm))
        prompt_version = stored_version(prompt.version, make_chat_model(config.llm, ws))
        if engine == "ray" and config.llm.threads is None:  # the cores shared out between the actors
            llm_threads = max(1, (os.cpu_count() or 1) // workers)
    chosen = [u for u in read_users(users, ds.user_index) if u not in gone]
    histories = None
    with BatchStore(ws.store_target) as store:
        todo = chosen
        if not force:
            from catalog.splits import user_histories

            histories = user_histories(ds.interactions, ds.n_users, by_time=True)
            have = store.current(version, prompt_version)
            todo = [
                u for u in chosen
                if have.get(u) != profile_hash(known_user_profile(histories[ds.user_index[u]], ds.user_index[u]))
            ]  # fmt: skip
        note(f"{len(chosen)} users asked, {len(chosen) - len(todo)} current (skipped), {len(todo)} to compute "
             f"(model {version}, prompt {prompt_version})")  # fmt: skip
        report = BatchReport(engine, workers, len(chosen), len(chosen) - len(todo), 0, 0, 0.0, version,
                             prompt_version)  # fmt: skip
        if not todo:
            return report
        cfg_dict = config.model_dump(mode="json")
        step = _bar(len(todo), progress)
        t0 = time.perf_counter()
        kwargs = {"config": cfg_dict, "explain": explain, "crash_marker": crash_marker, "llm": llm,
                  "llm_threads": llm_threads, "llm_retries": max_retries}  # fmt: skip
        batches = (
            _local_batches(kwargs, todo, batch_size, report)
            if engine == "local"
            else _ray_batches(kwargs, todo, batch_size, workers, max_retries, report)
        )
        first: tuple[float, int] | None = None
        for rows in batches:
            failed = {str(r["user_id"]) for r in rows if r["failed"]}
            report.users_failed += len(failed)
            rows = [r for r in rows if not r["failed"]]
            wrote = store.put(rows) if rows else 0
            report.users_done += wrote
            report.explanations += sum(1 for r in rows if r["explanation"])
            report.llm_texts += sum(1 for r in rows if r["writer"] == "llm")
            report.compute_seconds += sum(float(r["seconds"]) for r in rows)
            if first is None:  # start-up (loading the model in every actor) ends with the first results
                first = (time.perf_counter(), report.users_done)
                report.startup_seconds = first[0] - t0
            step(wrote + len(failed))
        end = time.perf_counter()
        report.seconds = end - t0
        if first is not None and end > first[0]:
            report.steady_users_per_s = (report.users_done - first[1]) / (end - first[0])
        if report.users_failed:
            report.notes.append(f"{report.users_failed} users not stored: the LLM stayed unreachable after "
                                f"{max_retries} retries; run the command again to compute them")  # fmt: skip
    return report


def _local_batches(
    kwargs: dict[str, Any], users: list[str], batch_size: int, report: BatchReport
) -> Iterator[list[dict[str, Any]]]:
    actor = BatchExplainer(**kwargs)
    if actor.model_version != report.model_version:
        raise BadInput(
            f"the model changed while the batch started ({report.model_version} -> {actor.model_version}); run it again"
        )
    for k in range(0, len(users), batch_size):
        yield [r for u in users[k : k + batch_size] for r in actor.rows_for(u)]


def _ray_batches(
    kwargs: dict[str, Any], users: list[str], batch_size: int, workers: int, max_retries: int, report: BatchReport
) -> Iterator[list[dict[str, Any]]]:
    try:
        import ray
    except ImportError as e:
        raise StoreUnavailable("--engine ray needs Ray: pip install 'trustrec[scale]' (or use --engine local)") from e
    if not ray.is_initialized():
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        if os.environ.get("RAY_ADDRESS"):
            ray.init(address=os.environ["RAY_ADDRESS"], log_to_driver=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    report.notes.append(f"ray {ray.__version__}, cluster CPUs {ray.cluster_resources().get('CPU', 0):g}")
    ds = ray.data.from_items([{"user_id": u} for u in users], override_num_blocks=max(1, -(-len(users) // batch_size)))
    out = ds.map_batches(
        BatchExplainer,
        fn_constructor_kwargs=kwargs,
        batch_size=batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=1,
        max_restarts=max_retries,
        max_task_retries=max_retries,
    )
    for batch in out.iter_batches(batch_size=None, batch_format="numpy"):
        keys = list(batch)
        n = len(batch[keys[0]]) if keys else 0
        yield [{k: _py(batch[k][i]) for k in keys} for i in range(n)]


def _py(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v
