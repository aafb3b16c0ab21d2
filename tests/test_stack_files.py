"""The committed stacks, and edits to them, as the real Pulumi CLI passes them to the program.

Every rendering here goes through the CLI's config merge (plan/engine_config.py): Pulumi.yaml's
declared defaults merged into the stack file's objects, types checked in the CLI's words. These
are the done-when checks of issue 13: the stacks get their stack file's values, `pulumi config
set --path` changes what it should, the old flat form and a wrong type are refused before
anything is created, and the offline plan says so and exits non-zero.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from plan.cli import main
from plan.convert_stack import convert_text
from plan.engine_config import (
    ConfigError,
    cli_edit,
    load_project,
    program_config,
    stack_config_from_document,
    stack_document,
)
from pulumi_harness import PROJECT, ROOT, AwsMocks, render, stack_config

TASK = "aws:ecs/taskDefinition:TaskDefinition"
SERVICE = "aws:ecs/service:Service"
RDS = "aws:rds/instance:Instance"


def written_by_cli(tmp_path: Path, edits: dict[str, Any], stack: str = "dev") -> Path:
    """Pulumi.<stack>.yaml as the CLI writes it after `pulumi config set --path K V` per edit."""
    config = stack_config_from_document(stack_config(stack), PROJECT)
    cli_edit(config, edits, PROJECT)
    path = tmp_path / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump({"config": stack_document(config)}, sort_keys=False))
    return path


def plan(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


class TestTheCommittedStacks:
    def test_dev_gets_its_stack_files_values_and_the_declared_defaults(self):
        rendered = render(stack="dev")
        task = rendered.one(TASK, "app-definition")
        assert (task["cpu"], task["memory"]) == ("256", "512")
        assert rendered.one(SERVICE)["desiredCount"] == 1
        database = rendered.one(RDS)
        assert (database["instanceClass"], database["allocatedStorage"]) == ("db.t4g.micro", 20)
        # Not set in the stack file: Pulumi.yaml's defaults, merged by the CLI.
        assert database["engineVersion"] == "16"
        assert database["backupRetentionPeriod"] == 7

    def test_prod_gets_its_stack_files_values(self):
        rendered = render(stack="prod")
        task = rendered.one(TASK, "app-definition")
        assert (task["cpu"], task["memory"]) == ("512", "1024")
        assert rendered.one(SERVICE)["desiredCount"] == 2
        assert len(rendered.all("aws:ec2/natGateway:NatGateway")) == 2
        assert rendered.one("aws:lb/loadBalancer:LoadBalancer")["enableDeletionProtection"]
        database = rendered.one(RDS)
        assert database["instanceClass"] == "db.m7g.large"
        assert (database["allocatedStorage"], database["maxAllocatedStorage"]) == (50, 200)
        assert database["backupRetentionPeriod"] == 14
        assert database["multiAz"] is True
        target = rendered.one("aws:appautoscaling/target:Target")
        assert (target["minCapacity"], target["maxCapacity"]) == (2, 6)

    @pytest.mark.parametrize("stack", ["dev", "prod"])
    def test_the_stack_files_are_in_the_structured_form_the_converter_leaves_alone(self, stack):
        text = (ROOT / f"Pulumi.{stack}.yaml").read_text()
        assert convert_text(text, PROJECT) == (text, 0)
        groups = [k for k in stack_config(stack) if k.startswith(f"{PROJECT}:")]
        assert all("." not in k for k in groups)


class TestPulumiConfigSetPath:
    def test_service_memory_1024_changes_the_task_memory_in_the_offline_plan(
        self, capsys, tmp_path
    ):
        path = written_by_cli(tmp_path, {"service.memory": 1024})
        assert yaml.safe_load(path.read_text())["config"][f"{PROJECT}:service"]["memory"] == 1024
        code, out, err = plan(capsys, "--stack-file", str(path), "--against", "dev", "--json")
        assert (code, err) == (0, "")
        changes = json.loads(out)
        assert [c["path"] for c in changes["settings"]] == [f"{PROJECT}:service.memory"]
        # The web tasks' definition and the release phase's own, both the task size.
        assert [(r["name"], r["change"]) for r in changes["resources"]] == [
            ("app-definition", "change"),
            ("app-migration-definition", "change"),
        ]
        for resource in changes["resources"]:
            assert resource["properties"] == [{"path": "memory", "before": "512", "after": "1024"}]

    def test_render_overrides_are_the_same_edit(self):
        assert render({"service.memory": 1024}).one(TASK, "app-definition")["memory"] == "1024"


class TestRefusedBeforeAnythingIsCreated:
    def test_the_flat_form_is_refused_naming_the_path_command_and_the_conversion(
        self, capsys, tmp_path
    ):
        # What `pulumi config set service.memory 1024` (without --path) writes.
        config = {**stack_config("dev"), f"{PROJECT}:service.memory": "1024"}
        path = tmp_path / "Pulumi.dev.yaml"
        path.write_text(yaml.safe_dump({"config": config}))
        code, out, err = plan(capsys, "--stack-file", str(path))
        assert (code, out) == (2, "")
        # One problem: the conversion is a hint after the list, not a second problem.
        assert err.startswith("error: The stack settings have 1 problem; nothing was created")
        assert f"{PROJECT}:service.memory = 1024: a flat key" in err
        assert "`pulumi config rm service.memory`, then `pulumi config set --path" in err
        assert "service.memory 1024`" in err
        assert "\nHint: " in err
        assert "`.venv/bin/python -m plan.convert_stack Pulumi.dev.yaml`" in err

    def test_the_flat_form_registers_nothing(self):
        mocks = AwsMocks()
        with pytest.raises(Exception, match="a flat key"):
            render(base={**stack_config("dev"), f"{PROJECT}:service.memory": "1024"}, mocks=mocks)
        assert mocks.registered == []

    def test_a_wrong_type_is_refused_in_the_clis_words_and_the_plan_exits_2(self, tmp_path):
        path = written_by_cli(tmp_path, {"service.memory": "lots"})
        result = subprocess.run(
            [sys.executable, "-m", "plan", "--stack-file", str(path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 2 and result.stdout == ""
        assert result.stderr.startswith("error: The stack settings have 1 problem;")
        assert (
            "fastapi-fargate:service.memory = lots: the Pulumi CLI refuses it before the program "
            "runs (Stack 'dev' with configuration key 'service.memory' must be of type 'integer')"
            ". Fix: `pulumi config set --path service.memory 512` (the default)."
        ) in result.stderr
        assert "Traceback" not in result.stderr

    def test_a_wrong_type_registers_nothing(self):
        mocks = AwsMocks()
        with pytest.raises(ConfigError, match=r"'scaling\.enabled' must be of type 'boolean'"):
            render({"scaling.enabled": "yes"}, mocks=mocks)
        assert mocks.registered == []


class TestTheConverter:
    FLAT = """# A comment about the stack.
config:
  aws:region: us-east-1
  # The domain.
  fastapi-fargate:https.domain: api.dev.example.com
  fastapi-fargate:service.cpu: "512"

  # Memory to match.
  fastapi-fargate:service.memory: "1024"
  fastapi-fargate:https.hostedZone: example.com
  fastapi-fargate:service.environment:
    - A=1
  app-secrets:KEY:
    secure: v1:AAAA
"""

    def test_it_groups_flat_keys_keeping_comments_and_order(self):
        text, moved = convert_text(self.FLAT, PROJECT)
        assert moved == 5
        assert (
            text
            == """# A comment about the stack.
config:
  aws:region: us-east-1
  fastapi-fargate:https:
    # The domain.
    domain: api.dev.example.com
    hostedZone: example.com
  fastapi-fargate:service:
    cpu: "512"
    # Memory to match.
    memory: "1024"
    environment:
      - A=1
  app-secrets:KEY:
    secure: v1:AAAA
"""
        )

    def test_the_converted_file_gives_the_program_the_values_the_flat_keys_meant(self):
        text, _ = convert_text(self.FLAT, PROJECT)
        project = load_project(ROOT / "Pulumi.yaml")
        config = program_config(project, "dev", yaml.safe_load(text)["config"]).config
        service = json.loads(config[f"{PROJECT}:service"])
        assert (service["cpu"], service["memory"], service["environment"]) == (
            "512",
            "1024",
            ["A=1"],
        )
        assert not [k for k in config if k.startswith(f"{PROJECT}:service.")]

    def test_the_command_rewrites_in_place_and_a_second_run_changes_nothing(self, tmp_path):
        path = tmp_path / "Pulumi.dev.yaml"
        (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
        path.write_text(self.FLAT)
        command = [sys.executable, "-m", "plan.convert_stack", str(path)]
        first = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        assert first.returncode == 0, first.stderr
        assert "5 flat keys moved" in first.stdout
        converted = path.read_text()
        second = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        assert "nothing to do" in second.stdout and path.read_text() == converted

    def test_a_layout_it_cannot_rewrite_is_left_untouched_with_a_message(self, tmp_path):
        path = tmp_path / "Pulumi.dev.yaml"
        flow = "config: {fastapi-fargate:service.cpu: '512'}\n"
        path.write_text(flow)
        code = subprocess.run(
            [sys.executable, "-m", "plan.convert_stack", "--project", PROJECT, str(path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert code.returncode == 2 and "convert by hand" in code.stderr
        assert path.read_text() == flow


class TestReadAsTheCliReadsYaml:
    def test_off_in_a_stack_file_is_the_word_off_not_false(self, capsys, tmp_path):
        # yaml.v3 (the CLI's parser) reads a plain `off` as a string; YAML 1.1 parsers as false.
        path = tmp_path / "Pulumi.dev.yaml"
        path.write_text(
            (ROOT / "Pulumi.dev.yaml").read_text().replace("mode: managed", "mode: off")
        )
        code, out, err = plan(capsys, "--stack-file", str(path), "--json")
        assert (code, err) == (0, "")
        assert not [r for r in json.loads(out)["resources"] if r["type"] == RDS]

    def test_a_stack_with_an_esc_environment_is_refused_offline(self, capsys, tmp_path):
        path = tmp_path / "Pulumi.dev.yaml"
        path.write_text("environment:\n  - shared/aws\n" + (ROOT / "Pulumi.dev.yaml").read_text())
        code, out, err = plan(capsys, "--stack-file", str(path))
        assert (code, out) == (2, "")
        assert "Pulumi ESC environment" in err
