"""What the GitHub Actions workflows promise, read from the YAML itself.

Every workflow: actions pinned to full commit SHAs with a version comment, nothing granted by
default, no credentials left in the checkout, no ``${{ }}`` inside shell scripts, no
``pull_request_target``. Then each workflow's own contract: tests on every pull request and push
(with zizmor), previews per pull request that skip forks, offline plans for every pull request
(forks too) with a comment only where the token may write, deploys per stack that never overlap,
and the migration check for pull requests that change app/migrations/.
The plan workflow's shell scripts also run here, against stand-ins for ``python`` and ``gh``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

WORKFLOWS = Path(__file__).resolve().parent.parent / ".github" / "workflows"
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<rest>.*)$")
VERSION_COMMENT = re.compile(r"^\s+#\s*v\d+(\.\d+){0,2}\s*$")


def load(name: str) -> dict[str, Any]:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as the boolean True.
    workflow["on"] = workflow.pop(True)
    return workflow


def all_workflows() -> list[str]:
    return sorted(p.name for p in WORKFLOWS.glob("*.y*ml"))


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for job in workflow["jobs"].values() for s in job.get("steps", [])]


def uses_of(job: dict[str, Any], action: str) -> list[dict[str, Any]]:
    return [s for s in job.get("steps", []) if s.get("uses", "").startswith(f"{action}@")]


def test_the_five_workflows_exist():
    assert all_workflows() == [
        "deploy.yml",
        "migrations.yml",
        "pins.yml",
        "plan.yml",
        "preview.yml",
        "test.yml",
    ]


# --- Every workflow ----------------------------------------------------------------------------


def unpinned_uses(text: str) -> list[str]:
    """Each `uses:` line that is not owner/repo@<40 hex> followed by a `# vX.Y.Z` comment."""
    bad = []
    for line in text.splitlines():
        match = USES_LINE.match(line)
        if match and not (
            PINNED.match(match["ref"].strip("'\"")) and VERSION_COMMENT.match(match["rest"])
        ):
            bad.append(line.strip())
    return bad


@pytest.mark.parametrize("name", all_workflows())
def test_every_action_is_pinned_to_a_commit_sha_with_its_version(name):
    text = (WORKFLOWS / name).read_text()
    assert unpinned_uses(text) == []
    # The line scan saw every `uses:` the YAML holds (none hidden in a flow mapping), and
    # reusable workflows (job-level `uses:`) would count too.
    scanned = [line for line in text.splitlines() if USES_LINE.match(line)]
    in_yaml = [s["uses"] for s in steps(load(name)) if "uses" in s] + [
        job["uses"] for job in load(name)["jobs"].values() if "uses" in job
    ]
    assert len(scanned) == len(in_yaml) > 0


@pytest.mark.parametrize(
    "line",
    [
        "      - uses: actions/checkout@v6",
        "      - uses: actions/checkout@v6.0.2 # v6.0.2",
        "      - uses: actions/checkout@de0fac2e4500dabe0009e67214ff5f5447ce83dd",
        "      - uses: actions/checkout@de0fac2e4500dabe0009e67214ff5f5447ce83d # v6.0.2",
        "        uses: pulumi/actions@main # v7.0.0",
        "        uses: ./.github/actions/local",
    ],
)
def test_the_pin_check_rejects_tags_branches_short_shas_and_missing_comments(line):
    assert unpinned_uses(line) == [line.strip()]


def test_the_pin_check_accepts_a_sha_with_a_version_comment():
    line = "      - uses: actions/checkout@de0fac2e4500dabe0009e67214ff5f5447ce83dd # v6.0.2"
    assert unpinned_uses(line) == []


@pytest.mark.parametrize("name", all_workflows())
def test_nothing_is_granted_by_default(name):
    assert load(name)["permissions"] == {}


@pytest.mark.parametrize("name", all_workflows())
def test_every_checkout_leaves_no_credentials_behind(name):
    checkouts = [s for s in steps(load(name)) if s.get("uses", "").startswith("actions/checkout@")]
    assert checkouts
    assert all(s.get("with", {}).get("persist-credentials") is False for s in checkouts)


@pytest.mark.parametrize("name", all_workflows())
def test_no_expression_inside_a_shell_script(name):
    # ${{ }} in `run:` is pasted into the script before it runs: template injection.
    scripts = [s["run"] for s in steps(load(name)) if "run" in s]
    assert [s for s in scripts if "${{" in s] == []


@pytest.mark.parametrize("name", all_workflows())
def test_never_pull_request_target(name):
    assert "pull_request_target" not in load(name)["on"]
    # Nor anywhere else outside comments (the preview's comment explains why not).
    code = [
        line
        for line in (WORKFLOWS / name).read_text().splitlines()
        if not line.lstrip().startswith("#")
    ]
    assert not [line for line in code if "pull_request_target" in line]


@pytest.mark.parametrize("name", all_workflows())
def test_only_preview_and_deploy_jobs_may_request_an_oidc_token(name):
    grants = {job_id: job.get("permissions") for job_id, job in load(name)["jobs"].items()}
    for job_id, permissions in grants.items():
        # Every job states its permissions; none inherits or takes write-all.
        assert isinstance(permissions, dict), job_id
        token = permissions.get("id-token")
        if (name, job_id) in {
            ("preview.yml", "preview"),
            ("deploy.yml", "deploy"),
            ("deploy.yml", "source"),
        }:
            assert token == "write"
        else:
            assert token is None, f"{name}:{job_id} must not get an OIDC token"


# --- test.yml ----------------------------------------------------------------------------------


def test_tests_run_on_every_pull_request_and_push():
    on = load("test.yml")["on"]
    assert set(on) == {"pull_request", "push"}
    # No branch filters: every pull request, every push.
    assert on["pull_request"] is None and on["push"] is None


def test_tests_read_the_repository_and_nothing_else():
    for job in load("test.yml")["jobs"].values():
        assert job["permissions"] == {"contents": "read"}


# The one virtualenv both Pulumi.yaml and policy/PulumiPolicy.yaml name, from the lock.
INSTALL_INTO_VENV = "python3 -m venv .venv && .venv/bin/python -m pip install -r requirements.lock"


def test_tests_run_ruff_and_the_readme_test_command_on_the_supported_pythons():
    job = load("test.yml")["jobs"]["test"]
    assert job["strategy"]["matrix"]["python-version"][0] == "3.11"
    setup = uses_of(job, "actions/setup-python")
    assert setup[0]["with"]["python-version"] == "${{ matrix.python-version }}"
    scripts = [s["run"] for s in job["steps"] if "run" in s]
    assert scripts == [
        "python3 -m venv .venv && .venv/bin/pip install uv==0.13.9 "
        "&& .venv/bin/uv pip install -r requirements-dev.lock",
        ".venv/bin/ruff check .",
        ".venv/bin/python -m pytest -n auto",
    ]


def test_the_database_tests_get_a_postgres_service():
    job = load("test.yml")["jobs"]["test"]
    postgres = job["services"]["postgres"]
    assert postgres["image"].startswith("postgres:")
    assert postgres["ports"] == ["5432:5432"]
    assert postgres["env"]["POSTGRES_DB"] == "test"
    assert job["env"]["TEST_DATABASE_URL"] == "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def test_zizmor_audits_the_workflows_at_an_exact_version():
    job = load("test.yml")["jobs"]["zizmor"]
    scripts = [s["run"] for s in job["steps"] if "run" in s]
    assert any(re.fullmatch(r"python -m pip install zizmor==\d+\.\d+\.\d+", s) for s in scripts)
    assert any(s.startswith("zizmor ") and s.rstrip().endswith(".github/") for s in scripts)


# --- preview.yml -------------------------------------------------------------------------------


def preview_job() -> dict[str, Any]:
    return load("preview.yml")["jobs"]["preview"]


def test_preview_runs_on_pull_requests_only():
    assert set(load("preview.yml")["on"]) == {"pull_request"}


def test_preview_skips_pull_requests_from_forks():
    assert (
        preview_job()["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    )


def test_preview_gets_read_access_an_oidc_token_and_the_right_to_comment():
    assert preview_job()["permissions"] == {
        "contents": "read",
        "id-token": "write",
        "pull-requests": "write",
    }


def test_a_new_push_to_a_pull_request_cancels_its_running_preview():
    assert preview_job()["concurrency"] == {
        "group": "preview-${{ github.event.pull_request.number }}",
        "cancel-in-progress": True,
    }


def test_preview_assumes_the_preview_role_through_oidc():
    (aws,) = uses_of(preview_job(), "aws-actions/configure-aws-credentials")
    assert aws["with"]["role-to-assume"] == "${{ vars.AWS_PREVIEW_ROLE_ARN }}"
    assert aws["with"]["aws-region"] == "${{ vars.AWS_REGION }}"
    # OIDC only: no access keys anywhere.
    assert not {"aws-access-key-id", "aws-secret-access-key"} & set(aws["with"])


def test_preview_installs_dependencies_then_previews_with_a_diff_comment():
    job = preview_job()
    names = [s.get("run") or s.get("uses", "").split("@")[0] for s in job["steps"]]
    assert names.index(INSTALL_INTO_VENV) < len(names) - 1
    assert names[-1] == "pulumi/actions"
    install_cli, run = uses_of(job, "pulumi/actions")
    assert "with" not in install_cli  # no command: installs the CLI only
    assert names.index(INSTALL_INTO_VENV) > job["steps"].index(install_cli)
    assert run["with"]["command"] == "preview"
    assert run["with"]["comment-on-pr"] is True
    assert run["with"]["diff"] is True
    assert run["with"]["comment-on-summary"] is True
    assert "upsert" not in run["with"]  # a preview never creates a stack


# --- plan.yml ----------------------------------------------------------------------------------

FORK_GUARD = "github.event.pull_request.head.repo.full_name == github.repository"


def plan_jobs() -> tuple[dict[str, Any], dict[str, Any]]:
    jobs = load("plan.yml")["jobs"]
    return jobs["plan"], jobs["comment"]


def step_named(job: dict[str, Any], name: str) -> dict[str, Any]:
    (step,) = [s for s in job["steps"] if s.get("name") == name]
    return step


def test_plan_runs_on_every_pull_request_forks_included():
    workflow = load("plan.yml")
    assert set(workflow["on"]) == {"pull_request"}
    assert workflow["on"]["pull_request"] is None  # no branch or path filter
    plan, _ = plan_jobs()
    assert "if" not in plan  # a fork's pull request is planned too


def test_plan_needs_no_cloud_credentials_and_no_secrets():
    code = "\n".join(
        line
        for line in (WORKFLOWS / "plan.yml").read_text().splitlines()
        if not line.lstrip().startswith("#")
    )
    assert "secrets." not in code
    assert "configure-aws-credentials" not in code
    assert "AWS_" not in code and "PULUMI_" not in code
    for job in load("plan.yml")["jobs"].values():
        assert "id-token" not in job["permissions"]


def test_the_job_that_runs_the_pull_requests_code_can_only_read():
    plan, _ = plan_jobs()
    assert plan["permissions"] == {"contents": "read"}
    (checkout,) = uses_of(plan, "actions/checkout")
    # Every branch, so the base branch is there to plan against.
    assert checkout["with"] == {"fetch-depth": 0, "persist-credentials": False}


def test_plan_installs_the_requirements_on_python_3_11():
    plan, _ = plan_jobs()
    (setup,) = uses_of(plan, "actions/setup-python")
    assert setup["with"]["python-version"] == "3.11"
    assert step_named(plan, "Install the program's dependencies")["run"] == (
        "python -m pip install -r requirements-dev.lock"
    )


def test_plan_diffs_against_the_base_branch_given_through_the_environment():
    step = step_named(plan_jobs()[0], "Plan against the base branch")
    assert step["env"] == {"BASE_REF": "${{ github.base_ref }}"}
    assert 'python -m plan dev --markdown --cost --base "origin/$BASE_REF"' in step["run"]
    assert '>> "$GITHUB_STEP_SUMMARY"' in step["run"]


def test_only_a_same_repository_pull_request_gets_a_comment_and_no_code_runs_there():
    plan, comment = plan_jobs()
    # Also after a plan refused by the guardrails (it still hands its comment on).
    assert comment["if"] == (
        f"${{{{ !cancelled() && needs.plan.outputs.comment != '' && {FORK_GUARD} }}}}"
    )
    assert comment["needs"] == "plan"
    assert comment["permissions"] == {"pull-requests": "write"}
    # The writing job never checks out or runs the pull request's code.
    assert [s for s in comment["steps"] if "uses" in s] == []
    assert plan["outputs"] == {"comment": "${{ steps.plan.outputs.comment }}"}
    step = step_named(comment, "Create or update the plan comment")
    assert step["env"]["GH_TOKEN"] == "${{ github.token }}"
    assert step["env"]["BODY"] == "${{ needs.plan.outputs.comment }}"


def test_a_new_push_to_a_pull_request_cancels_its_running_plan():
    assert load("plan.yml")["concurrency"] == {
        "group": "plan-${{ github.event.pull_request.number }}",
        "cancel-in-progress": True,
    }


# --- migrations.yml ----------------------------------------------------------------------------


def test_the_migration_check_runs_when_a_pull_request_changes_the_migrations():
    workflow = load("migrations.yml")
    assert workflow["on"] == {"pull_request": {"paths": ["app/migrations/**"]}}
    job = workflow["jobs"]["check"]
    assert "if" not in job  # forks too: it needs no secret and writes nothing
    assert job["permissions"] == {"contents": "read"}
    (checkout,) = uses_of(job, "actions/checkout")
    assert checkout["with"] == {"fetch-depth": 0, "persist-credentials": False}
    assert workflow["concurrency"] == {
        "group": "migrations-${{ github.event.pull_request.number }}",
        "cancel-in-progress": True,
    }


def test_the_migration_check_gets_the_same_postgres_as_the_tests():
    job = load("migrations.yml")["jobs"]["check"]
    assert job["services"] == load("test.yml")["jobs"]["test"]["services"]
    assert job["env"] == {"TEST_DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:5432/test"}


def test_the_migration_check_plans_prod_against_the_base_branch_with_the_check():
    job = load("migrations.yml")["jobs"]["check"]
    assert step_named(job, "Install the requirements")["run"] == (
        "python -m pip install -r requirements-dev.lock"
    )
    step = step_named(job, "Plan prod with the migration check")
    assert step["env"] == {"BASE_REF": "${{ github.base_ref }}"}
    assert (
        'python -m plan prod --markdown --base "origin/$BASE_REF" --check-migrations' in step["run"]
    )
    assert '>> "$GITHUB_STEP_SUMMARY"' in step["run"]
    assert step["run"].rstrip().endswith('exit "$status"')


def github_outputs(path: Path) -> dict[str, str]:
    """Parse $GITHUB_OUTPUT as the runner does: name=value, or name<<DELIMITER ... DELIMITER."""
    outputs: dict[str, str] = {}
    lines = iter(path.read_text().splitlines())
    for line in lines:
        if "<<" in line:
            name, delimiter = line.split("<<", 1)
            body = []
            for inner in lines:
                if inner == delimiter:
                    break
                body.append(inner)
            else:
                raise AssertionError(f"output {name}: no closing {delimiter}")
            outputs[name] = "\n".join(body)
        else:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


def run_script(
    script: str, tmp_path: Path, env: dict[str, str], stubs: dict[str, str], status: int = 0
) -> None:
    """Run a workflow step's script under bash -e, as the runner does, with stub commands;
    it must exit with ``status``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, body in stubs.items():
        stub = bin_dir / name
        stub.write_text(f"#!{sys.executable}\n{body}")
        stub.chmod(0o755)
    for name in ("GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT"):
        (tmp_path / name).touch()
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-e", "-c", script],
        cwd=tmp_path,
        env={
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "RUNNER_TEMP": str(tmp_path),
            "GITHUB_STEP_SUMMARY": str(tmp_path / "GITHUB_STEP_SUMMARY"),
            "GITHUB_OUTPUT": str(tmp_path / "GITHUB_OUTPUT"),
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_REPOSITORY": "owner/repo",
            "GITHUB_RUN_ID": "42",
            "STUB_LOG": str(tmp_path / "calls.jsonl"),
            **env,
        },
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == status, result.stderr


def stub_calls(tmp_path: Path) -> list[list[str]]:
    log = tmp_path / "calls.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


# A stand-in for `python -m plan`: logs its arguments, prints the plan in $STUB_PLAN.
FAKE_PYTHON = """import json, os, sys
with open(os.environ["STUB_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
sys.stdout.write(open(os.environ["STUB_PLAN"]).read())
sys.exit(int(os.environ.get("STUB_EXIT", "0")))
"""


@pytest.mark.parametrize(
    ("size", "status"),
    [("short", 0), ("too long for a comment", 0), ("short", 1)],
    ids=["short", "too long for a comment", "refused by the guardrails"],
)
def test_the_plan_step_writes_the_summary_and_hands_the_comment_on(tmp_path, size, status):
    plan = "### Offline plan\n\nEOF\ncomment<<EOF\n$(touch pwned) `x`\n"
    if size != "short":
        plan += "x" * 70_000 + "\n"
    (tmp_path / "plan.in").write_text(plan)
    step = step_named(plan_jobs()[0], "Plan against the base branch")
    run_script(
        step["run"],
        tmp_path,
        {"BASE_REF": "main", "STUB_PLAN": str(tmp_path / "plan.in"), "STUB_EXIT": str(status)},
        {"python": FAKE_PYTHON},
        status=status,
    )
    assert stub_calls(tmp_path) == [
        ["-m", "plan", "dev", "--markdown", "--cost", "--base", "origin/main"]
    ]
    assert (tmp_path / "GITHUB_STEP_SUMMARY").read_text() == plan
    comment = github_outputs(tmp_path / "GITHUB_OUTPUT")["comment"]
    if size == "short":
        # Whole, whatever lines it holds: a line "EOF" does not end the output.
        assert comment == plan.rstrip("\n")
    else:
        assert len(comment) < 1000
        assert "https://github.com/owner/repo/actions/runs/42" in comment
    assert not (tmp_path / "pwned").exists()


# A stand-in for `gh api`: answers the listing with $STUB_COMMENTS through the real jq (as gh's
# --jq does), logs every call with the JSON body it would send.
FAKE_GH = """import json, os, subprocess, sys
args = sys.argv[1:]
call = list(args)
if "--input" in args:
    call.append(json.load(open(args[args.index("--input") + 1])))
with open(os.environ["STUB_LOG"], "a") as log:
    log.write(json.dumps(call) + "\\n")
if "--jq" in args:
    page = open(os.environ["STUB_COMMENTS"]).read()
    jq = subprocess.run(["jq", "-r", args[args.index("--jq") + 1]], input=page, text=True,
                        capture_output=True, check=True)
    sys.stdout.write(jq.stdout)
"""
MARKER = "<!-- offline-plan: dev -->"
BODY = '### Offline plan\n\n**0 to add.** `$(whoami)` "quoted" \\ backslash'


def run_comment_step(tmp_path: Path, comments: list[dict[str, Any]]) -> list[list[Any]]:
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed (GitHub's runners have it)")
    (tmp_path / "comments.json").write_text(json.dumps(comments))
    step = step_named(plan_jobs()[1], "Create or update the plan comment")
    run_script(
        step["run"],
        tmp_path,
        {
            "GH_TOKEN": "token",
            "GH_REPO": "owner/repo",
            "PR_NUMBER": "7",
            "BODY": BODY,
            "STUB_COMMENTS": str(tmp_path / "comments.json"),
        },
        {"gh": FAKE_GH},
    )
    return stub_calls(tmp_path)


def bot(comment_id: int, body: str) -> dict[str, Any]:
    return {"id": comment_id, "user": {"login": "github-actions[bot]"}, "body": body}


def test_the_first_plan_comment_is_created_with_the_marker_and_the_exact_body(tmp_path):
    # The Pulumi preview's comment is the bot's last one: it must not be touched.
    calls = run_comment_step(tmp_path, [bot(5, "#### :tropical_drink: `preview` on dev")])
    assert [c[:3] for c in calls[1:]] == [["api", "--method", "POST"]]
    assert calls[1][3] == "repos/owner/repo/issues/7/comments"
    assert calls[1][-1] == {"body": f"{MARKER}\n{BODY}\n"}


def test_a_later_plan_edits_the_bots_own_marked_comment_in_place(tmp_path):
    calls = run_comment_step(
        tmp_path,
        [
            bot(11, f"{MARKER}\nthe last plan"),
            bot(12, "#### :tropical_drink: `preview` on dev"),
            # Someone quoting the marker: not the bot's comment, never edited.
            {"id": 13, "user": {"login": "someone"}, "body": f"{MARKER}\nquoted"},
        ],
    )
    assert [c[:4] for c in calls[1:]] == [
        ["api", "--method", "PATCH", "repos/owner/repo/issues/comments/11"]
    ]
    assert calls[1][-1] == {"body": f"{MARKER}\n{BODY}\n"}


# --- deploy.yml --------------------------------------------------------------------------------


def deploy_job() -> dict[str, Any]:
    return load("deploy.yml")["jobs"]["deploy"]


def test_deploy_runs_on_push_to_main_and_by_hand_for_a_chosen_stack():
    on = load("deploy.yml")["on"]
    assert on["push"] == {"branches": ["main"]}
    stack = on["workflow_dispatch"]["inputs"]["stack"]
    assert stack["type"] == "choice"
    assert stack["options"] == ["dev", "prod"]


def test_each_stack_deploys_in_its_own_github_environment():
    assert deploy_job()["environment"] == "${{ inputs.stack || 'dev' }}"


DEFAULT_BRANCH_ONLY = (
    "github.ref == format('refs/heads/{0}', github.event.repository.default_branch)"
)


def github_expression_true(expression: str, context: dict[str, Any]) -> bool:
    """A job or step condition, evaluated as GitHub does for the forms these workflows use:
    conditions joined by ``&&``, ``!cancelled()``, the default-branch test (``format``
    substitutes {0}; ``==`` compares strings case-insensitively) and ``path == 'text'`` /
    ``path != 'text'`` on the given context values. Anything else fails the test."""
    result = True
    for atom in (a.strip() for a in expression.split("&&")):
        if atom == "!cancelled()":
            ok = not context.get("cancelled", False)
        elif atom == DEFAULT_BRANCH_ONLY:
            ok = context["github.ref"].lower() == f"refs/heads/{context['default_branch']}".lower()
        elif match := re.fullmatch(r"([\w.-]+) (==|!=) '([^']*)'", atom):
            equal = str(context[match[1]]).lower() == match[3].lower()
            ok = equal if match[2] == "==" else not equal
        else:
            raise AssertionError(f"the test evaluator does not know {atom!r}")
        result = result and ok
    return result


def deploy_runs(ref: str = "refs/heads/main", **context: Any) -> bool:
    values = {
        "github.ref": ref,
        "default_branch": "main",
        "needs.promotion.result": "success",
        "needs.source.result": "skipped",
        **context,
    }
    return github_expression_true(deploy_job()["if"], values)


@pytest.mark.parametrize(
    ("ref", "runs"),
    [("refs/heads/main", True), ("refs/heads/feature", False), ("refs/tags/v1", False)],
)
def test_deploys_run_only_on_the_default_branch_whatever_the_trigger(ref, runs):
    # workflow_dispatch lets anyone with write access pick a branch; this skips other branches.
    promotion = load("deploy.yml")["jobs"]["promotion"]
    assert promotion["if"] == DEFAULT_BRANCH_ONLY
    assert (
        github_expression_true(promotion["if"], {"github.ref": ref, "default_branch": "main"})
        is runs
    )
    assert deploy_runs(ref) is runs


@pytest.mark.parametrize(
    ("source", "runs"),
    [("skipped", True), ("success", True), ("failure", False), ("cancelled", True)],
)
def test_a_refused_promotion_stops_the_deploy(source, runs):
    # `skipped`: the stack builds its own image. A cancelled run stops everything anyway.
    assert deploy_runs(**{"needs.source.result": source}) is runs
    assert deploy_runs(cancelled=True, **{"needs.source.result": source}) is False
    assert deploy_runs(**{"needs.promotion.result": "failure"}) is False


def steps_that_run(job: dict[str, Any], promoted_from: str) -> list[dict[str, Any]]:
    context = {"needs.promotion.outputs.from": promoted_from}
    return [s for s in job["steps"] if "if" not in s or github_expression_true(s["if"], context)]


def test_prods_deploy_job_has_no_build_step_when_its_stack_file_promotes():
    from ops.promotion import promoted_from

    source, _ = promoted_from("prod")
    assert source == "dev", "Pulumi.prod.yaml promotes dev's image"
    running = steps_that_run(deploy_job(), source)
    assert not [s for s in running if s.get("uses", "").startswith("docker/setup-buildx-action@")]
    assert not [s for s in running if re.search(r"docker (buildx )?build", s.get("run", ""))]
    assert "Deploy the promoted image" in [s.get("name") for s in running]
    # The program builds nothing either: tests/test_promotion.py renders prod without a
    # docker.Image. And the job that reads the digest runs for prod only.
    assert load("deploy.yml")["jobs"]["source"]["if"] == "needs.promotion.outputs.from != ''"


def test_devs_deploy_job_builds_with_buildx_and_sets_no_digest():
    from ops.promotion import promoted_from

    assert promoted_from("dev") == (None, None)
    running = steps_that_run(deploy_job(), "")
    assert [s for s in running if s.get("uses", "").startswith("docker/setup-buildx-action@")]
    assert "Deploy the promoted image" not in [s.get("name") for s in running]


def test_the_promoted_digest_reaches_the_program_and_the_summary_through_the_environment():
    (step,) = [s for s in deploy_job()["steps"] if s.get("name") == "Deploy the promoted image"]
    assert step["env"]["DIGEST"] == "${{ needs.source.outputs.digest }}"
    assert step["env"]["SOURCE"] == "${{ needs.source.outputs.source }}"
    assert 'pulumi config set --path image.digest "$DIGEST"' in step["run"]
    assert "GITHUB_STEP_SUMMARY" in step["run"] and "$SOURCE" in step["run"]
    steps_ = deploy_job()["steps"]
    _, up = uses_of(deploy_job(), "pulumi/actions")
    assert steps_.index(step) < steps_.index(up)


def test_a_manual_digest_overrides_the_one_dev_runs_and_is_checked_in_devs_account():
    on = load("deploy.yml")["on"]
    assert on["workflow_dispatch"]["inputs"]["digest"]["type"] == "string"
    source = load("deploy.yml")["jobs"]["source"]
    assert source["environment"] == "${{ needs.promotion.outputs.from }}"
    (check,) = [s for s in source["steps"] if s.get("id") == "check"]
    assert check["env"]["DIGEST_OVERRIDE"] == "${{ inputs.digest }}"
    assert '--digest "$DIGEST_OVERRIDE"' in check["run"]
    assert "python -m ops.promotion source" in check["run"]
    assert source["outputs"]["digest"] == "${{ steps.check.outputs.digest }}"


def test_deploys_of_one_stack_queue_and_are_never_cancelled():
    assert deploy_job()["concurrency"] == {
        "group": "deploy-${{ inputs.stack || 'dev' }}",
        "cancel-in-progress": False,
    }


def test_deploy_gets_read_access_and_an_oidc_token_only():
    assert deploy_job()["permissions"] == {"contents": "read", "id-token": "write"}


def test_deploy_assumes_the_deploy_role_through_oidc():
    (aws,) = uses_of(deploy_job(), "aws-actions/configure-aws-credentials")
    assert aws["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    assert not {"aws-access-key-id", "aws-secret-access-key"} & set(aws["with"])


def test_deploy_sets_up_buildx_and_runs_pulumi_up():
    job = deploy_job()
    assert uses_of(job, "docker/setup-buildx-action")
    _, run = uses_of(job, "pulumi/actions")
    assert run["with"]["command"] == "up"
    assert INSTALL_INTO_VENV in [s.get("run") for s in job["steps"]]


ECR_LOGIN_STEP = "Log in to the stack's ECR registry"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_a_deploy_that_builds_logs_in_to_ecr_before_pulumi_up(stack):
    """pulumi-docker pushes with the Docker config's login only (components/image.py,
    PUSH_CREDENTIALS): a building deploy without it fails its push; one that builds nothing
    (prod promotes) needs none."""
    from ops.promotion import promoted_from

    source, _ = promoted_from(stack)
    running = steps_that_run(deploy_job(), source or "")
    logins = [s for s in running if "docker login" in s.get("run", "")]
    builds = [s for s in running if s.get("uses", "").startswith("docker/setup-buildx-action@")]
    (up,) = [s for s in running if s.get("with", {}).get("command") == "up"]
    if not builds:
        assert stack == "prod" and logins == []
        return
    (login,) = logins
    assert login["name"] == ECR_LOGIN_STEP
    assert running.index(login) < running.index(up)
    assert "set -x" not in login["run"] and "--password " not in login["run"]


# Stand-ins for the login step: `pulumi config get aws:region` answers $STUB_REGION (nothing,
# and a failure, when unset); `aws` answers the account and the login password; `docker` logs
# its arguments and what it read on standard input.
FAKE_PULUMI_CONFIG = """import json, os, sys
with open(os.environ["STUB_LOG"], "a") as log:
    log.write(json.dumps(["pulumi", *sys.argv[1:]]) + "\\n")
if sys.argv[1:3] == ["config", "get"]:
    if not os.environ.get("STUB_REGION"):
        sys.exit("error: configuration key 'aws:region' not found for stack 'dev'")
    print(os.environ["STUB_REGION"])
"""
FAKE_AWS = """import json, os, sys
with open(os.environ["STUB_LOG"], "a") as log:
    log.write(json.dumps(["aws", *sys.argv[1:]]) + "\\n")
if sys.argv[1:3] == ["sts", "get-caller-identity"]:
    print("111111111111")
elif sys.argv[1:3] == ["ecr", "get-login-password"]:
    sys.stdout.write("ecr-password-from-the-pipe")
    sys.exit(int(os.environ.get("STUB_AWS_EXIT", "0")))
"""
FAKE_DOCKER = """import json, os, sys
stdin = sys.stdin.read()
with open(os.environ["STUB_LOG"], "a") as log:
    log.write(json.dumps(["docker", *sys.argv[1:], {"stdin": stdin}]) + "\\n")
sys.exit(0 if stdin else 1)
"""


@pytest.mark.parametrize(
    ("stack_region", "runner_region", "registry"),
    [
        ("eu-west-1", "us-east-1", "111111111111.dkr.ecr.eu-west-1.amazonaws.com"),
        ("", "us-east-2", "111111111111.dkr.ecr.us-east-2.amazonaws.com"),
        ("cn-north-1", "us-east-1", "111111111111.dkr.ecr.cn-north-1.amazonaws.com.cn"),
    ],
    ids=["the stack's region", "no aws:region: the runner's", "China"],
)
def test_the_ecr_login_pipes_the_password_to_the_stacks_registry(
    tmp_path, stack_region, runner_region, registry
):
    step = step_named(deploy_job(), ECR_LOGIN_STEP)
    env = {
        "STACK_NAME": "org/dev",
        "AWS_REGION": runner_region,
        "STUB_REGION": stack_region,
        "PULUMI_BACKEND_URL": "s3://state-dev",
    }
    stubs = {"pulumi": FAKE_PULUMI_CONFIG, "aws": FAKE_AWS, "docker": FAKE_DOCKER}
    run_script(step["run"], tmp_path, env, stubs)
    calls = stub_calls(tmp_path)
    assert calls[:2] == [
        ["pulumi", "login", "s3://state-dev"],
        ["pulumi", "config", "get", "aws:region", "--stack", "org/dev"],
    ]
    region = registry.split(".")[3]
    assert ["aws", "ecr", "get-login-password", "--region", region] in calls
    assert calls[-1] == [
        "docker", "login", "--username", "AWS", "--password-stdin", registry,
        {"stdin": "ecr-password-from-the-pipe"},
    ]  # fmt: skip
    arguments = [a for call in calls for a in call if isinstance(a, str)]
    assert not any("ecr-password-from-the-pipe" in a for a in arguments)


def test_a_failed_ecr_login_fails_the_step_before_pulumi_up(tmp_path):
    step = step_named(deploy_job(), ECR_LOGIN_STEP)
    env = {"STACK_NAME": "dev", "AWS_REGION": "us-east-1", "STUB_REGION": "us-east-1"}
    env["STUB_AWS_EXIT"] = "255"  # say, the role may not call ecr:GetAuthorizationToken
    stubs = {"pulumi": FAKE_PULUMI_CONFIG, "aws": FAKE_AWS, "docker": FAKE_DOCKER}
    run_script(step["run"], tmp_path, env, stubs, status=255)


def test_the_deploy_job_uses_no_cache():
    text = yaml.safe_dump(deploy_job()["steps"])
    assert "cache" not in text
    assert not any(s.get("uses", "").startswith("actions/cache") for s in deploy_job()["steps"])


# A stand-in for `pulumi` and for the venv's python: log the arguments; `stack output` and
# `stack history` print JSON.
FAKE_PULUMI = """import json, os, sys
with open(os.environ["STUB_LOG"], "a") as log:
    log.write(json.dumps(["pulumi", *sys.argv[1:]]) + "\\n")
if sys.argv[1:3] == ["stack", "output"]:
    print(json.dumps({"image": "repo@sha256:abc"}))
if sys.argv[1:3] == ["stack", "history"]:
    print(json.dumps([{"kind": "update", "result": "succeeded", "version": 3}]))
"""
FAKE_VENV_PYTHON = """import json, os, sys
with open(os.environ["STUB_LOG"], "a") as log:
    log.write(json.dumps(["python", *sys.argv[1:]]) + "\\n")
"""


@pytest.mark.parametrize("backend", ["s3://state-dev", ""])
def test_the_source_check_reads_devs_outputs_and_history_and_passes_the_override_as_data(
    tmp_path, backend
):
    step = step_named(load("deploy.yml")["jobs"]["source"], "Check what the source stack runs")
    venv = tmp_path / ".venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").write_text(f"#!{sys.executable}\n{FAKE_VENV_PYTHON}")
    (venv / "python").chmod(0o755)
    override = "$(touch pwned) `touch pwned2`"
    env = {
        "STACK": "prod",
        "SOURCE_STACK_NAME": "org/dev",
        "DIGEST_OVERRIDE": override,
        "GITHUB_SHA": "a" * 40,
        "GITHUB_ACTOR": "ann",
        "PULUMI_BACKEND_URL": backend,
    }
    run_script(step["run"], tmp_path, env, {"pulumi": FAKE_PULUMI})
    calls = stub_calls(tmp_path)
    assert calls[0] == (["pulumi", "login", backend] if backend else ["pulumi", "login"])
    assert calls[1] == ["pulumi", "stack", "output", "--json", "--stack", "org/dev"]
    assert calls[2][:3] == ["pulumi", "stack", "history"] and calls[2][-2:] == [
        "--stack",
        "org/dev",
    ]
    assert calls[3] == [
        "python", "-m", "ops.promotion", "source", "--target", "prod",
        "--outputs", str(tmp_path / "outputs.json"), "--history", str(tmp_path / "history.json"),
        "--commit", "a" * 40, "--digest", override, "--actor", "ann",
    ]  # fmt: skip
    assert json.loads((tmp_path / "outputs.json").read_text()) == {"image": "repo@sha256:abc"}
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "pwned2").exists()


def test_the_deploy_sets_the_promoted_digest_and_writes_where_it_came_from(tmp_path):
    step = step_named(deploy_job(), "Deploy the promoted image")
    digest = "sha256:" + "b" * 64
    env = {
        "STACK": "prod",
        "STACK_NAME": "org/prod",
        "DIGEST": digest,
        "IMAGE": f"111111111111.dkr.ecr.us-east-1.amazonaws.com/app@{digest}",
        "SOURCE": "dev: what dev runs: its deploy of aaaaaaaaaaaa, rollout check passed",
        "PULUMI_BACKEND_URL": "s3://state-prod",
    }
    run_script(step["run"], tmp_path, env, {"pulumi": FAKE_PULUMI})
    assert stub_calls(tmp_path) == [
        ["pulumi", "login", "s3://state-prod"],
        ["pulumi", "config", "set", "--path", "image.digest", digest, "--stack", "org/prod"],
    ]
    summary = (tmp_path / "GITHUB_STEP_SUMMARY").read_text()
    assert env["IMAGE"] in summary and digest in summary
    assert "from stack dev: what dev runs" in summary and "Nothing was built for prod" in summary


# --- pins.yml ----------------------------------------------------------------------------------


def test_pins_run_weekly_and_by_hand_and_only_push_a_branch_and_open_a_pull_request():
    workflow = load("pins.yml")
    assert set(workflow["on"]) == {"schedule", "workflow_dispatch"}
    (job,) = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}
    scripts = "\n".join(s.get("run", "") for s in job["steps"])
    assert "scripts/pin-build-inputs" in scripts
    # Piped into tee: without pipefail an unreachable registry (exit 2) would pass unnoticed.
    assert scripts.index("set -o pipefail") < scripts.index("scripts/pin-build-inputs |")
    # The token never lands in the checkout's config: it reaches the push by environment.
    assert "git push" in scripts and "GIT_CONFIG_VALUE_0" in scripts
    assert "git config --global" not in scripts and "remote set-url" not in scripts
    assert not reads_secrets(job)


# --- Backend choice by variables ---------------------------------------------------------------


@pytest.mark.parametrize(("name", "job"), [("preview.yml", "preview"), ("deploy.yml", "deploy")])
def test_the_backend_is_chosen_by_variables_not_by_editing_yaml(name, job):
    _, run = uses_of(load(name)["jobs"][job], "pulumi/actions")
    # Set: that s3:// backend. Empty: Pulumi Cloud with the token.
    assert run["with"]["cloud-url"] == "${{ vars.PULUMI_BACKEND_URL }}"
    assert run["env"] == {"PULUMI_ACCESS_TOKEN": "${{ secrets.PULUMI_ACCESS_TOKEN }}"}


def reads_secrets(job: dict[str, Any]) -> bool:
    return re.search(r"\$\{\{[^}]*\bsecrets\.", yaml.safe_dump(job, width=1000)) is not None


def jobs_reading_secrets() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (name, job_id, job)
        for name in all_workflows()
        for job_id, job in load(name)["jobs"].items()
        if reads_secrets(job)
    ]


def test_no_repository_secret_reaches_pull_request_code():
    # Every job that reads a secret runs in a GitHub environment, whose protection rules
    # (reviewers, branches) come before the secret; the preview job in `preview`.
    found = jobs_reading_secrets()
    assert {(n, j) for n, j, _ in found} == {
        ("preview.yml", "preview"),
        ("deploy.yml", "deploy"),
        ("deploy.yml", "source"),
    }
    assert all(job.get("environment") for _, _, job in found)
    assert load("preview.yml")["jobs"]["preview"]["environment"] == "preview"


def test_the_secret_check_sees_secrets_in_any_expression():
    assert reads_secrets({"steps": [{"env": {"T": "${{ secrets.T }}"}}]})
    assert reads_secrets({"steps": [{"with": {"t": "${{ github.token || secrets.T }}"}}]})
    assert not reads_secrets({"steps": [{"env": {"T": "${{ github.token }}"}}]})


def test_zizmor_auditor_persona_finds_nothing():
    zizmor = shutil.which("zizmor") or str(Path(sys.executable).with_name("zizmor"))
    if not Path(zizmor).exists():
        pytest.fail("zizmor is not installed: pip install -r requirements-dev.txt")
    result = subprocess.run(
        [zizmor, "--persona=auditor", "--offline", "--format=plain", str(WORKFLOWS)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


# --- The policy pack ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "job", "config"),
    [
        ("preview.yml", "preview", "policy/config.dev.json"),
        ("deploy.yml", "deploy", "policy/config.${{ env.STACK }}.json"),
    ],
)
def test_preview_and_deploy_run_the_policy_pack_with_the_stacks_policy_config(name, job, config):
    steps_ = load(name)["jobs"][job]["steps"]
    _, run = uses_of(load(name)["jobs"][job], "pulumi/actions")
    assert run["with"]["policyPacks"] == "policy"
    assert run["with"]["policyPackConfigs"] == config
    # The CLI runs the pack in .venv (policy/PulumiPolicy.yaml) but does not create it.
    install = [i for i, s in enumerate(steps_) if s.get("run") == INSTALL_INTO_VENV]
    assert install and install[0] < steps_.index(run)


def test_every_stack_the_deploy_offers_has_its_stack_file_and_policy_config():
    root = WORKFLOWS.parent.parent
    for stack in load("deploy.yml")["on"]["workflow_dispatch"]["inputs"]["stack"]["options"]:
        assert (root / f"Pulumi.{stack}.yaml").is_file()
        assert (root / "policy" / f"config.{stack}.json").is_file()
