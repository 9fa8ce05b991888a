"""Checkpoints: tensors in safetensors, everything else in JSON. Never pickle.

A checkpoint folder holds ``model.safetensors`` (network, fine-tuned LM layers, item text vectors,
item features) and ``meta.json`` (config, ablation, head, training metadata); a resumable run adds
``train-state.safetensors`` + ``train-state.json`` (optimiser moments, epoch, early-stopping state).
Files are written to a temporary name and renamed, so an interrupted save never corrupts a checkpoint.
Both files carry the same random ``save_id``; a reader that catches a folder between the two renames
(weights new, meta old) sees the ids differ and reads again, so it never pairs a model with the
wrong metadata while another process retrains into the folder.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ranker.config import RankerConfig
from ranker.features import ItemFeatures
from ranker.model import JointRanker

FORMAT_VERSION = 1
_OPTIONAL_NET_KEYS = {"last.weight"}


def _atomic_tensors(tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str] | None = None) -> None:
    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.detach().cpu().clone().contiguous() for k, v in tensors.items()}, str(tmp), metadata=metadata)
    tmp.replace(path)


def _atomic_json(obj: Any, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=float) + "\n")
    tmp.replace(path)


def save_model(
    model: JointRanker,
    folder: Path,
    *,
    lm_state: dict[str, torch.Tensor] | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` (and the LM's trainable layers, when given) to ``folder``. Returns the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {f"net.{k}": v for k, v in model.net.state_dict().items()}
    for k, arr in model.features.arrays().items():
        tensors[f"feat.{k}"] = torch.from_numpy(np.ascontiguousarray(arr))
    tensors["year_bucket"] = torch.from_numpy(model.year_bucket)
    tensors["item_mask"] = torch.from_numpy(model.item_mask.astype(np.uint8))
    if model.text_vecs is not None:
        tensors["text_vecs"] = model.text_vecs
    for k, v in (lm_state or {}).items():
        tensors[f"lm.{k}"] = v
    save_id = uuid.uuid4().hex
    _atomic_tensors(tensors, folder / "model.safetensors", {"save_id": save_id})
    _atomic_json(
        {"format": FORMAT_VERSION, **model.metadata(), **(extra or {}), "save_id": save_id}, folder / "meta.json"
    )
    return folder


def load_model(folder: Path) -> tuple[JointRanker, dict[str, torch.Tensor], dict[str, Any]]:
    """Read a model saved by :func:`save_model`.

    Returns:
        ``(model, lm_state, meta)``: the ranker, the LM's trainable-layer weights (empty for id-only)
        and the JSON metadata.

    Raises:
        FileNotFoundError: No checkpoint in ``folder``; run ``trustrec train`` first.
    """
    wfile, mfile = folder / "model.safetensors", folder / "meta.json"
    if not wfile.is_file() or not mfile.is_file():
        raise FileNotFoundError(f"no ranker checkpoint in {folder}; run `trustrec train` first")
    meta, t = _read_pair(wfile, mfile)
    if meta.get("format") != FORMAT_VERSION:
        raise ValueError(f"checkpoint {folder} has format {meta.get('format')}, expected {FORMAT_VERSION}; retrain")
    features = ItemFeatures.from_arrays({k[5:]: v.numpy() for k, v in t.items() if k.startswith("feat.")})
    model = JointRanker(
        RankerConfig(**meta["config"]), n_users=int(meta["n_users"]), features=features,
        year_bucket=t["year_bucket"].numpy(), text_vecs=t["text_vecs"].numpy() if "text_vecs" in t else None,
        ablation=meta["ablation"], protocol=meta["protocol"], item_mask=t["item_mask"].numpy().astype(bool),
    )  # fmt: skip
    missing, unexpected = model.net.load_state_dict(
        {k[4:]: v for k, v in t.items() if k.startswith("net.")}, strict=False
    )
    # modules added after a checkpoint was written (zero-initialised, so they do not change its scores)
    if unexpected or set(missing) - _OPTIONAL_NET_KEYS:
        raise ValueError(f"checkpoint {folder} does not match the network ({missing=}, {unexpected=}); retrain")
    model.head = {k: float(v) for k, v in meta["head"].items()}
    model.scales.update({k: float(v) for k, v in meta["scales"].items()})
    model.invalidate()
    lm_state = {k[3:]: v for k, v in t.items() if k.startswith("lm.")}
    return model, lm_state, meta


def _read_pair(wfile: Path, mfile: Path, tries: int = 50) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Metadata and tensors written by the same :func:`save_model` call (retried while a save is mid-way)."""
    from safetensors import safe_open

    for _ in range(tries):
        meta = json.loads(mfile.read_text())
        with safe_open(str(wfile), framework="pt") as fh:
            wid = (fh.metadata() or {}).get("save_id")
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118 - safe_open is not a mapping
        if wid == meta.get("save_id"):  # both None for checkpoints older than save ids
            return meta, tensors
        time.sleep(0.1)
    raise RuntimeError(f"{wfile.parent}: weights and meta.json keep disagreeing (a save in progress?); try again")


def save_train_state(folder: Path, optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """Optimiser moments (safetensors) and JSON training state (epoch, best metric, history)."""
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    for pid, st in sd["state"].items():
        for name, v in st.items():
            tensors[f"opt.{pid}.{name}"] = v if isinstance(v, torch.Tensor) else torch.tensor(v)
    _atomic_tensors(tensors or {"empty": torch.zeros(1)}, folder / "train-state.safetensors")
    _atomic_json({"param_groups": sd["param_groups"], **state}, folder / "train-state.json")


def load_train_state(folder: Path, optimizer: torch.optim.Optimizer) -> dict[str, Any] | None:
    """Restore optimiser moments into ``optimizer``; returns the JSON state, or None when absent."""
    tfile, jfile = folder / "train-state.safetensors", folder / "train-state.json"
    if not tfile.is_file() or not jfile.is_file():
        return None
    state = json.loads(jfile.read_text())
    t = load_file(str(tfile))
    opt_state: dict[int, dict[str, torch.Tensor]] = {}
    for k, v in t.items():
        if not k.startswith("opt."):
            continue
        _, pid, name = k.split(".", 2)
        opt_state.setdefault(int(pid), {})[name] = v
    groups = state.pop("param_groups")
    for g in groups:
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
    optimizer.load_state_dict({"state": opt_state, "param_groups": groups})
    return state
