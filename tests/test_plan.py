"""The offline plan (`python -m plan`): what it shows, how it diffs, what it costs, what it hides.

Plans are rendered from Pulumi.dev.yaml, or from a copy of it with some settings changed in a
temporary stack file, exactly as the command line reads them. The whole text plan of the dev
stack is also kept in tests/golden/plan-dev.txt: `UPDATE_GOLDEN=1 python -m pytest
tests/test_plan.py -k golden` rewrites it after an intended change.
"""

from __future__ import annotations

import difflib
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.image import image_tag
from plan import base
from plan.cli import main
from plan.cost import Estimate, capacity_split, estimate
from plan.describe import describe_text
from plan.diff import diff_plans, format_markdown
from plan.document import build_plan
from plan.engine_config import cli_edit, stack_config_from_document, stack_document
from plan.errors import PlanError
from plan.mermaid import flowchart, node_id
from plan.motion import HOLDS_WHAT, REPLACED_BY, consequences, types_in
from plan.motion import format_text as motion_text
from plan.placeholders import PLAN_ACCOUNT
from plan.policies import _import_pack, importable, parse_config
from plan.regions import known_regions
from plan.rollout import Rollout, headline, waves
from plan.rollout import estimate as rollout_of
from plan.stackfile import StackFile, load_stack
from plan.summary import plan_markdown, plan_text
from pulumi_harness import PROJECT, ROOT, stack_config

STRIPE = "sk_live_51PlanValueThatMustNeverLeak"
GOLDEN = Path(__file__).resolve().parent / "golden" / "plan-dev.txt"
APP_TAG = "<hash of app/>"


def stack_file(tmp_path: Path, name: str = "dev", base: str = "dev", **settings: Any) -> Path:
    """A copy of Pulumi.<base>.yaml named Pulumi.<name>.yaml, as `pulumi config set --path KEY
    VALUE` would write it after changing these settings (None: `pulumi config rm --path KEY`)."""
    config = stack_config_from_document(stack_config(base), PROJECT)
    cli_edit(config, settings, PROJECT)
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(yaml.safe_dump({"config": stack_document(config)}, sort_keys=False))
    return path


def plan_of(tmp_path: Path, **settings: Any) -> dict[str, Any]:
    return build_plan(load_stack(ROOT, None, stack_file(tmp_path, **settings)))


def summary_of(plan: dict[str, Any]) -> list[str]:
    """The lines the text plan starts with."""
    return plan_text(plan, estimate(plan), rollout_of(plan))


def section(text: str, header: str) -> str:
    """The lines of one resource in the text plan: its header line and its indented facts."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == header)
    indent = len(lines[start]) - len(lines[start].lstrip())
    body = [lines[start]]
    for line in lines[start + 1 :]:
        if len(line) - len(line.lstrip()) <= indent:
            break
        body.append(line)
    return "\n".join(body)


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def worktree_paths() -> list[str]:
    listing = subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "list", "--porcelain"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line for line in listing.splitlines() if line.startswith("worktree ")]


def cost_of(plan: dict[str, Any], item_prefix: str) -> float:
    return sum(
        line.monthly or 0.0 for line in estimate(plan).lines if line.item.startswith(item_prefix)
    )


@pytest.fixture(scope="module")
def dev() -> dict[str, Any]:
    return build_plan(load_stack(ROOT, "dev"))


@pytest.fixture(scope="module")
def prod() -> dict[str, Any]:
    return build_plan(load_stack(ROOT, "prod"))


@pytest.fixture(scope="module")
def dev_text(dev: dict[str, Any]) -> str:
    return describe_text(dev)


class TestThePlanOfTheDevStack:
    def test_it_lists_every_component_kind_first_so_groups_sharing_a_name_stay_apart(
        self, dev_text
    ):
        for header in (
            "Network edge: 14 resources",
            "Certificate edge: 3 resources",
            "LoadBalancer edge: 12 resources",
            "AppImage app: 3 resources",
            "Cluster app: 2 resources",
            "Dashboard dashboard: 1 resource",
            "MigrationRun migration-run",
        ):
            assert header in dev_text.splitlines()
        for kind in ("Database", "AppTask", "WebService", "Autoscaling"):
            assert re.search(rf"^{kind} \S+: \d+ resources$", dev_text, re.M), kind
        assert " 1 resources" not in dev_text

    def test_the_migration_task_definition_says_the_run_overrides_its_command(self, dev_text):
        task = section(dev_text, "app-migration-definition  [ecs.TaskDefinition]")
        assert (
            'started by migration-run with the command ["python", "-m", "api.migrate"] instead '
            "of the container's (the run serves no port)"
        ) in task
        assert "started by" not in section(dev_text, "app-definition  [ecs.TaskDefinition]")

    def test_a_dashboards_body_is_summarized_unless_asked_for_in_full(self, dev):
        body = section(describe_text(dev), "dashboard  [cloudwatch.Dashboard]")
        assert re.search(r"dashboardBody: a document of [\d,]+ characters; --full prints it", body)
        assert len(max(describe_text(dev).splitlines(), key=len)) < 400
        full = section(describe_text(dev, full=True), "dashboard  [cloudwatch.Dashboard]")
        assert '"widgets": [' in full

    def test_every_resource_appears_with_its_type_and_parent_group(self, dev):
        rendered = {(r["type"], r["name"]) for r in dev["resources"]}
        assert ("aws:ecs/service:Service", "web") in rendered
        service = next(r for r in dev["resources"] if r["key"] == "aws:ecs/service:Service::web")
        assert service["parent"] == "fastapi-fargate:service:WebService::web"
        assert all(r["component"] for r in dev["resources"])

    def test_http_redirects_with_301_and_https_uses_the_tls_policy(self, dev_text):
        assert "action: redirect 301 to HTTPS:443" in section(dev_text, "edge-http  [lb.Listener]")
        https = section(dev_text, "edge-https  [lb.Listener]")
        assert "TLS policy: ELBSecurityPolicy-TLS13-1-2-2021-06" in https
        assert "action: forward to target group edge-tg" in https

    def test_the_service_shows_its_count_and_waits_for_the_migration_listener_and_capacity(
        self, dev_text
    ):
        service = section(dev_text, "web  [ecs.Service]")
        assert "desired count: 1, capacity: FARGATE_SPOT weight 1" in service
        (waits,) = [line for line in service.splitlines() if "waits for: " in line]
        # The migration, the listener, the capacity providers, and what its tasks need to
        # reach ECR, logs and the database (see test_task_dependencies.py).
        assert {"app-capacity", "web-exec", "edge-https", "migration-run", "edge-tasks-out"} <= set(
            waits.split("waits for: ")[1].split(", ")
        )

    def test_the_container_shows_variable_and_secret_names_but_no_values(self, dev_text):
        task = section(dev_text, "app-definition  [ecs.TaskDefinition]")
        assert 'command: ["python", "-m", "api.serve"]' in task
        assert re.search(r"environment \(names\): .*\bPORT\b.*\bWEB_CONCURRENCY\b", task)
        assert "secrets (names): API_TOKEN, DB_PASSWORD, DB_USER" in task
        assert "8000" not in task.split("environment (names)")[1].split("\n")[0]

    def test_the_migration_command_and_the_scaling_range(self, dev_text):
        migration = section(dev_text, "MigrationRun migration-run")
        assert 'runs ["python", "-m", "api.migrate"]' in migration
        assert "ecs:service:DesiredCount: 1..2" in dev_text

    def test_values_aws_computes_are_labelled_never_made_up(self, dev):
        document = json.dumps(dev)
        assert PLAN_ACCOUNT not in document
        assert ".elb.amazonaws.com" not in document
        assert "@sha256:" not in document
        assert dev["outputs"]["load_balancer_dns_name"].startswith(
            "(known after apply: edge-alb.dnsName"
        )
        assert "(looked up in AWS: account id)" in document

    def test_paths_are_relative_to_the_project(self, dev):
        assert str(ROOT) not in json.dumps(dev)

    def test_the_same_stack_always_gives_the_same_plan(self, dev):
        again = build_plan(load_stack(ROOT, "dev"))
        assert json.dumps(again, sort_keys=True) == json.dumps(dev, sort_keys=True)
        assert describe_text(again) == describe_text(dev)


class TestThePlanAnswersFirst:
    """The first lines answer: size, cost, rollout time, guardrails; the rest on request."""

    def test_the_text_plan_is_a_short_summary_and_details_come_with_details(self, capsys, dev):
        code, out, _ = run_cli(capsys, "dev")
        assert code == 0
        lines = out.splitlines()
        assert len(lines) <= 25
        assert lines[0].startswith("Offline plan of stack dev (fastapi-fargate, us-east-1): ")
        assert lines[1] == (
            f"Estimated cost: {estimate(dev).total:.2f} USD a month, priced at us-east-1 list "
            "prices (2026-03)."
        )
        assert lines[3].startswith("Guardrails (")
        assert "edge-https  [lb.Listener]" not in out
        assert lines[-1].startswith("More: --details")
        _, detailed, _ = run_cli(capsys, "dev", "--details")
        assert detailed.startswith("\n".join(lines[:4]))
        assert "edge-https  [lb.Listener]" in detailed

    def test_a_diff_summary_names_changes_motion_cost_and_time_before_the_detail(
        self, capsys, dev, prod
    ):
        before, after = estimate(dev).total, estimate(prod).total
        code, out, _ = run_cli(capsys, "prod", "--against", "dev")
        assert code == 0
        summary, _, detail = out.partition("\nSettings:\n")
        assert len(summary.splitlines()) <= 25
        assert summary.startswith("Changes from stack dev to stack prod: ")
        for said in (
            "Replaced, not updated (deleted and created anew):",
            "Sets in motion:",
            f"Estimated cost: {before:.2f} -> {after:.2f} USD a month ({after - before:+.2f}), "
            "priced at us-east-1",
            "Estimated rollout of service web: ",
            "Guardrails (",
        ):
            assert said in summary
        assert "~ fastapi-fargate:service.memory: 512 -> 1024" in detail

    @pytest.mark.parametrize("against", [(), ("--against", "dev")], ids=["plan", "diff"])
    def test_the_pull_request_comment_opens_on_the_summary_and_folds_the_rest(
        self, capsys, against, prod
    ):
        code, markdown, _ = run_cli(capsys, "prod", *against, "--markdown")
        assert code == 0
        head, folded = markdown.split("<details>", 1)
        assert f"{estimate(prod).total:.2f} USD" in head
        assert "Estimated rollout of" in head or "web: 3 min 10 s" in head
        assert "**Guardrails**" in head
        assert "| total |" not in head and "```mermaid" not in head
        assert "```mermaid" in folded
        assert len(head) < 3000


class TestTheCommandLine:
    def test_json_round_trips_and_a_saved_plan_shows_no_changes(self, capsys, tmp_path, dev):
        code, out, _ = run_cli(capsys, "dev", "--json")
        assert code == 0
        assert json.loads(out) == json.loads(json.dumps(dev))
        saved = tmp_path / "dev.json"
        saved.write_text(out)
        code, out, _ = run_cli(capsys, "dev", "--against-file", str(saved))
        assert code == 0
        total = estimate(dev).total
        assert out.startswith(
            f"No changes from dev.json to stack dev.\nEstimated cost: {total:.2f} -> {total:.2f} "
        )

    def test_one_changed_setting_shows_exactly_the_properties_it_changes(self, capsys, tmp_path):
        path = stack_file(tmp_path, **{"service.cpu": 512, "service.memory": 1024})
        code, out, _ = run_cli(capsys, "--stack-file", str(path), "--against", "dev", "--json")
        assert code == 0
        changes = json.loads(out)
        assert [c["path"] for c in changes["settings"]] == [
            f"{PROJECT}:service.cpu",
            f"{PROJECT}:service.memory",
        ]
        # The web task definition and the release phase's own (same size).
        assert [(r["name"], r["change"]) for r in changes["resources"]] == [
            ("app-definition", "change"),
            ("app-migration-definition", "change"),
        ]
        for resource in changes["resources"]:
            assert resource["properties"] == [
                {"path": "cpu", "before": "256", "after": "512"},
                {"path": "memory", "before": "512", "after": "1024"},
            ]

    def test_the_markdown_diff_has_a_summary_a_table_details_and_the_chart(self, tmp_path, dev):
        after = plan_of(tmp_path, **{"service.desiredCount": 2, "scaling.minCount": 2})
        text = format_markdown(
            diff_plans(dev, after, "stack dev", "stack dev (changed)"),
            after,
            estimate(after),
            estimate(dev),
        )
        assert text.startswith("### Offline plan: stack dev -> stack dev (changed)\n")
        # The fewest tasks also move the tasks alarm's threshold and the dashboard's line.
        assert "**0 to add, 0 to remove, 4 to change.**" in text
        assert "| ~ change | `web` | `ecs.Service` | `desiredCount` |" in text
        assert "| ~ change | `dev-tasks-below-desired` | `cloudwatch.MetricAlarm` |" in text
        assert "<details><summary>change <code>web-scaling-target</code>" in text
        assert "```mermaid\nflowchart LR" in text
        assert (
            "  class Autoscaling_web_scaling,Dashboard_dashboard,ServiceAlarms_service_alarms,"
            "WebService_web changed\n"
        ) in text

    def test_an_unknown_stack_is_named_with_the_stacks_there_are(self, capsys):
        code, out, err = run_cli(capsys, "nosuchstack")
        assert code == 2 and out == ""
        assert err.startswith("error: no stack 'nosuchstack': Pulumi.nosuchstack.yaml")
        assert "dev" in err

    def test_invalid_settings_exit_2_with_the_settings_message_and_no_traceback(self, tmp_path):
        path = stack_file(tmp_path, **{"service.cpu": 300})
        result = subprocess.run(
            [sys.executable, "-m", "plan", "--stack-file", str(path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 2
        assert result.stdout == ""
        assert result.stderr.startswith("error: The stack settings have 1 problem")
        assert f"{PROJECT}:service.cpu = 300: is not a Fargate CPU size" in result.stderr
        assert "Traceback" not in result.stderr

    def test_the_bootstrap_program_with_a_state_backend_plans_its_bucket_url(
        self, capsys, tmp_path
    ):
        # It used to crash with "TypeError: sequence item 1: expected str instance, NoneType
        # found": the mocks gave the bucket no name for the program's s3:// URL.
        path = tmp_path / "Pulumi.ci.yaml"
        path.write_text(
            yaml.safe_dump(
                {
                    "config": {
                        "aws:region": "us-east-1",
                        "fastapi-fargate-bootstrap:githubRepository": "octo-org/app",
                        "fastapi-fargate-bootstrap:createStateBackend": True,
                    }
                }
            )
        )
        code, out, err = run_cli(
            capsys, "--root", str(ROOT / "bootstrap"), "--stack-file", str(path), "--details"
        )
        assert (code, err) == (0, "")
        assert '  backendUrls = {"dev": "s3://(known after apply: pulumi-state-dev.id)"}\n' in out
        assert "Guardrails" not in out  # bootstrap/ has no policy pack

    def test_a_region_that_is_not_an_aws_region_is_refused_before_rendering(self, capsys, tmp_path):
        path = stack_file(tmp_path, **{"aws:region": "us-east-9"})
        code, out, err = run_cli(capsys, "--stack-file", str(path), "--cost")
        assert (code, out) == (2, "")
        assert err.startswith("error: aws:region = 'us-east-9': is not an AWS region")
        assert "Did you mean us-east-2, us-east-1" in err
        assert "Fix: `pulumi config set aws:region us-east-1`" in err

    def test_every_region_of_botocores_endpoints_data_is_accepted(self):
        import botocore

        regions = known_regions()
        endpoints = json.loads(
            (Path(botocore.__file__).parent / "data" / "endpoints.json").read_text()
        )
        assert {r for p in endpoints["partitions"] for r in p["regions"]} <= regions
        assert {"us-east-1", "eu-central-1", "ap-southeast-2", "cn-north-1"} <= regions
        assert not {"us-east-9", "aws-global"} & regions

    def test_a_misspelled_config_key_is_named_not_reported_as_a_missing_region(
        self, capsys, tmp_path
    ):
        path = tmp_path / "Pulumi.typo.yaml"
        path.write_text(yaml.safe_dump({"confg": stack_config("dev")}))
        code, _, err = run_cli(capsys, "--stack-file", str(path))
        assert code == 2
        assert "`confg` is not a key of a stack file" in err
        assert err.rstrip().endswith("Did you mean `config`?")
        assert "aws:region" not in err

    def test_base_renders_the_committed_program_in_a_worktree_it_removes(
        self, capsys, tmp_path, monkeypatch
    ):
        # Its own temporary directory: other plans may add and remove worktrees meanwhile.
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
        calls: list[tuple[str, ...]] = []
        real_git = base.git

        def git(root: Path, *args: str, what: str) -> None:
            calls.append(args)
            real_git(root, *args, what=what)

        monkeypatch.setattr(base, "git", git)
        code, out, err = run_cli(capsys, "dev", "--base", "HEAD", "--json")
        assert (code, err) == (0, "")
        assert json.loads(out)["before"] == "stack dev at HEAD"
        (added,) = [c for c in calls if c[:2] == ("worktree", "add")]
        assert added[3].startswith(str(tmp_path)) and added[4] == "HEAD"
        assert [c for c in calls if c[:2] == ("worktree", "remove")] == [
            ("worktree", "remove", "--force", added[3])
        ]
        assert not [p for p in worktree_paths() if str(tmp_path) in p]
        assert list(tmp_path.iterdir()) == []

    def test_a_base_revision_is_planned_not_judged(self, capsys, monkeypatch):
        # What runs already is not refused by the rules the change answers to, and a revision
        # older than the name rules the AWS request check imports from its components plans.
        from plan import aws_contract

        def judged(*_: object, **__: object) -> None:
            raise AssertionError("the AWS request rules ran on a base revision")

        monkeypatch.setattr(aws_contract, "check", judged)
        code, out, err = run_cli(capsys, "dev", "--json", "--as-base")
        assert (code, err) == (0, "")
        assert json.loads(out)["guardrails"] is None
        with pytest.raises(AssertionError, match="on a base revision"):
            run_cli(capsys, "dev", "--json")

    def test_a_bad_git_ref_is_a_clear_error(self, capsys):
        code, _, err = run_cli(capsys, "dev", "--base", "no-such-ref-anywhere")
        assert code == 2
        assert err.startswith("error: --base no-such-ref-anywhere: git worktree add failed")


class TestWhatAChangeSetsInMotion:
    """Under a diff: the revision, the migration, the rollout, and replacements that hurt."""

    def diff_of(self, capsys, tmp_path, *options: str, **settings: Any) -> tuple[int, str]:
        path = stack_file(tmp_path, **settings)
        code, out, _ = run_cli(capsys, "--stack-file", str(path), "--against", "dev", *options)
        return code, out

    def test_a_new_task_definition_runs_the_migration_and_rolls_out_the_service(
        self, capsys, tmp_path
    ):
        code, out = self.diff_of(capsys, tmp_path, **{"service.memory": 1024})
        assert code == 0
        moves = out.split("Sets in motion:\n")[1].split("\n\n")[0]
        assert moves.splitlines() == [
            "  - app-definition: a new task definition revision (a task definition cannot change "
            "in place)",
            "  - app-migration-definition: a new task definition revision (a task definition "
            "cannot change in place)",
            "  - migration-run: runs the migration with the new revision, before any new task serves",
            "  - web: a rolling deployment after the migration, about 3 min 10 s",
            "  This change runs the migration and rolls out web: about 3 min 10 s, plus the "
            "migration's own time.",
        ]
        assert "Replaced, not updated" not in out

    def test_without_migrations_only_the_rollout_is_set_in_motion(self, tmp_path):
        before = plan_of(tmp_path, **{"migration.enabled": False})
        after = plan_of(tmp_path, **{"migration.enabled": False, "service.memory": 1024})
        moves = consequences(diff_plans(before, after, "before", "after"), after)
        # 60 start + 20 healthy + 30 drain + 20 stop: no migration task this time
        assert moves.sentence() == "this change rolls out web: about 2 min 10 s"
        assert moves.migrations == []

    def test_a_change_that_touches_no_task_definition_sets_nothing_in_motion(self, tmp_path, dev):
        after = plan_of(tmp_path, **{"loadBalancer.deregistrationDelay": 120})
        changes = diff_plans(dev, after, "stack dev", "changed")
        assert [r.name for r in changes.resources] == ["edge-tg"]
        assert consequences(changes, after).empty
        assert motion_text(consequences(changes, after)) == ""

    def test_renaming_the_database_warns_that_it_replaces_the_instance(self, tmp_path, dev):
        after = plan_of(tmp_path, **{"database.name": "notes"})
        changes = diff_plans(dev, after, "stack dev", "changed")
        moves = consequences(changes, after)
        assert motion_text(moves).startswith(
            "Replaced, not updated (deleted and created anew):\n"
            "  ! data-postgres [rds.Instance]: `dbName` cannot change in place; it holds the "
            "database: the new instance starts empty"
        )
        markdown = format_markdown(changes, after)
        assert "> [!WARNING]\n> **Replaced, not updated** (deleted and created anew):\n" in markdown
        assert "> - `data-postgres` (rds.Instance): `dbName` cannot change in place" in markdown
        assert (
            "**Sets in motion:** this change runs the migration and rolls out web: about 3 min 10 s"
            in markdown
        )
        assert [(r["resource"], r["inputs"]) for r in moves.as_dict()["replacements"]] == [
            ("data-postgres", ["dbName"])
        ]

    def test_the_replacement_table_names_real_inputs_of_the_types_the_program_creates(
        self, dev, tmp_path
    ):
        import pulumi_aws

        prod = build_plan(load_stack(ROOT, "prod"))
        # The repository policy exists only where another stack is granted the pull.
        granting = plan_of(
            tmp_path,
            **{
                "image.pullRoleArns": [
                    "arn:aws:iam::210987654321:role/fastapi-fargate-prod-execution"
                ]
            },
        )
        created = types_in([dev, prod, granting])
        for type_, inputs in REPLACED_BY.items():
            assert type_ in created, type_
            _, path, kind = type_.split(":")
            args = getattr(getattr(pulumi_aws, path.split("/")[0]), f"{kind}Args")
            parameters = set(inspect.signature(args.__init__).parameters)
            for name in inputs:
                assert re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower() in parameters, (type_, name)
        # Every resource that holds data or a name users see has its table entry.
        assert set(HOLDS_WHAT) <= set(REPLACED_BY)


UNSAFE_PROD = {"network.nat": "none", "service.desiredCount": 1, "scaling.minCount": 1}


@pytest.fixture(scope="module")
def unsafe_prod(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = stack_file(tmp_path_factory.mktemp("unsafe"), "prod", base="prod", **UNSAFE_PROD)
    return build_plan(load_stack(ROOT, None, path))


def test_a_public_api_is_a_warning_of_the_plan(tmp_path, capsys):
    """service.publicApi opens the sample API on purpose: the plan says so, with the way back."""
    path = stack_file(tmp_path, **{"service.publicApi": True})
    code, out, _ = run_cli(capsys, "--stack-file", str(path), "--no-policy", "--details")
    assert code == 0
    warnings = out.split("Warnings from the program:", 1)[1]
    assert "! service.publicApi is true: the app serves every route without a token" in warnings
    assert "`pulumi config set --path service.publicApi false`" in warnings
    assert "API_AUTH" in out  # the variable the task gets (its value: none)
    assert "service.publicApi" not in run_cli(capsys, "dev", "--no-policy", "--details")[1]


class TestGuardrails:
    """The policy pack runs on the plan as `pulumi preview --policy-pack policy` would run it."""

    def test_a_prod_stack_without_nat_and_with_one_task_is_refused_naming_both_policies(
        self, capsys, tmp_path, unsafe_prod
    ):
        path = stack_file(tmp_path, "prod", base="prod", **UNSAFE_PROD)
        code, out, err = run_cli(capsys, "--stack-file", str(path))
        assert code == 1
        section = out.split("\n\nSettings:")[0]
        # Every policy of the pack ran (policy/guardrails POLICIES, counted in the header).
        with importable(ROOT / "policy"):
            count = len(_import_pack().POLICIES)
        assert (
            f"Guardrails (fastapi-fargate-guardrails, {count} policies, config "
            f"policy/config.prod.json): 2 mandatory violations: `pulumi preview` "
            "with the pack would refuse this stack."
        ) in section
        assert "    ! production-high-availability on web: Service 'web' runs 1 task(s)" in section
        assert (
            "      fix: run at least 2 (in this project `pulumi config set --path service.desiredCount"
            in section
        )
        assert (
            "    ! production-private-tasks on web: Service 'web' gives its tasks public IPs"
            in (section)
        )
        assert err == (
            "error: the guardrails refuse this stack (2 mandatory violations): "
            "production-high-availability on web; production-private-tasks on web\n"
        )

    def test_the_reviewers_prod_copy_is_refused_naming_each_policy(
        self, capsys, tmp_path, monkeypatch
    ):
        """Issue 25's prod copy: storage unencrypted, a public database without backups, a
        privileged container running as root with an added capability, and the load balancer's
        access logs off. The settings refuse most of these before anything renders, so the
        rendering is changed after the program ran (as a hand edit or a drifting component
        would change it), and the access logs are turned off the way a user would."""
        import plan.document

        real_render = plan.document.render

        def broken(*args: Any, **kwargs: Any) -> Any:
            rendered = real_render(*args, **kwargs)
            db = rendered.one("aws:rds/instance:Instance", "data-postgres")
            definition = rendered.one("aws:ecs/taskDefinition:TaskDefinition", "app-definition")
            for resource in (db, definition):
                _id, state = rendered.states[(resource.type, resource.name)]
                views = (resource.inputs, state)
                if resource is db:
                    for view in views:
                        view.update(
                            storageEncrypted=False, publiclyAccessible=True, backupRetentionPeriod=0
                        )
                    continue
                for view in views:
                    (container,) = json.loads(view["containerDefinitions"])
                    container.update(privileged=True, user="0")
                    # SYS_PTRACE: the one capability Fargate lets a task add (ECS API reference,
                    # KernelCapabilities), so only the guardrails stand in its way.
                    container["linuxParameters"]["capabilities"] = {"add": ["SYS_PTRACE"]}
                    view["containerDefinitions"] = json.dumps([container])
            return rendered

        monkeypatch.setattr(plan.document, "render", broken)
        path = stack_file(tmp_path, "prod", base="prod", **{"loadBalancer.accessLogs": False})
        code, out, err = run_cli(capsys, "--stack-file", str(path))
        assert code == 1
        for policy, resource in [
            ("rds-storage-encrypted", "data-postgres"),
            ("rds-not-publicly-accessible", "data-postgres"),
            ("production-backup-retention", "data-postgres"),
            ("container-not-privileged", "app-definition"),
            ("container-non-root-user", "app-definition"),
            ("container-no-added-capabilities", "app-definition"),
            ("production-load-balancer-access-logs", "edge-alb"),
        ]:
            assert f"{policy} on {resource}" in err, policy
            assert f"    ! {policy} on {resource}: " in out, policy
        # Each names its fix; where a setting fixes it, the command that sets it.
        assert "`pulumi config set --path database.backupRetentionDays 7`" in out
        assert "`pulumi config set --path loadBalancer.accessLogs true`" in out

    def test_the_pull_request_comment_shows_the_same_violations_with_their_fixes(
        self, unsafe_prod, dev
    ):
        for markdown in (
            plan_markdown(unsafe_prod, estimate(unsafe_prod), rollout_of(unsafe_prod)),
            format_markdown(diff_plans(dev, unsafe_prod, "dev", "prod"), unsafe_prod),
        ):
            assert (
                "| `production-private-tasks` | `web` | Service 'web' gives its tasks public"
                in (markdown)
            )
            assert re.search(
                r"^\| `production-high-availability` \| `web` \| .* \| run at least 2",
                markdown,
                re.M,
            )

    def test_without_pulumi_policy_installed_the_plan_says_how_to_get_it(self, capsys, monkeypatch):
        monkeypatch.setitem(sys.modules, "pulumi_policy", None)  # what `import` then refuses
        code, out, err = run_cli(capsys, "dev")
        assert (code, out) == (2, "")
        assert err == (
            "error: the guardrails need pulumi-policy: `pip install -r policy/requirements.txt`, "
            "or plan with --no-policy\n"
        )

    def test_no_policy_skips_the_guardrails(self, capsys, tmp_path):
        path = stack_file(tmp_path, "prod", base="prod", **UNSAFE_PROD)
        code, out, err = run_cli(capsys, "--stack-file", str(path), "--no-policy")
        assert (code, err) == (0, "")
        assert "Guardrails" not in out

    def test_the_committed_stacks_pass_and_the_json_plan_carries_the_result(self, capsys, dev):
        code, out, _ = run_cli(capsys, "prod", "--json")
        prod = json.loads(out)
        assert code == 0
        for stack, plan in (("dev", dev), ("prod", prod)):
            report = plan["guardrails"]
            assert report["config"] == f"policy/config.{stack}.json"
            assert (report["mandatory"], report["advisory"]) == (
                [],
                [],
            )

    def test_the_stacks_policy_config_sets_levels_as_the_cli_reads_it(self, tmp_path):
        root = tmp_path / "project"
        shutil.copytree(
            ROOT, root, ignore=shutil.ignore_patterns(".git", ".venv", "venv", "__pycache__")
        )
        (root / "policy" / "config.prod.json").write_text(
            json.dumps({"production-private-tasks": {"enforcementLevel": "advisory"}})
        )
        path = stack_file(tmp_path, "prod", base="prod", **UNSAFE_PROD)
        plan = build_plan(load_stack(root, None, path), root)
        report = plan["guardrails"]
        assert [f["policy"] for f in report["mandatory"]] == ["production-high-availability"]
        assert [f["policy"] for f in report["advisory"]] == ["production-private-tasks"]

    # pulumi/pulumi pkg/resource/analyzer/config_test.go, TestParsePolicyPackConfigSuccess/Fail.
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("", {}),
            ("  \t\n", {}),
            ('{"foo":"advisory"}', {"foo": ("advisory", {})}),
            ('{"foo":"mandatory"}', {"foo": ("mandatory", {})}),
            (
                '{"all":"mandatory","policy1":{"foo":"one"},"policy2":{"foo":"two"}}',
                {
                    "all": ("mandatory", {}),
                    "policy1": (None, {"foo": "one"}),
                    "policy2": (None, {"foo": "two"}),
                },
            ),
        ],
    )
    def test_policy_config_files_parse_as_pulumi_parses_them(self, text, expected):
        assert parse_config(text, "config.json") == expected

    @pytest.mark.parametrize(
        "text",
        [
            '{"foo":[]}', '{"foo":null}', '{"foo":0}', '{"foo":true}', '{"foo":""}',
            '{"foo":"bar"}', '{"foo":{"enforcementLevel":[]}}', '{"foo":{"enforcementLevel":null}}',
            '{"foo":{"enforcementLevel":0}}', '{"foo":{"enforcementLevel":{}}}',
            '{"foo":{"enforcementLevel":""}}', '{"foo":{"enforcementLevel":"bar"}}',
        ],
    )  # fmt: skip
    def test_policy_config_files_pulumi_refuses_are_refused(self, text):
        with pytest.raises(PlanError, match=r"^config\.json: 'foo': "):
            parse_config(text, "config.json")


class TestSecrets:
    def test_an_app_secret_set_the_old_way_is_refused_without_showing_it(self):
        config = {**stack_config("dev"), "app-secrets:STRIPE_KEY": STRIPE}
        stack = StackFile(
            project=PROJECT,
            stack="dev",
            path=ROOT / "Pulumi.dev.yaml",
            config=config,
            secret_keys=frozenset({"app-secrets:STRIPE_KEY"}),
        )
        with pytest.raises(PlanError) as caught:
            build_plan(stack)
        assert "app-secrets:STRIPE_KEY: app secret values no longer live" in str(caught.value)
        assert STRIPE not in str(caught.value)

    def test_app_secrets_are_names_and_secrets_without_a_value(self):
        config = {**stack_config("dev")}
        config["fastapi-fargate:service"] = {
            **config["fastapi-fargate:service"],
            "appSecrets": ["STRIPE_KEY"],
        }
        stack = StackFile(
            project=PROJECT, stack="dev", path=ROOT / "Pulumi.dev.yaml", config=config
        )
        plan = build_plan(stack)
        assert not [r for r in plan["resources"] if r["type"].endswith("SecretVersion")]
        assert "fastapi-fargate/dev/STRIPE_KEY" in json.dumps(plan)

    def test_encrypted_values_are_secrets_with_a_placeholder_and_the_plan_says_so(
        self, capsys, tmp_path
    ):
        # Another package's config (the project's own settings refuse secrets).
        path = stack_file(tmp_path, **{"datadog:apiKey": {"secure": "v1:AAAA:BBBB"}})
        code, out, _ = run_cli(capsys, "--stack-file", str(path), "--details")
        assert code == 0
        notice = "Encrypted in the stack file, so not decrypted offline (shown as secrets): "
        assert notice + "datadog:apiKey." in out
        assert "datadog:apiKey = (secret)" in out
        assert "v1:AAAA:BBBB" not in out


class TestCost:
    def test_the_dev_stack_costs_the_sum_of_its_lines(self, dev):
        cost = estimate(dev)
        assert cost.total == round(sum(line.monthly or 0 for line in cost.lines), 2)
        assert cost.total > 0

    def test_dev_fargate_spot_and_load_balancer_against_hand_computed_figures(self, dev):
        lines = {(line.resource, line.item): line.monthly for line in estimate(dev).lines}
        # 1 task x (0.25 vCPU x 0.04048 + 0.5 GB x 0.004445) x 730 h x (1 - 0.70)
        assert lines[("web", "Fargate Spot")] == 2.70
        assert lines[("edge-alb", "Load balancer hours")] == 16.43  # 0.0225 x 730
        assert lines[("edge-alb", "Public IPv4 addresses of the load balancer")] == 7.30
        assert lines[("data-postgres", "RDS postgres db.t4g.micro")] == 11.68  # 0.016 x 730
        assert lines[("zone example.com", "Route 53 hosted zone")] == 0.50

    def test_an_on_demand_arm_service_against_hand_computed_figures(self, tmp_path):
        plan = plan_of(
            tmp_path,
            **{
                "service.fargateSpotPercent": 0,
                "image.platform": "linux/arm64",
                "service.desiredCount": 2,
                "scaling.minCount": 2,
            },
        )
        lines = {(line.resource, line.item): line.monthly for line in estimate(plan).lines}
        # 2 tasks x (0.25 x 0.03238 + 0.5 x 0.00356) x 730 h
        assert lines[("web", "Fargate on demand")] == round(2 * 0.009875 * 730, 2) == 14.42
        assert ("web", "Fargate Spot") not in lines

    def test_a_spot_share_lowers_the_fargate_cost(self, tmp_path, dev):
        on_demand = plan_of(tmp_path, **{"service.fargateSpotPercent": 0})
        assert cost_of(dev, "Fargate") < cost_of(on_demand, "Fargate")

    def test_the_autoscaling_ceiling_uses_the_stacks_spot_share(self, dev, tmp_path):
        # 2 tasks x (0.25 x 0.04048 + 0.5 x 0.004445) x 730 h, all on Spot at 70 % off
        assert (
            "Autoscaling may run up to 2 tasks of web: Fargate then costs up to 5.41 USD a month "
            "(all on Fargate Spot at 70% off)." in estimate(dev).assumptions
        )
        on_demand = plan_of(tmp_path, **{"service.fargateSpotPercent": 0})
        assert (
            "Autoscaling may run up to 2 tasks of web: Fargate then costs up to 18.02 USD a month "
            "(at on-demand prices)." in estimate(on_demand).assumptions
        )

    def test_a_mixed_strategy_keeps_the_base_task_on_demand(self):
        strategy = [
            {"capacityProvider": "FARGATE", "weight": 1, "base": 1},
            {"capacityProvider": "FARGATE_SPOT", "weight": 1},
        ]
        assert capacity_split(strategy, 3) == (2.0, 1.0)
        assert capacity_split([], 3) == (3.0, 0.0)

    def test_multi_az_doubles_the_database(self, dev):
        multi = json.loads(json.dumps(dev))
        instance = next(r for r in multi["resources"] if r["type"] == "aws:rds/instance:Instance")
        instance["inputs"]["multiAz"] = True
        single, double = estimate(dev), estimate(multi)

        def rds(cost: Estimate) -> float:
            return sum(
                line.monthly or 0 for line in cost.lines if line.item.startswith("RDS postgres")
            )

        assert rds(double) == 2 * rds(single)
        assert cost_of(multi, "RDS storage") == 2 * cost_of(dev, "RDS storage")

    def test_an_unknown_instance_class_is_not_priced_and_says_why(self, tmp_path):
        plan = plan_of(tmp_path, **{"database.instanceClass": "db.r8g.large"})
        (line,) = [line for line in estimate(plan).lines if "db.r8g.large" in line.item]
        assert line.monthly is None
        assert line.note == "not priced: db.r8g.large is not in plan/prices.json"

    def test_a_region_without_its_own_prices_says_how_they_were_derived(self, tmp_path):
        plan = plan_of(tmp_path, **{"aws:region": "eu-central-1"})
        cost = estimate(plan)
        assert any("x 1.15" in a for a in cost.assumptions)
        assert any("approximate" in a for a in cost.assumptions)
        assert cost.basis == "approximate: us-east-1 list prices x 1.15, not eu-central-1's own"

    def test_a_region_without_prices_says_first_that_the_figures_are_us_east_1s(
        self, tmp_path, capsys
    ):
        path = stack_file(tmp_path, **{"aws:region": "eu-west-3"})
        code, out, _ = run_cli(capsys, "dev", "--stack-file", str(path), "--cost")
        lines = out.splitlines()
        at = next(i for i, line in enumerate(lines) if line.startswith("Estimated monthly cost"))
        heading, basis = lines[at : at + 2]
        assert heading.startswith("Estimated monthly cost in eu-west-3 (USD")
        assert basis == (
            "  Priced at us-east-1 list prices, NOT eu-west-3's: plan/prices.json has no prices "
            "for eu-west-3, so regional price differences are not counted (prices there are "
            "usually the same or higher)."
        )
        assert code == 0
        code, markdown, _ = run_cli(capsys, "dev", "--stack-file", str(path), "--markdown")
        assert code == 0
        assert "Priced at us-east-1 list prices, NOT eu-west-3's" in markdown

    def test_a_region_with_its_own_prices_names_them(self, dev):
        assert estimate(dev).basis == "us-east-1 list prices"


class TestTheChart:
    def test_image_task_migration_and_service_wait_for_each_other_in_order(self, dev):
        chart = flowchart(dev)
        assert chart.startswith("flowchart LR\n")
        assert "  AppTask_app -->|uses| AppImage_app\n" in chart
        assert "  MigrationRun_migration_run ==>|waits for| AppTask_app\n" in chart
        assert "  WebService_web ==>|waits for| MigrationRun_migration_run\n" in chart
        # Declared: the migration's task needs the network's routes to reach ECR and logs.
        assert "  MigrationRun_migration_run ==>|waits for| Network_edge\n" in chart
        assert "  WebService_web ==>|waits for| LoadBalancer_edge\n" in chart
        assert "  Autoscaling_web_scaling ==>|waits for| WebService_web\n" in chart
        assert "  AppTask_app -->|uses| Database_data\n" in chart

    def test_the_charts_waits_for_arrows_are_the_text_plans_waits_for_lines(self, dev, dev_text):
        # From the text: each "waits for:" line of a resource, under its group's header line.
        components = {r["name"]: r["component"] for r in dev["resources"]}
        groups = {r["key"]: r for r in dev["resources"]}
        said: set[tuple[str, str]] = set()
        group = ""
        for line in dev_text.split("\n\nOutputs:")[0].splitlines():
            header = re.match(r"^([A-Z]\w+) (\S+?)(?:: \d+ resources?)?$", line)
            if header:
                group = f"{header[1]}_{header[2]}".replace("-", "_")
            facts = re.match(r"^\s+waits for: (.+)$", line)
            if facts:
                for name in facts[1].split(", "):
                    target = node_id(groups[components[name]])
                    if target != group:
                        said.add((group, target))
        drawn = set(re.findall(r"^  (\w+) ==>\|waits for\| (\w+)$", flowchart(dev), re.M))
        assert said and drawn == said
        assert ("WebService_web", "MigrationRun_migration_run") in drawn

    def test_mermaid_refuses_options_it_would_drop(self, capsys):
        code, out, err = run_cli(capsys, "dev", "--mermaid", "--cost")
        assert (code, out) == (2, "")
        assert err.startswith("error: --mermaid prints only the chart, so --cost would be lost.")
        assert "Use --markdown" in err


def steps_of(rollout: Rollout) -> dict[str, tuple[int, int]]:
    """Step name -> (seconds with this stack, seconds with AWS's defaults)."""
    return {s.name: (s.seconds, s.defaults) for s in rollout.steps}


def with_service(plan: dict[str, Any], **inputs: Any) -> dict[str, Any]:
    """A copy of the plan whose ECS service has these inputs changed (the program fixes some)."""
    copy = json.loads(json.dumps(plan))
    service = next(r for r in copy["resources"] if r["type"] == "aws:ecs/service:Service")
    service["inputs"].update(inputs)
    return copy


class TestRolloutTime:
    # AWS's defaults for the same stack: 60 + 60 + 5 x 30 + 300 + 30 (no graceful window).
    AWS_DEFAULTS_TOTAL = 600

    def test_the_dev_stack_against_hand_computed_steps_and_aws_defaults(self, dev):
        (web,) = rollout_of(dev)
        assert web.service == "web"
        assert steps_of(web) == {
            "migration task starts": (60, 60),
            "new tasks start": (60, 60),
            # 2 checks 10 s apart (the container's own first check at 15 s is sooner);
            # AWS: 5 checks 30 s apart.
            "new tasks turn healthy": (20, 150),
            "old tasks drain": (30, 300),
            # GRACEFUL_SHUTDOWN_TIMEOUT = stopTimeout 30 - 10; AWS: the whole stopTimeout.
            "old tasks stop": (20, 30),
        }
        assert (web.waves, web.total, web.defaults_total) == (1, 190, self.AWS_DEFAULTS_TOTAL)
        assert web.migration

    def test_the_text_summary_gives_the_total_and_only_rollout_gives_the_steps(self, capsys):
        _, plain, _ = run_cli(capsys, "dev")
        assert plain.splitlines()[2] == (
            "Estimated rollout of service web: 3 min 10 s (AWS's defaults: 10 min), "
            "plus the migration's own time."
        )
        assert "old tasks drain" not in plain
        _, detailed, _ = run_cli(capsys, "dev", "--rollout")
        summary = plain.split("\n\nMore: ")[0]
        assert detailed.startswith(summary)
        table = detailed[len(summary) :]
        assert re.search(r"^  old tasks drain +30 s +300 s  deregistration delay", table, re.M)
        assert re.search(r"^  total +3 min 10 s +10 min$", table, re.M)

    def test_a_tuned_stack_against_hand_computed_figures(self, capsys, tmp_path):
        path = stack_file(
            tmp_path, **{"loadBalancer.deregistrationDelay": 120, "service.stopTimeout": 60}
        )
        code, out, _ = run_cli(capsys, "--stack-file", str(path), "--json", "--rollout")
        assert code == 0
        (web,) = json.loads(out)["rollout"]
        seconds = {s["step"]: s["seconds"] for s in web["steps"]}
        assert seconds["old tasks drain"] == 120
        assert seconds["old tasks stop"] == 50  # the graceful window: stopTimeout 60 - 10
        # 60 migration task + 60 start + 20 healthy + 120 drain + 50 stop
        assert web["total_seconds"] == 310
        assert web["aws_defaults_total_seconds"] == self.AWS_DEFAULTS_TOTAL

    def test_without_a_migration_the_rollout_is_the_task_steps_alone(self, tmp_path):
        plan = plan_of(tmp_path, **{"migration.enabled": False})
        (web,) = rollout_of(plan)
        assert not web.migration
        assert "migration task starts" not in steps_of(web)
        assert web.total == 60 + 20 + 30 + 20
        assert summary_of(plan)[2] == (
            "Estimated rollout of service web: 2 min 10 s (AWS's defaults: 9 min)."
        )

    def test_without_a_graceful_window_the_stop_takes_up_to_stop_timeout(self, dev):
        copy = json.loads(json.dumps(dev))
        task = next(r for r in copy["resources"] if r["name"] == "app-definition")
        (container,) = task["inputs"]["containerDefinitions"]
        container["environment"] = [
            e for e in container["environment"] if e["name"] != "GRACEFUL_SHUTDOWN_TIMEOUT"
        ]
        (web,) = rollout_of(copy)
        assert steps_of(web)["old tasks stop"] == (30, 30)
        assert web.total == 200

    @pytest.mark.parametrize(
        ("tasks", "minimum", "maximum", "expected"),
        [
            (1, 100, 200, 1),
            (10, 100, 200, 1),  # 200 %: every task replaced at once
            (4, 100, 150, 2),  # 2 extra tasks at a time
            (4, 50, 100, 2),  # 2 stopped first, then 2 more
            (5, 100, 150, 3),  # floor(7.5) - 5 = 2 at a time
            (3, 100, 100, None),  # neither room above nor below: ECS cannot proceed
            (0, 100, 200, 0),
        ],
    )
    def test_waves_follow_the_deployment_percentages(self, tasks, minimum, maximum, expected):
        assert waves(tasks, minimum, maximum) == expected

    def test_every_wave_repeats_the_task_steps_but_not_the_migration(self, dev):
        plan = with_service(dev, desiredCount=4, deploymentMaximumPercent=150)
        (web,) = rollout_of(plan)
        assert web.waves == 2
        # The migration once, then 2 x (60 start + 20 healthy + 30 drain + 20 stop).
        assert web.total == 60 + 2 * 130 == 320
        assert web.defaults_total == self.AWS_DEFAULTS_TOTAL  # 200 %: one wave

    def test_a_deployment_that_cannot_proceed_says_so(self, dev):
        plan = with_service(dev, deploymentMaximumPercent=100)
        (web,) = rollout_of(plan)
        assert web.total is None
        assert "never finishes" in summary_of(plan)[2]

    def test_markdown_always_shows_the_rollout_and_a_diff_its_change(self, capsys, tmp_path, dev):
        _, plan_markdown, _ = run_cli(capsys, "dev", "--markdown")
        assert "**Estimated rollout of `web`: 3 min 10 s** (AWS's defaults: 10 min)" in (
            plan_markdown
        )
        assert "| old tasks drain | 30 s | 300 s |" in plan_markdown
        after = plan_of(tmp_path, **{"loadBalancer.deregistrationDelay": 120})
        text = format_markdown(
            diff_plans(dev, after, "stack dev", "stack dev (changed)"),
            after,
            rollout_after=rollout_of(after),
            rollout_before=rollout_of(dev),
        )
        assert (
            "**Estimated rollout of `web`: 4 min 40 s** (before: 3 min 10 s, +90 s; "
            "AWS's defaults: 10 min), plus the migration's own time." in text
        )


class TestTheGoldenPlan:
    """The whole text plan of the dev stack, kept in a file so any change to it shows in review."""

    @staticmethod
    def normalized(text: str) -> str:
        # The image tag is a hash of app/'s files: an edit to the app changes it, and the golden
        # file is about what the program and the plan tool print, not about the app's code.
        return text.replace(image_tag("linux/amd64"), APP_TAG)

    def test_the_text_plan_of_the_dev_stack_matches_the_golden_file(self, capsys):
        code, out, err = run_cli(capsys, "dev", "--details")
        assert (code, err) == (0, "")
        actual = self.normalized(out)
        if os.environ.get("UPDATE_GOLDEN") == "1":
            GOLDEN.parent.mkdir(exist_ok=True)
            GOLDEN.write_text(actual, newline="\n")
            pytest.skip(f"UPDATE_GOLDEN=1: wrote {GOLDEN.relative_to(ROOT)}, compared nothing")
        expected = GOLDEN.read_text() if GOLDEN.is_file() else ""
        if actual != expected:
            diff = "\n".join(
                difflib.unified_diff(
                    expected.splitlines(),
                    actual.splitlines(),
                    "tests/golden/plan-dev.txt",
                    "python -m plan dev --details",
                    lineterm="",
                )
            )
            pytest.fail(
                "The text plan of the dev stack differs from tests/golden/plan-dev.txt:\n"
                f"{diff}\n\nIf the change is intended, regenerate the file and review its diff:\n"
                "  UPDATE_GOLDEN=1 python -m pytest tests/test_plan.py -k golden",
                pytrace=False,
            )

    def test_the_golden_file_hides_only_the_app_hash_and_no_machine_detail(self):
        golden = GOLDEN.read_text()
        assert golden.count(APP_TAG) == 1
        assert f"(known after apply: app-repository.repositoryUrl):{APP_TAG}" in golden
        # Nothing that differs between machines: paths, users, times.
        assert str(ROOT) not in golden and str(Path.home()) not in golden
        assert not re.search(r"\b20\d\d-\d\d-\d\d[T ]\d\d:\d\d", golden)


class TestOperationsInThePlan:
    def test_alarms_dashboard_and_topic_are_priced(self, dev):
        lines = {(line.resource, line.item): line for line in estimate(dev).lines}
        # A metric-math alarm pays for each metric it reads: 3 x 0.10.
        assert lines[("dev-errors", "CloudWatch alarm")].monthly == 0.30
        assert lines[("dev-latency", "CloudWatch alarm")].monthly == 0.10
        assert lines[("dashboard", "CloudWatch dashboard")].monthly == 3.00
        assert lines[("alarms-topic", "SNS topic for the alarms")].monthly == 0.0
        alarms = [line for (_, item), line in lines.items() if item == "CloudWatch alarm"]
        assert round(sum(line.monthly for line in alarms), 2) == 1.30  # 11 alarms, 13 metrics

    def test_a_blue_green_rollout_shows_the_traffic_switch_and_the_bake_time(self, dev):
        plan = with_service(
            dev, deploymentConfiguration={"strategy": "BLUE_GREEN", "bakeTimeInMinutes": "5"}
        )
        (web,) = rollout_of(plan)
        assert web.strategy == "blue-green" and web.waves == 1
        assert list(steps_of(web)) == [
            "migration task starts",
            "new tasks start",
            "new tasks turn healthy",
            "traffic moves to the new tasks",
            "bake time (old tasks kept)",
            "old tasks drain",
            "old tasks stop",
        ]
        assert steps_of(web)["bake time (old tasks kept)"] == (300, 300)
        assert web.total == 190 + 300
        assert "(blue/green): 8 min 10 s" in headline(web)

    def test_blue_green_starts_every_task_at_once_whatever_the_percentages(self, dev):
        plan = with_service(
            dev,
            desiredCount=4,
            deploymentMinimumHealthyPercent=100,
            deploymentMaximumPercent=125,
            deploymentConfiguration={"strategy": "BLUE_GREEN", "bakeTimeInMinutes": "0"},
        )
        (web,) = rollout_of(plan)
        assert web.waves == 1
        rolling = rollout_of(with_service(plan, deploymentConfiguration=None))[0]
        assert rolling.waves == 4 and rolling.strategy == "rolling"


class TestThePlansModules:
    def test_no_module_of_the_plan_imports_another_in_a_cycle(self):
        """Every import counts, at the top, inside a function or under TYPE_CHECKING (the
        developers' guide: no module imports another in a cycle)."""
        import ast

        modules = {p.stem: p for p in (ROOT / "plan").glob("*.py")}
        graph: dict[str, set[str]] = {}
        for name, path in modules.items():
            deps: set[str] = set()
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module == "plan":
                    deps |= {a.name for a in node.names if a.name in modules}
                elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("plan."):
                    deps.add(node.module.split(".")[1])  # type: ignore[union-attr]
                elif isinstance(node, ast.Import):
                    deps |= {a.name.split(".")[1] for a in node.names if a.name.startswith("plan.")}
            graph[name] = deps - {name}

        def reaches(start: str, goal: str) -> bool:
            seen, todo = set(), list(graph[start])
            while todo:
                node = todo.pop()
                if node == goal:
                    return True
                if node not in seen:
                    seen.add(node)
                    todo.extend(graph.get(node, ()))
            return False

        assert [m for m in sorted(graph) if reaches(m, m)] == []
