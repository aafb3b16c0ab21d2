"""What each `ops` command needs, said in its --help and in docs/operations.md (issue 27).

The IAM actions listed are checked against the calls the commands really make: each command
runs against moto (the stack of tests/test_ops.py) with every AWS request recorded, and
ops/commands.py is read for every client operation it can call on any path.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from datetime import timedelta
from typing import Any

import boto3
import botocore.session
import pytest
from botocore import xform_name
from test_ops import RecordingEcs, aws, deployed  # noqa: F401 (fixtures)

from ops import cli, commands
from ops.stack import StackOutputs
from pulumi_harness import ROOT

DOCS = ROOT / "docs" / "operations.md"
# IAM's action prefix for each service's API; CloudWatch's API signs as "monitoring", its IAM
# actions are cloudwatch:* (the Service Authorization Reference, "Amazon CloudWatch").
IAM_PREFIX = {"monitoring": "cloudwatch"}
SERVICES = ("ecs", "logs", "cloudwatch")


def subcommands() -> dict[str, Any]:
    (action,) = [a for a in cli.parser()._actions if a.dest == "command"]
    return dict(action.choices)


def documented() -> dict[str, set[str]]:
    """The table of docs/operations.md#what-each-command-needs: command -> IAM actions."""
    text = DOCS.read_text()
    section = text.split("## What each command needs", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, set[str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"`[a-z-]+`", cells[0]):
            rows[cells[0].strip("`")] = set(re.findall(r"`([a-z0-9-]+:[A-Za-z0-9]+)`", cells[2]))
    return rows


class TestTheHelp:
    def test_every_subcommand_says_what_it_does_and_what_it_needs(self):
        for name, sub in subcommands().items():
            assert sub.description and len(sub.description) > 40, name
            assert "IAM permissions:" in sub.epilog and cli.DOCS in sub.epilog, name
            assert "credentials" in sub.epilog and "pulumi stack output" in sub.epilog, name

    def test_exec_names_the_session_manager_plugin_and_the_setting(self):
        sub = subcommands()["exec"]
        text = f"{sub.description} {sub.epilog}"  # what --help prints, before line wrapping
        assert "Session Manager plugin" in text and "session-manager-plugin" in text
        assert "service.exec" in text
        assert "ecs:ExecuteCommand" in text

    def test_the_help_and_the_docs_list_the_same_actions(self):
        rows = documented()
        assert set(rows) == set(subcommands()), "one row per subcommand"
        for name, (_, actions) in cli.NEEDS.items():
            assert rows[name] == set(actions), name
            assert ", ".join(actions) in subcommands()[name].epilog

    def test_the_docs_section_the_help_points_to_exists(self):
        anchor = cli.DOCS.split("#", 1)[1]
        assert f"## {anchor.replace('-', ' ').capitalize()}" in DOCS.read_text()


def recorded(session: Any) -> set[str]:
    """Start recording every request ``session``'s clients send, as IAM action names."""
    calls: set[str] = set()

    def record(model: Any, **_: Any) -> None:
        signing = model.service_model.signing_name
        calls.add(f"{IAM_PREFIX.get(signing, signing)}:{model.name}")

    session.events.register("before-call", record)
    return calls


class TestTheCallsMadeAreTheOnesListed:
    def test_each_command_against_moto_calls_exactly_its_documented_actions(self, deployed):  # noqa: F811
        outputs = StackOutputs("dev", deployed["outputs"])
        region = deployed["session"].region_name
        quiet = lambda _: None  # noqa: E731
        made: dict[str, set[str]] = {}
        runs = {
            "status": lambda s: commands.status(outputs, s, quiet),
            "events": lambda s: commands.events(outputs, s, quiet),
            "logs": lambda s: commands.logs(outputs, s, quiet, since=timedelta(minutes=10)),
        }
        for name, run in runs.items():
            session = boto3.Session(region_name=region)  # a fresh one: its own recorder
            made[name] = recorded(session)
            run(session)

        session = boto3.Session(region_name=region)
        made["exec"] = recorded(session)
        ecs = RecordingEcs(session.client("ecs"))
        commands.exec_(
            outputs,
            session,
            quiet,
            [],
            which=lambda name: f"/usr/local/bin/{name}",
            run=lambda *a, **k: type("Done", (), {"returncode": 0})(),
            ecs=ecs,
        )
        # moto has no ExecuteCommand: RecordingEcs answers it without sending a request.
        assert ecs.calls
        made["exec"].add("ecs:ExecuteCommand")

        rows = documented()
        for name, calls in made.items():
            assert calls == rows[name], name


def operations_called_in(source: str) -> set[str]:
    """Every AWS operation ops/commands.py can call: methods named like an operation of the
    services it uses, and the operations it paginates."""
    by_method: dict[str, set[str]] = defaultdict(set)
    loader = botocore.session.get_session()
    for service in SERVICES:
        model = loader.get_service_model(service)
        prefix = IAM_PREFIX.get(model.signing_name, model.signing_name)
        for operation in model.operation_names:
            by_method[xform_name(operation)].add(f"{prefix}:{operation}")
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        method = node.func.attr
        if method == "get_paginator" and isinstance(node.args[0], ast.Constant):
            method = str(node.args[0].value)
        found |= by_method.get(method, set())
    return found


def test_every_operation_the_code_can_call_is_in_the_docs_table():
    listed = set().union(*documented().values())
    possible = operations_called_in((ROOT / "ops" / "commands.py").read_text())
    assert possible, "the scan found no AWS call at all"
    # A method name several services share (none here today) must be listed for one of them.
    missing = {
        op for op in possible if not any(op.split(":")[1] == a.split(":")[1] for a in listed)
    }
    assert not missing, f"ops/commands.py calls {sorted(missing)}: add them to {DOCS.name}"


@pytest.mark.parametrize("name", sorted(cli.NEEDS))
def test_a_subcommands_help_runs(name, capsys):
    with pytest.raises(SystemExit) as done:
        cli.parser().parse_args(["dev", name, "--help"])
    assert done.value.code == 0
    assert "IAM permissions:" in capsys.readouterr().out
