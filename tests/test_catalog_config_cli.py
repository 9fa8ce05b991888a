"""Config (TOML + environment overrides), workspace, the data CLI and cheap imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from agent.config import load_config

ROOT = Path(__file__).resolve().parents[1]


def test_toml_then_env_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg_file = tmp_path / "trustrec.toml"
    cfg_file.write_text("seed = 7\n[data]\nlenient = true\n[server]\nport = 9000\n")
    cfg = load_config(cfg_file)
    assert (cfg.seed, cfg.data.lenient, cfg.server.port, cfg.server.host) == (7, True, 9000, "127.0.0.1")
    monkeypatch.setenv("TRUSTREC_SERVER__PORT", "9100")
    monkeypatch.setenv("TRUSTREC_SEED", "11")
    cfg = load_config(cfg_file)
    assert (cfg.seed, cfg.server.port, cfg.data.lenient) == (11, 9100, True)


def test_bad_config_is_refused(tmp_path: Path) -> None:
    cfg_file = tmp_path / "trustrec.toml"
    cfg_file.write_text("[server]\nport = 99999\n")
    with pytest.raises(ValidationError, match="port"):
        load_config(cfg_file)
    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(ValidationError):
        load_config({"unknown_section": {}})


def test_workspace_home_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from catalog import Workspace

    monkeypatch.setenv("TRUSTREC_HOME", str(tmp_path / "ws"))
    ws = Workspace()
    assert ws.home == (tmp_path / "ws").resolve()
    assert ws.store_path.parent.is_dir() and ws.store_path.parent.parent == ws.home


def test_data_stats_json(ml100k_dir: Path) -> None:
    from ui.cli import app

    res = CliRunner().invoke(app, ["data", "stats", "--dataset", "ml-100k", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert (out["users"], out["items"], out["interactions"]) == (943, 1682, 100000)
    assert out["splits"]["ro811"]["test"] == 9596


def test_data_cli_reports_bad_path_cleanly(tmp_path: Path) -> None:
    from ui.cli import app

    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[data]\nsource = "path"\npath = "{tmp_path / "nope"}"\n')
    res = CliRunner().invoke(app, ["data", "stats", "--config", str(cfg)])
    assert res.exit_code == 2
    assert "file not found" in res.output and "Traceback" not in res.output


PACKAGES = ["catalog", "retrieval", "ranker", "agent", "evals", "ui"]


def test_every_package_imports_without_heavy_modules() -> None:
    """Importing the packages and the CLI stays cheap: no torch, transformers, gradio, shap or langchain."""
    code = (
        "import sys\n"
        f"for p in {PACKAGES!r}: __import__(p)\n"
        "import ui.cli\n"
        "heavy = [m for m in ('torch', 'transformers', 'gradio', 'shap', 'langchain', 'faiss') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "", f"heavy modules imported at start-up: {out.stdout}"


def test_catalog_public_api_pinned() -> None:
    import catalog

    assert sorted(catalog.__all__) == sorted(
        [
            "DataConfig",
            "DataError",
            "Dataset",
            "FeedbackEvent",
            "FeedbackKind",
            "FetchError",
            "Interaction",
            "InteractionKind",
            "Item",
            "LoadReport",
            "Protocol",
            "RatingStats",
            "Split",
            "Store",
            "TableMapping",
            "User",
            "Workspace",
            "ensure_ml100k",
            "load_amazon_reviews",
            "load_dataset",
            "load_movielens_native",
            "load_movielens_recbole",
            "load_table",
            "loo_split",
            "make_split",
            "ro_split",
        ]
    )
    for name in catalog.__all__:
        assert hasattr(catalog, name)
