"""The ranking stack, assembled in one place: dataset, split, ranker, calibrator, popularity, explainer.

The agent (:class:`agent.engine.Engine`), the CLI (``trustrec recommend``, ``eval explanations``,
``bench recommend``...) and the evaluation suite all build their ranker through
:func:`build_stack`, so the "trained joint model, else EASE" rule, the calibrator's location and the
new-user blend are decided once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

from catalog.behaviour import BehaviourWeights
from catalog.config import DataConfig, Workspace
from catalog.errors import BadInput, ModelNotTrained, UnknownUser
from catalog.splits import Split, user_histories, user_history_weights
from catalog.types import Dataset
from ranker.base import Profile, Ranker
from ranker.calibration import CalibrationConfig, Calibrator
from ranker.config import ColdStartConfig, RankerConfig

if TYPE_CHECKING:
    from ranker.explain import ExplainConfig, RecommendationExplainer

Progress = Callable[[str], None]
ModelChoice = Literal["auto", "joint", "ease"]
MODEL_CHOICES: tuple[str, ...] = ("auto", "joint", "ease")
PROTOCOLS: tuple[str, ...] = ("ro811", "loo")


class StackSettings(Protocol):
    """The parts of the system config the stack reads (``agent.config.TrustrecConfig`` has them)."""

    @property
    def seed(self) -> int: ...
    @property
    def data(self) -> DataConfig: ...
    @property
    def ranker(self) -> RankerConfig: ...
    @property
    def coldstart(self) -> ColdStartConfig: ...
    @property
    def calibration(self) -> CalibrationConfig: ...
    @property
    def explain(self) -> ExplainConfig: ...
    def workspace(self) -> Workspace: ...


@dataclass
class RankingStack:
    """Everything a ranked, explained list needs, built by :func:`build_stack`.

    Attributes:
        dataset, split: The data and the protocol's split.
        ranker: The ranker that serves (for the joint model: wrapped by the new-user blend when on).
        name: ``joint`` or the baseline's name.
        note: Why the model differs from the one asked for (``auto`` without a trained model), or None.
        calibrator: Maps scores to the probability of a held-out hit; None when not asked for.
        item_counts: Training interactions per item (popularity, novelty, the trust report).
        folder: The joint model's checkpoint folder, None for baselines.
        explain_config: SHAP, trust and diversity settings of the explainer.
        behaviour_weights: What each behaviour kind adds to a history entry's weight (the split's).
    """

    dataset: Dataset
    split: Split
    ranker: Ranker
    name: str
    note: str | None
    calibrator: Calibrator | None
    item_counts: np.ndarray
    folder: Path | None = None
    explain_config: Any = None
    behaviour_weights: BehaviourWeights | None = None
    _explainer: Any = field(default=None, repr=False)

    @property
    def checkpoint(self) -> Path | None:
        return None if self.folder is None else self.folder / "model.safetensors"

    @property
    def version(self) -> str:
        """The served model's version (see :func:`model_version`); stored results are keyed by it."""
        return model_version(self.name, self.folder, self.dataset)

    @property
    def additive(self) -> bool:
        """Whether the ranker declares its score additive in the history (exact attributions)."""
        return bool(getattr(self.ranker, "additive_in_history", False))

    def profile(self, user_id: str, history: str = "train") -> Profile:
        """A dataset user's profile: their ``train`` part of the split, or ``all`` their interactions (time order).

        Raises:
            UnknownUser: Not a user of the dataset.
            BadInput: ``history`` is neither ``train`` nor ``all``.
        """
        u = self.dataset.user_index.get(user_id)
        if u is None:
            raise UnknownUser(f"unknown user {user_id!r}; user ids are the dataset's (ml-100k: '1' to '943')")
        if history == "train":
            items, weights = self.split.histories("train")[u], self.split.weights("train")[u]
        elif history == "all":
            rows = self.dataset.interactions[self.dataset.interactions["user_idx"] == u]
            items = user_histories(rows, self.dataset.n_users, by_time=True)[u]
            weights = user_history_weights(rows, self.dataset.n_users, by_time=True, weights=self.behaviour_weights)[u]
        else:
            raise BadInput(f"--history must be train or all, got {history!r}")
        return Profile(items, weights, user_idx=u)

    def explainer(self) -> RecommendationExplainer:
        """The recommend + explain + trust pipeline over this stack (built once)."""
        if self._explainer is None:
            from ranker.explain import RecommendationExplainer

            if self.calibrator is None:
                raise BadInput("this stack was built without a calibrator (calibrate=False); trust needs one")
            self._explainer = RecommendationExplainer(
                self.ranker, self.dataset, self.calibrator, self.item_counts, self.explain_config
            )
        return self._explainer


def model_version(name: str, folder: Path | None, dataset: Dataset) -> str:
    """A model's version without loading it: its name and a SHA-256 of the files that decide its scores and
    confidences (checkpoint, calibrator, new-user blend); a baseline without files (EASE, refitted at
    load) is versioned by the data it is fitted on."""
    import hashlib

    h = hashlib.sha256(name.encode())
    if folder is not None:
        for f in (folder / "model.safetensors", folder / "calibration.json", folder / "coldstart.json"):
            if f.is_file():
                with f.open("rb") as fh:
                    while chunk := fh.read(1 << 20):
                        h.update(chunk)
    else:
        d = dataset
        h.update(f"{d.name}:{d.n_users}:{d.n_items}:{len(d.interactions)}".encode())
    return f"{name}-{h.hexdigest()[:16]}"


def _joint(
    ws: Workspace, ds: Dataset, split: Split, settings: StackSettings, train: bool, say: Progress, bars: bool
) -> Ranker:
    from ranker.train import ensure_trained, load_trained, model_folder

    folder = model_folder(ws, split.protocol)
    if train:
        if not (folder / "model.safetensors").is_file():
            say(f"training the joint ranker ({split.protocol}); this runs once and takes a few minutes")
        return ensure_trained(ws, ds, split, config=settings.ranker, seed=settings.seed, progress=bars)
    try:
        return load_trained(ws, split.protocol)
    except FileNotFoundError as e:
        raise ModelNotTrained(str(e)) from None


def calibrator_for(
    ws: Workspace,
    ranker: Ranker,
    name: str,
    split: Split,
    config: CalibrationConfig,
    *,
    folder: Path | None = None,
) -> tuple[Calibrator, bool, Path]:
    """The model's calibrator: loaded from next to its checkpoint (``folder``) or from the models
    folder (baselines), or fitted on validation data and saved there.

    Returns:
        ``(calibrator, fitted now, path)``.
    """
    from ranker.calibration import calibrator_path, ensure_calibrator

    checkpoint = None if folder is None else folder / "model.safetensors"
    path = calibrator_path(ws.models, name, split.protocol) if folder is None else folder / "calibration.json"
    cal, fitted = ensure_calibrator(ranker, split, path, config, checkpoint=checkpoint)
    return cal, fitted, path


def build_stack(
    settings: StackSettings,
    *,
    protocol: str = "ro811",
    model: str = "auto",
    train: bool = False,
    calibrate: bool = True,
    cold_start: bool = True,
    dataset: Dataset | None = None,
    progress: Progress | None = None,
) -> RankingStack:
    """Load the data, split it, and load (or train, or fall back from) the ranker and its calibrator.

    Args:
        settings: The system config.
        protocol: ``ro811`` or ``loo``.
        model: ``auto`` (the trained joint model, else EASE with a note), ``joint`` (trained when
            ``train``, else :class:`ModelNotTrained` without a checkpoint) or ``ease``.
        train: Train the joint model when it has no checkpoint (the agent does; commands that only
            read models do not).
        calibrate: Load or fit the calibrator (next to the checkpoint, keyed by it).
        cold_start: Wrap the joint model in the new-user blend with size-aware calibration.
        dataset: An already loaded dataset (the agent passes one with erased users removed).
        progress: Called with one line per step.

    Raises:
        ValueError: Unknown protocol or model.
        ModelNotTrained: ``model="joint"`` without a checkpoint and ``train=False``.
    """
    from catalog import load_dataset, make_split
    from ranker.diversity import item_popularity

    if protocol not in PROTOCOLS:
        raise BadInput(f"unknown protocol {protocol!r}; use ro811 or loo")
    if model not in MODEL_CHOICES:
        raise BadInput(f"unknown model {model!r}; use auto, joint or ease")
    say = progress or (lambda _m: None)
    ws = settings.workspace()
    ds = dataset if dataset is not None else load_dataset(settings.data, ws, progress=say)
    split = make_split(ds, protocol, seed=settings.seed, weights=settings.data.behaviour_weights)  # type: ignore[arg-type]
    ranker: Ranker | None = None
    name, note, folder = "ease", None, None
    if model in ("auto", "joint"):
        from ranker.train import model_folder

        try:
            ranker = _joint(ws, ds, split, settings, train, say, progress is not None)
            name, folder = "joint", model_folder(ws, protocol)
            say(f"joint ranker from {folder}")
        except ModelNotTrained as e:
            if model == "joint":
                raise
            note = f"no trained joint model ({e}); using EASE fitted on the {protocol} training split instead"
    if ranker is None:
        from ranker.baselines import EASERanker

        say(f"fitting EASE on the {protocol} training split")
        ranker = EASERanker().fit(ds, split)
    counts = item_popularity(split.train["item_idx"].to_numpy(), ds.n_items)
    cal: Calibrator | None = None
    if calibrate:
        cal, fitted, path = calibrator_for(ws, ranker, name, split, settings.calibration, folder=folder)
        say(("calibrator fitted on validation data, saved to " if fitted else "calibrator from ") + str(path))
        if cold_start and folder is not None:
            from ranker.coldstart import category_groups, ensure_cold_start

            # the new-user blend and size-aware calibration (warm users: unchanged)
            ranker, cal = ensure_cold_start(
                ranker, split, ds.n_users, cal, folder / "coldstart.json", settings.coldstart,
                checkpoint=folder / "model.safetensors", progress=say, item_groups=category_groups(ds.items),
            )  # fmt: skip
    return RankingStack(
        ds, split, ranker, name, note, cal, counts, folder, settings.explain, settings.data.behaviour_weights
    )
