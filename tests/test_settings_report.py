"""Bad settings in one report, each fixed by pasting the command it gives (issue 27).

A newcomer's stack file with several independent mistakes (a value the CLI's type check
refuses, values the program refuses, a rule between settings, a misspelled group) gets ONE
report naming every one, each with a complete `pulumi config ...` command holding a concrete
valid value. The commands are applied to the stack file as the CLI applies them
(plan/engine_config.py ports `configSetCmd`/`configRmCmd`'s edits), and the plan then passes.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.settings import GROUPS, SettingsError, parse_settings
from components.settings.reading import _aliases, _member_fix, _member_path
from plan.cli import main
from plan.document import build_plan
from plan.engine_config import (
    Value,
    cli_edit,
    load_yaml,
    map_remove,
    map_set,
    parse_cli_key,
    stack_config_from_document,
    stack_document,
)
from plan.errors import PlanError
from plan.stackfile import load_stack
from pulumi_harness import PROJECT, ROOT, handed_over

# Three kinds of mistakes, in three groups, none hiding another.
MISTAKES = """\
config:
  aws:region: us-east-1
  fastapi-fargate:https:
    domain: api.other.org       # a rule between settings: outside the hosted zone
    hostedZone: example.com
  fastapi-fargate:service:
    cpu: 256
    memory: 3000                # no Fargate size at all
    desiredCount: two           # the CLI's type check refuses it
    stopTimeout: 300            # above the 120 s Fargate allows
  fastapi-fargate:loadBalancer:
    idleTimeout: soon           # a second type error, in another group
  fastapi-fargate:scaling:
    minCount: 1
    maxCount: 2
"""
MISTAKEN = [
    "https.domain",
    "service.memory",
    "service.desiredCount",
    "service.stopTimeout",
    "loadBalancer.idleTimeout",
]
COMMAND = re.compile(r"`(pulumi config [^`]+)`")


def commands(problem: str) -> list[str]:
    return COMMAND.findall(problem)


def first_fix(problem: str) -> list[str]:
    """The commands of a problem's first fix: those before any ", or " alternative."""
    fix = problem.split(" Fix: ", 1)[1]
    return commands(fix.split(", or ", 1)[0])


def apply(path: Path, pasted: list[str]) -> None:
    """Each command run in the stack's directory, as the CLI edits the stack file: `pulumi
    config set [--path] KEY VALUE`, `pulumi config rm [--path] KEY`."""
    document = load_yaml(path.read_text())
    config = stack_config_from_document(document["config"], PROJECT)
    for line in pasted:
        words = shlex.split(line)  # the shell's quoting, as when pasted
        assert words[:2] == ["pulumi", "config"], line
        verb, args = words[2], words[3:]
        with_path = "--path" in args
        args = [a for a in args if a != "--path"]
        key = parse_cli_key(args[0], with_path, PROJECT)
        if verb == "set":
            (_, value) = args
            map_set(config, key, Value(value), with_path)
        else:
            assert verb == "rm" and len(args) == 1, line
            map_remove(config, key, with_path)
    document["config"] = stack_document(config)
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def plan_error(path: Path) -> str:
    with pytest.raises(PlanError) as caught:
        build_plan(load_stack(ROOT, None, path), policy=False)
    return str(caught.value)


def problems_in(report: str) -> list[str]:
    return [line.removeprefix("  - ") for line in report.splitlines() if line.startswith("  - ")]


class TestOneReport:
    def test_type_rule_and_cross_setting_mistakes_are_all_in_one_report(self, tmp_path):
        path = tmp_path / "Pulumi.dev.yaml"
        path.write_text(MISTAKES)
        report = plan_error(path)
        problems = problems_in(report)
        assert report.startswith(f"The stack settings have {len(problems)} problems;")
        named = sorted(p.split(" ", 1)[0].removeprefix(f"{PROJECT}:") for p in problems)
        assert named == sorted(MISTAKEN), report
        # The type errors keep the CLI's own words, all of them, not only the first.
        assert "configuration key 'service.desiredCount' must be of type 'integer'" in report
        assert "configuration key 'loadBalancer.idleTimeout' must be of type 'integer'" in report

    def test_every_fix_is_a_complete_command_with_a_concrete_value(self, tmp_path):
        path = tmp_path / "Pulumi.dev.yaml"
        path.write_text(MISTAKES)
        problems = problems_in(plan_error(path))
        assert len(problems) == len(MISTAKEN)
        for problem in problems:
            fix = first_fix(problem)
            assert fix, problem
            assert all(c.startswith("pulumi config set --path ") for c in fix), problem
            assert not any("<" in c or "..." in c for c in commands(problem)), problem

    def test_pasting_each_fix_makes_the_plan_pass(self, tmp_path):
        path = tmp_path / "Pulumi.dev.yaml"
        path.write_text(MISTAKES)
        apply(path, [c for p in problems_in(plan_error(path)) for c in first_fix(p)])
        plan = build_plan(load_stack(ROOT, None, path), policy=False)
        assert plan["config"][f"{PROJECT}:service.stopTimeout"] == 120

    def test_the_command_line_prints_the_report_and_exits_2(self, tmp_path, capsys):
        path = tmp_path / "Pulumi.dev.yaml"
        path.write_text(MISTAKES)
        code = main(["--stack-file", str(path)])
        err = capsys.readouterr().err
        assert code == 2
        assert all(f"{PROJECT}:{key} = " in err for key in MISTAKEN), err
        assert "`pulumi preview` stops at the first value its type check refuses" in err


class TestTheProgramAlone:
    """What `pulumi up` reports once the CLI's type check passes: the program's own checks."""

    def test_a_refused_value_no_longer_hides_a_rule_between_other_settings(self):
        config, secret = handed_over(
            {
                "service.memory": 3000,
                "https.domain": "api.other.org",
                "https.hostedZone": "example.com",
            }
        )
        with pytest.raises(SettingsError) as caught:
            parse_settings(config, secret)
        keys = sorted(p.split(" ")[0] for p in caught.value.problems)
        assert keys == [f"{PROJECT}:https.domain", f"{PROJECT}:service.memory"]

    def test_a_rule_naming_a_refused_setting_is_not_judged_on_its_stand_in(self):
        # service.cpu 300 is refused; the memory rule (which names service.cpu) must not judge
        # memory 4096 against the default 256 that stands in for it.
        config, secret = handed_over({"service.cpu": 300, "service.memory": 4096})
        with pytest.raises(SettingsError) as caught:
            parse_settings(config, secret)
        (problem,) = caught.value.problems
        assert problem.startswith(f"{PROJECT}:service.cpu = 300:")
        assert "`pulumi config set --path service.cpu 256`" in problem

    @pytest.mark.parametrize(
        ("group", "member"),
        [(g, a) for g, model in GROUPS.items() for a in _aliases(model)],
    )
    def test_every_settings_fix_is_complete_and_its_value_valid(self, group, member):
        fix = _member_fix(group, member)
        assert "<" not in fix and "..." not in fix, fix
        for command in commands(fix):
            words = shlex.split(command)
            if words[2] != "set":
                continue
            key, value = words[-2], words[-1]
            assert key in (_member_path(group, member), f"{_member_path(group, member)}[0]"), fix
            # The value passes the member's own checks (the rules between settings aside).
            GROUPS[group].model_validate({member: [value] if key.endswith("[0]") else value})


class TestAMisspelledGroup:
    SERVCE = {
        "cpu": 512,
        "memory": 2048,
        "environment": ["LOG_LEVEL=debug", "FEATURE_X=on"],
        "healthCheckPath": "/ready",
    }

    def stack(self, tmp_path: Path, group: dict[str, Any]) -> Path:
        path = tmp_path / "Pulumi.dev.yaml"
        document = {
            "config": {"aws:region": "us-east-1", f"{PROJECT}:servce": group},
        }
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        return path

    def test_the_fix_moves_every_value_and_only_then_removes_the_group(self, tmp_path):
        path = self.stack(tmp_path, self.SERVCE)
        (problem,) = problems_in(plan_error(path))
        assert f"Did you mean {PROJECT}:service?" in problem
        pasted = commands(problem)
        assert pasted[-1] == "pulumi config rm servce"
        # The defaults the CLI filled service with are nothing the move would replace.
        assert "replaces" not in problem
        apply(path, pasted)
        plan = build_plan(load_stack(ROOT, None, path), policy=False)
        config = plan["config"]
        assert f"{PROJECT}:servce" not in load_yaml(path.read_text())["config"]
        assert (config[f"{PROJECT}:service.cpu"], config[f"{PROJECT}:service.memory"]) == (
            512,
            2048,
        )
        assert config[f"{PROJECT}:service.environment"] == ["LOG_LEVEL=debug", "FEATURE_X=on"]
        assert config[f"{PROJECT}:service.healthCheckPath"] == "/ready"

    def test_a_member_set_in_both_says_which_value_the_move_keeps(self, tmp_path):
        path = tmp_path / "Pulumi.dev.yaml"
        config = stack_config_from_document({"aws:region": "us-east-1"}, PROJECT)
        cli_edit(config, {"servce.memory": 2048, "service.memory": 1024}, PROJECT)
        path.write_text(yaml.safe_dump({"config": stack_document(config)}))
        (problem,) = problems_in(plan_error(path))
        assert "`pulumi config set --path service.memory 2048`" in problem
        assert "The move replaces what service already holds: service.memory = 1024." in problem


HALF_CONVERTED = """\
# A stack file half converted: `pulumi config set --path` made the objects, flat keys remain.
config:
  aws:region: us-east-1
  # The domain, still flat.
  fastapi-fargate:https.domain: api.dev.example.com
  fastapi-fargate:service:
    # The size.
    cpu: 512
    memory: 1024
  fastapi-fargate:service.desiredCount: "2"
  fastapi-fargate:service.cpu: "512"
  fastapi-fargate:service.environment:
    - A=1
    - B=2
  fastapi-fargate:https.hostedZone: example.com
"""


class TestAHalfConvertedFile:
    def run(self, path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
        from plan.convert_stack import main as convert

        code = convert(["--project", PROJECT, str(path)])
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    def test_flat_keys_join_the_existing_object_keeping_comments(self, tmp_path, capsys):
        path = tmp_path / "Pulumi.dev.yaml"
        path.write_text(HALF_CONVERTED)
        code, _ = self.run(path, capsys)
        assert code == 0
        text = path.read_text()
        assert load_yaml(text)["config"] == {
            "aws:region": "us-east-1",
            f"{PROJECT}:https": {
                "domain": "api.dev.example.com",
                "hostedZone": "example.com",
            },
            # cpu "512" repeats the object's 512: the same setting, dropped.
            f"{PROJECT}:service": {
                "cpu": 512,
                "memory": 1024,
                "desiredCount": "2",
                "environment": ["A=1", "B=2"],
            },
        }
        assert "    # The size.\n    cpu: 512\n" in text
        assert "    # The domain, still flat.\n    domain: api.dev.example.com\n" in text
        build_plan(load_stack(ROOT, None, path), policy=False)  # and it plans

    def test_two_different_values_for_one_setting_are_refused_naming_both(self, tmp_path, capsys):
        path = tmp_path / "Pulumi.dev.yaml"
        text = HALF_CONVERTED.replace('service.cpu: "512"', 'service.cpu: "1024"')
        path.write_text(text)
        code, out = self.run(path, capsys)
        assert code == 2 and path.read_text() == text
        assert f"{PROJECT}:service.cpu = 1024 (a flat key)" in out
        assert f"member cpu = 512 of {PROJECT}:service" in out
        # Pasting the first of the two fixes resolves it; the next run converts.
        (keep_object, _) = commands(out)
        assert keep_object == "pulumi config rm service.cpu"
        apply(path, [keep_object])
        assert self.run(path, capsys)[0] == 0
        assert load_yaml(path.read_text())["config"][f"{PROJECT}:service"]["cpu"] == 512


class TestThePastedCommandsUseTheVirtualenv:
    def test_the_flat_key_hint_and_the_tools_name_dot_venv_bin_python(self, tmp_path):
        path = tmp_path / "Pulumi.dev.yaml"
        path.write_text(HALF_CONVERTED)
        report = plan_error(path)
        assert "`.venv/bin/python -m plan.convert_stack Pulumi.dev.yaml`" in report
        assert not re.search(r"(?<![/\w])python -m", report)
        with pytest.raises(PlanError, match=r"`\.venv/bin/python -m plan dev`"):
            load_stack(ROOT, None)


class TestAMisspelledSetting:
    def test_the_fix_moves_the_value_to_the_setting_it_resembles(self, tmp_path):
        # `pulumi config set servce.cpu 512` (a misspelled flat key) and a misspelled member.
        path = tmp_path / "Pulumi.dev.yaml"
        config = stack_config_from_document(
            {"aws:region": "us-east-1", f"{PROJECT}:servce.environment": ["A=1", "B=2"]},
            PROJECT,
        )
        cli_edit(config, {"service.memroy": 1024}, PROJECT)
        path.write_text(yaml.safe_dump({"config": stack_document(config)}))
        problems = problems_in(plan_error(path))
        assert len(problems) == 2
        apply(path, [c for p in problems for c in commands(p)])
        plan = build_plan(load_stack(ROOT, None, path), policy=False)
        assert plan["config"][f"{PROJECT}:service.memory"] == 1024
        assert plan["config"][f"{PROJECT}:service.environment"] == ["A=1", "B=2"]


class TestAListWithBadEntries:
    def test_the_fix_removes_the_bad_entries_from_the_end_and_keeps_the_good_ones(self, tmp_path):
        path = tmp_path / "Pulumi.dev.yaml"
        config = stack_config_from_document({"aws:region": "us-east-1"}, PROJECT)
        cli_edit(config, {"service.environment": ["FOO", "A=1", "BAR"]}, PROJECT)
        path.write_text(yaml.safe_dump({"config": stack_document(config)}))
        (problem,) = problems_in(plan_error(path))
        apply(path, commands(problem))
        plan = build_plan(load_stack(ROOT, None, path), policy=False)
        assert plan["config"][f"{PROJECT}:service.environment"] == ["A=1", "LOG_LEVEL=info"]
