"""The offline plan refuses, like a settings error, a stack whose requests AWS would refuse.

`python -m plan STACK` renders the stack and checks every AWS request it becomes
(plan.aws_contract): a violation names the resource, the request field, the value, the rule and
where the rule comes from, and exits 2 with nothing printed on stdout, before anything exists.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from plan.cli import main
from pulumi_harness import stack_config


def stack_file(tmp_path: Path, name: str) -> Path:
    """The dev stack's settings under another stack name."""
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(yaml.safe_dump({"config": stack_config("dev")}, sort_keys=False))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_stack_named_qa_eu_plans_with_names_aws_accepts(capsys, tmp_path):
    code, out, err = run(capsys, "--stack-file", str(stack_file(tmp_path, "qa.eu")), "--json")
    assert code == 0, err
    assert '"fastapi-fargate-qa-eu-' in out
    assert '"fastapi-fargate-qa.eu"' not in out


def test_a_request_aws_would_refuse_stops_the_plan_naming_field_value_rule_and_source(
    capsys, tmp_path, monkeypatch
):
    # The dashboard name the program rendered for qa.eu before components.naming.
    monkeypatch.setattr(
        "components.dashboard.stack_name", lambda rule, project, stack, *a, **k: "qa.eu"
    )
    code, out, err = run(capsys, "--stack-file", str(stack_file(tmp_path, "qa.eu")))
    assert code == 2
    assert out == ""
    assert err.startswith("error: AWS would refuse 1 request field of this stack at `pulumi up`")
    assert "nothing was created" in err
    assert (
        "aws:cloudwatch/dashboard:Dashboard::dashboard: PutDashboard.DashboardName = 'qa.eu': "
        "CloudWatch dashboard name has '.'; only [A-Za-z0-9_-] allowed"
    ) in err
    assert "internal/service/cloudwatch/validate.go validDashboardName" in err
    assert "Traceback" not in err


def test_a_stack_name_no_aws_name_can_be_made_from_is_a_settings_error(capsys, tmp_path):
    code, out, err = run(capsys, "--stack-file", str(stack_file(tmp_path, "qa eu")))
    assert code == 2
    assert out == ""
    assert err.startswith("error: The stack settings have 1 problem")
    assert "pulumi stack rename qa-eu" in err
