"""The first try without a domain (issue 27): a development stack without `https` plans and
deploys over plain HTTP with an advisory; a production stack is still refused.

docs/https-and-network.md tells a newcomer to remove `https` from Pulumi.dev.yaml for a first
try. The guardrails run on the config the engine hands the pack (plan/engine_config.py merges
Pulumi.yaml's defaults, so the `https` object is always there, its domain "" when unset).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from test_policies import FORWARD, check, check_stack, edge, edge_stack, production

from plan.cli import main
from plan.engine_config import load_project, program_config
from pulumi_harness import PROJECT, ROOT, stack_config

LISTENER = "aws:lb/listener:Listener"
HTTP_FORWARD = {"protocol": "HTTP", "port": 80, "defaultActions": [FORWARD]}


def without_https(stack: str) -> dict[str, Any]:
    """The stack file's config after removing `https`, as the docs say for a first try."""
    return {k: v for k, v in stack_config(stack).items() if k != f"{PROJECT}:https"}


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch):
    """Hand the pack a stack's config as the engine does, under the stack's name."""

    def hand_over(stack: str, config: dict[str, Any]) -> None:
        project = load_project(ROOT / "Pulumi.yaml")
        monkeypatch.setattr(pulumi, "get_stack", lambda: stack)
        pulumi.runtime.set_all_config(program_config(project, stack, config).config)

    yield hand_over
    pulumi.runtime.set_all_config({})


class TestThePack:
    def test_a_dev_stack_without_a_domain_gets_one_advisory_and_no_refusal(self, engine):
        engine("dev", without_https("dev"))
        alb, resources = edge_stack(HTTP_FORWARD)
        assert check_stack(edge.alb_serves_https_only, resources) == []
        assert check(edge.http_listener_redirects, LISTENER, HTTP_FORWARD) == []
        assert check_stack(production.production_real_domain, resources) == []
        ((message, at),) = check_stack(edge.http_only_first_try, resources)
        assert at == alb.urn
        assert "Plain HTTP is for a first try only" in message
        assert (
            "`pulumi config set --path https.domain api.example.com` and `pulumi config set "
            "--path https.hostedZone example.com`" in message
        )
        assert edge.http_only_first_try.enforcement_level.value == "advisory"

    def test_a_dev_stack_with_a_domain_keeps_the_mandatory_https_rules(self, engine):
        engine("dev", stack_config("dev"))
        _, resources = edge_stack(HTTP_FORWARD)
        assert check_stack(edge.alb_serves_https_only, resources)
        assert check(edge.http_listener_redirects, LISTENER, HTTP_FORWARD)
        assert check_stack(edge.http_only_first_try, resources) == []

    def test_a_production_stack_without_a_domain_is_refused(self, engine):
        engine("prod", without_https("prod"))
        _, resources = edge_stack(HTTP_FORWARD)
        assert check_stack(edge.alb_serves_https_only, resources)
        assert check(edge.http_listener_redirects, LISTENER, HTTP_FORWARD)
        assert check_stack(production.production_real_domain, resources)
        assert check_stack(edge.http_only_first_try, resources) == []
        for policy in (
            edge.alb_serves_https_only,
            edge.http_listener_redirects,
            production.production_real_domain,
        ):
            assert policy.enforcement_level.value == "mandatory"

    def test_without_the_engines_config_the_https_rules_stay_strict(self):
        _, resources = edge_stack(HTTP_FORWARD)
        assert check_stack(edge.alb_serves_https_only, resources)
        assert check_stack(edge.http_only_first_try, resources) == []


def written(tmp_path: Path, stack: str) -> Path:
    path = tmp_path / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump({"config": without_https(stack)}, sort_keys=False))
    return path


class TestThePlan:
    def test_the_dev_stack_without_https_plans_with_exit_0_and_the_advisory(self, tmp_path, capsys):
        code = main(["--stack-file", str(written(tmp_path, "dev"))])
        out = capsys.readouterr().out
        assert code == 0
        assert re.search(
            r"^Guardrails \(.*config policy/config\.dev\.json\): 1 advisory\.$", out, re.M
        )
        assert "http-only-first-try on edge-alb" in out
        assert "Plain HTTP is for a first try only" in out

    def test_the_prod_stack_without_https_is_refused(self, tmp_path, capsys):
        code = main(["--stack-file", str(written(tmp_path, "prod"))])
        err = capsys.readouterr().err
        assert code == 2
        assert f"{PROJECT}:https.domain: is required on a production stack" in err
