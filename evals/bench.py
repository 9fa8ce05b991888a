"""Benchmarks that print figures: chat-turn latency and full-ranking evaluation time against the
physical floor (anchors.md). Wall-clock figures only; nothing here asserts a time.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

CHAT_SCRIPT = (
    "I'd like a sci-fi movie from the 80s",
    "no horror",
    "why the second one?",
    "something like Star Wars",
    "a comedy from the 90s",
    "more like number 3",
)


def _pct(values: Sequence[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=np.float64)
    return {"p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)), "mean": float(a.mean())}


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (None where the platform has none), printed next to figures."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def play_turn(recommender: Any, session_id: str, message: str, user_id: str | None) -> dict[str, Any]:
    """One turn through :meth:`Recommender.stream`: seconds to the first text, the cards and the whole reply."""
    t0 = time.perf_counter()
    t_text = t_cards = None
    reply = None
    for event in recommender.stream(session_id, message, user_id=user_id):
        now = time.perf_counter() - t0
        if t_text is None and event.kind == "text" and event.text.strip():
            t_text = now
        if t_cards is None and event.kind == "cards":
            t_cards = now
        if event.kind == "reply":
            reply = event.reply
    whole = time.perf_counter() - t0
    cards = reply.cards if reply is not None else []
    return {
        "first_text_s": t_text if t_text is not None else whole,
        "first_card_s": t_cards if t_cards is not None else (whole if cards else None),
        "whole_s": whole,
        "cards": len(cards),
        "llm_cards": sum(c.writer == "llm" for c in cards),
    }


def _summary(turns: list[dict[str, Any]]) -> dict[str, Any]:
    firsts = [t["first_card_s"] for t in turns if t["first_card_s"] is not None]
    return {
        "turns": len(turns),
        "first_text_s": _pct([t["first_text_s"] for t in turns]),
        "first_card_s": _pct(firsts) if firsts else None,
        "whole_turn_s": _pct([t["whole_s"] for t in turns]),
        "cards": sum(t["cards"] for t in turns),
        "llm_written_cards": sum(t["llm_cards"] for t in turns),
    }


@contextmanager
def templates_only(recommender: Any) -> Iterator[None]:
    """Turns inside use template explanations only (the LLM is set aside, then put back)."""
    from agent.describe import Describer
    from agent.writer import ExplanationWriter

    e = recommender.engine
    saved = e.writer, e.describer, e.llm
    titles = [it.title for it in e.dataset.items]
    e.writer = ExplanationWriter(None, e.config.llm, catalog=e.dataset.items)
    e.describer = Describer(None, e.config.llm, catalog_titles=titles)
    e.llm = None
    try:
        yield
    finally:
        e.writer, e.describer, e.llm = saved


def _sessions(recommender: Any, sessions: int, script: Sequence[str], user_id: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for _ in range(sessions):
        sid = f"bench-{uuid.uuid4().hex[:10]}"
        out.extend(play_turn(recommender, sid, msg, user_id) for msg in script)
    return out


def bench_chat(
    recommender: Any, *, sessions: int = 3, script: Sequence[str] = CHAT_SCRIPT, user_id: str = "196"
) -> dict[str, Any]:
    """Time chat turns through :meth:`Recommender.stream`: first text, first card and whole turn.

    One warm-up turn runs first (not counted). Each session plays ``script`` once. With an LLM the
    same sessions run again with templates only, and the ratio of the two whole-turn p50s is given.
    """
    play_turn(recommender, f"bench-warm-{uuid.uuid4().hex[:8]}", script[0], user_id)
    res = _summary(_sessions(recommender, sessions, script, user_id))
    res["load_average"] = load_average()
    res["targets"] = {"first_card_p50_s": 0.5, "whole_turn_p50_s": 2.5, "whole_turn_p95_s": 4.0}
    if recommender.engine.llm is not None:
        with templates_only(recommender):
            tmpl = _summary(_sessions(recommender, sessions, script, user_id))
        tmpl["load_average"] = load_average()
        res["templates_only"] = tmpl
        res["llm_to_template_p50_ratio"] = res["whole_turn_s"]["p50"] / max(tmpl["whole_turn_s"]["p50"], 1e-9)
    return res


def _level(recommender: Any, level: int, script: Sequence[str], user_id: str) -> dict[str, Any]:
    """``level`` sessions at once, each playing ``script`` on its own thread."""
    turns: list[dict[str, Any]] = []
    guard = threading.Lock()

    def session() -> None:
        sid = f"bench-c{level}-{uuid.uuid4().hex[:10]}"
        for msg in script:
            t = play_turn(recommender, sid, msg, user_id)
            with guard:
                turns.append(t)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=level, thread_name_prefix="bench-session") as pool:
        for f in [pool.submit(session) for _ in range(level)]:
            f.result()
    wall = time.perf_counter() - t0
    out = _summary(turns)
    out.update({"sessions": level, "wall_s": wall, "turns_per_s": len(turns) / wall, "load_average": load_average()})
    return out


def bench_chat_concurrency(
    recommender: Any,
    levels: Sequence[int] = (1, 4, 8),
    *,
    script: Sequence[str] = CHAT_SCRIPT[:3],
    user_id: str = "196",
    llm: bool = True,
) -> dict[str, Any]:
    """Turns per second and latency with ``level`` sessions chatting at once, per level.

    Each level runs ``level`` sessions on their own threads, each playing ``script`` (as HTTP
    requests would through the server's turn pool). With ``llm`` and a recommender that has one,
    every level runs with LLM text and again with templates only; the ratio of the whole-turn p50s
    shows what the LLM costs per turn, and turns/s per core what the machine carries.
    """
    play_turn(recommender, f"bench-warm-{uuid.uuid4().hex[:8]}", script[0], user_id)
    cores = os.cpu_count() or 1
    modes = ["llm", "templates"] if llm and recommender.engine.llm is not None else ["templates"]
    res: dict[str, Any] = {"levels": list(levels), "cores": cores, "script_turns": len(script), "modes": {}}
    for mode in modes:
        rows = {}
        for level in levels:
            if mode == "llm":
                rows[str(level)] = _level(recommender, level, script, user_id)
            else:
                with templates_only(recommender):
                    rows[str(level)] = _level(recommender, level, script, user_id)
            rows[str(level)]["turns_per_s_per_core"] = rows[str(level)]["turns_per_s"] / cores
        res["modes"][mode] = rows
    if len(modes) == 2:
        res["llm_to_template_p50_ratio"] = {
            str(lv): res["modes"]["llm"][str(lv)]["whole_turn_s"]["p50"]
            / max(res["modes"]["templates"][str(lv)]["whole_turn_s"]["p50"], 1e-9)
            for lv in levels
        }
    return res


def bench_eval(dataset: Any, split: Any, rankers: dict[str, Any], *, repeats: int = 5) -> dict[str, Any]:
    """Full-ranking evaluation pass time per ranker, next to the physical floor.

    The floor is a 64-d dot product of every evaluated user against every item, then top-k and
    metrics, on precomputed random factors: the least work any full-ranking pass must do.
    """
    from evals.metrics import full_ranking_metrics
    from evals.ranking import history_profiles, time_evaluation

    evalset = history_profiles(dataset, split, "test")
    n_users = len(evalset.profiles)
    rng = np.random.default_rng(0)
    u = rng.standard_normal((n_users, 64)).astype(np.float32)
    v = rng.standard_normal((dataset.n_items, 64)).astype(np.float32)
    targets = evalset.targets
    times = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        scores = u @ v.T
        full_ranking_metrics(scores, targets, (5, 10, 20))
        times.append(time.perf_counter() - t0)
    out: dict[str, Any] = {
        "users": n_users,
        "items": dataset.n_items,
        "floor_64d_s": float(np.median(times[1:])),
        "anchor_floor_s": 0.010,
    }
    for name, ranker in rankers.items():
        out[f"{name}_s"] = time_evaluation(ranker, evalset, repeats=repeats)
    return out


def bench_startup(
    source_home: Path,
    *,
    reuse: Sequence[str] = (),
    llm: bool = True,
    message: str = "a comedy from the 90s",
    user_id: str = "196",
    timeout_s: float = 1800.0,
    progress: Any = None,
) -> dict[str, Any]:
    """Seconds from ``trustrec serve`` to ``/healthz``, to the first chat answer and to ``/readyz``.

    A new workspace gets a copy of ``source_home/data`` (what ``make setup`` leaves: the prepared
    dataset) and links to the ``reuse`` folders of ``source_home`` (e.g. ``models``, ``index``,
    ``cache``: what counts as already cached). ``trustrec serve`` starts there on a free port; the
    first chat is sent as soon as ``/healthz`` answers, a second one once ``/readyz`` says the
    background warm-up is done. The server is stopped and the workspace removed afterwards.

    Raises:
        TimeoutError: A step did not finish within ``timeout_s`` of the start.
        RuntimeError: The server exited early (its last output is in the message).
    """
    import shutil
    import socket
    import subprocess
    import sys
    import tempfile

    import httpx

    say = progress or (lambda _m: None)
    home = Path(tempfile.mkdtemp(prefix="trustrec-startup-"))
    log = home.parent / f"{home.name}.log"
    shutil.copytree(Path(source_home) / "data", home / "data")
    for name in reuse:
        (home / name).symlink_to((Path(source_home) / name).resolve(), target_is_directory=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "ui.cli", "serve", "--port", str(port), *([] if llm else ["--no-llm"])]
    env = {**os.environ, "TRUSTREC_HOME": str(home), "TRUSTREC_SERVER__AUTH__MODE": "none"}
    out: dict[str, Any] = {"reused": list(reuse), "llm": llm, "load_average_start": load_average()}
    t0 = time.perf_counter()
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT)
    try:

        def wait_for(path: str, ok: int = 200) -> float:
            while True:
                if proc.poll() is not None:
                    tail = log.read_text()[-2000:]
                    raise RuntimeError(f"trustrec serve exited with {proc.returncode}:\n{tail}")
                if time.perf_counter() - t0 > timeout_s:
                    raise TimeoutError(f"{path} did not answer {ok} within {timeout_s:.0f} s")
                try:
                    if httpx.get(url + path, timeout=5).status_code == ok:
                        return time.perf_counter() - t0
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)

        def chat() -> tuple[float, dict[str, Any]]:
            left = max(1.0, timeout_s - (time.perf_counter() - t0))
            r = httpx.post(url + "/v1/chat", json={"message": message, "user_id": user_id}, timeout=left)
            r.raise_for_status()
            return time.perf_counter() - t0, r.json()

        out["healthz_s"] = wait_for("/healthz")
        say(f"/healthz answered {out['healthz_s']:.1f} s after start")
        out["first_answer_s"], first = chat()
        out["first_answer_writers"] = [c["writer"] for c in first["cards"]]
        out["first_answer_notes"] = first["notes"]
        say(f"first chat answer {out['first_answer_s']:.1f} s after start ({out['first_answer_writers']})")
        out["readyz_s"] = wait_for("/readyz")
        say(f"/readyz answered 200 {out['readyz_s']:.1f} s after start")
        t_ready_chat = time.perf_counter()
        _, after = chat()
        out["answer_after_ready_s"] = time.perf_counter() - t_ready_chat
        out["after_ready_writers"] = [c["writer"] for c in after["cards"]]
        out["load_average_end"] = load_average()
        out["server_log_tail"] = log.read_text()[-3000:]
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)
        shutil.rmtree(home, ignore_errors=True)
        log.unlink(missing_ok=True)
    return out
