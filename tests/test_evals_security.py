"""The attack suite (evals.security): it covers every /v1 route, and against a real token-mode
``trustrec serve`` it finds no breach, the store unchanged, and the per-token rate limit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from evals import security as sec


def test_attacks_cover_every_v1_route_and_the_check_is_registered() -> None:
    from fastapi.routing import APIRoute

    from evals.suite import check_kinds, load_suite
    from tests.ui_helpers import shared_recommender
    from ui.api import create_api

    api = create_api(shared_recommender(), ui=False)
    routes = {
        (m, r.path) for r in api.routes if isinstance(r, APIRoute) and r.path.startswith("/v1/") for m in r.methods
    }
    tried = {(m, re.sub(r"/v1/(profile|users)/[^/]+", r"/v1/\1/{x}", p)) for _k, m, p, _b in sec._templates("S", "U")}
    norm = {(m, re.sub(r"\{[a-z_]+\}", "{x}", p)) for m, p in routes}
    assert norm <= tried, norm - tried
    assert "security" in check_kinds()
    for name, attempts in (("smoke", 200), ("full", 1000)):
        (c,) = [c for c in load_suite(name).checks if c.kind == "security"]
        sec.SecurityConfig.model_validate(c.params)
        assert c.thresholds["breaches"].max == 0 and c.thresholds["store_changed"].max == 0
        assert c.thresholds["attempts"].min >= attempts


@pytest.mark.slow
def test_attack_suite_finds_no_breach_on_a_token_server(tmp_path: Path) -> None:
    from agent.config import load_config

    m = sec.run_security(load_config(), tmp_path, sec.SecurityConfig(guessed_sessions=3, rate_limit_per_minute=60))
    assert m["attempts"] > 100 and m["breaches"] == 0, m["breach_examples"]
    assert set(m["by_kind"]) == {"no_token", "bad_token", "other_user", "other_service", "guessed_session",
                                 "admin_endpoint", "app_without_login"}  # fmt: skip
    assert m["store_changed"] == 0 and m["controls_failed"] == 0, m
    assert m["rate_limit"]["hit"] == 1 and m["rate_limit"]["retry_after_s"] >= 1
    assert m["rate_limit"]["other_token_unaffected"] == 1
