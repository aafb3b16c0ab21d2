"""``.venv/bin/python -m ops STACK status | logs [--follow] [--since 10m] | exec [-- CMD] |
events | secrets list | secrets set NAME | secrets get NAME``.

Errors a user can fix (no outputs yet, no credentials, no plugin, a destroyed service) are
printed as one message with the fix, exit code 2; never a traceback. Each subcommand's help
says what it does and what it needs (``NEEDS``); docs/operations.md lists the same IAM actions
per command, and a test checks both against the calls the commands make.
"""

from __future__ import annotations

import argparse
import getpass
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import boto3
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    ProfileNotFound,
    TokenRetrievalError,
)

from ops import commands
from ops.stack import OpsError, load_outputs, stack_region

_CREDENTIAL_CODES = {
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "AccessDenied",
    "AccessDeniedException",
}


DOCS = "docs/operations.md#what-each-command-needs"
# What every command needs before it asks AWS anything.
COMMON_NEEDS = (
    "the stack's outputs (`pulumi stack output --json`: the Pulumi CLI logged in to the stack's "
    "backend, or --outputs FILE) and AWS credentials for the stack's account (your usual "
    "profile or SSO session, or --profile NAME)"
)
# Per command: what it does, and the IAM actions it calls (docs/operations.md has the same).
NEEDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "status": (
        "Show the service: running, pending and desired tasks, deployments and their rollout "
        "state, the image and the digests running, the last migration, alarms in ALARM, CPU "
        "and memory against the utilization band, and recent events.",
        (
            "ecs:DescribeServices",
            "ecs:ListTasks",
            "ecs:DescribeTasks",
            "cloudwatch:DescribeAlarms",
            "cloudwatch:GetMetricStatistics",
        ),
    ),
    "logs": (
        "Print the app's log events from the stack's log group since --since ago, optionally "
        "filtered by a CloudWatch Logs pattern; --follow keeps printing new ones (for an hour "
        "at most).",
        ("logs:FilterLogEvents",),
    ),
    "events": (
        "Print the ECS service's recent events (deployments, steady state, failed health "
        "checks, placement problems), newest first.",
        ("ecs:DescribeServices",),
    ),
    "exec": (
        "Open an interactive shell (or run CMD) in the app container of a running task through "
        "ECS Exec, as `aws ecs execute-command` does. Needs also: the Session Manager plugin "
        "(session-manager-plugin on PATH) and ECS Exec turned on for the stack (service.exec: "
        "auto is on for development stacks and off in production; `pulumi config set --path "
        "service.exec on` then `pulumi up`), which gives the task role the ssmmessages "
        "permissions the session needs.",
        ("ecs:ListTasks", "ecs:DescribeTasks", "ecs:ExecuteCommand"),
    ),
    "secrets": (
        "List the app's secrets (name, whether it has a value, when it last changed; never a "
        "value), set one from standard input or a silent prompt (never a command-line "
        "argument), or print one. Works before the first deploy has outputs: the region comes "
        "from the outputs, `pulumi config get aws:region` or --region. Each action needs only "
        "its own permission: list ListSecrets and ListSecretVersionIds, set DescribeSecret and "
        "PutSecretValue, get DescribeSecret and GetSecretValue.",
        (
            "secretsmanager:ListSecrets",
            "secretsmanager:ListSecretVersionIds",
            "secretsmanager:DescribeSecret",
            "secretsmanager:PutSecretValue",
            "secretsmanager:GetSecretValue",
        ),
    ),
}


def _subcommand(sub: Any, name: str, summary: str) -> argparse.ArgumentParser:
    """A subcommand whose --help says what it does and what it needs."""
    does, actions = NEEDS[name]
    return sub.add_parser(
        name,
        help=summary,
        description=does,
        epilog=(f"Needs: {COMMON_NEEDS}; IAM permissions: {', '.join(actions)}. Details: {DOCS}."),
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=".venv/bin/python -m ops",
        description="Look at and into a deployed stack: its service, logs, events and tasks.",
        epilog=f"Every command needs {COMMON_NEEDS}. IAM permissions per command: {DOCS}.",
    )
    p.add_argument("stack", help="the stack (its outputs say where the service is)")
    p.add_argument(
        "--outputs",
        type=Path,
        help="a JSON file of `pulumi stack output --json` instead of asking the Pulumi CLI",
    )
    p.add_argument("--profile", help="the AWS profile to use (default: the usual credential chain)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _subcommand(sub, "status", "tasks, deployments, image, migration, alarms, utilization")
    logs = _subcommand(sub, "logs", "the app's logs")
    logs.add_argument("--since", default="10m", help="how far back: 30s, 10m, 2h, 1d (10m)")
    logs.add_argument("--filter", dest="pattern", help="a CloudWatch Logs filter pattern")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new events")
    events = _subcommand(sub, "events", "the service's recent events, newest first")
    events.add_argument("--limit", type=int, default=20, help="how many (20)")
    run = _subcommand(
        sub, "exec", "a shell (or CMD) in a running task, via ECS Exec (Session Manager plugin)"
    )
    run.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD ... (default /bin/sh)")
    secrets = _subcommand(sub, "secrets", "the app's secrets: list, set NAME, get NAME")
    secrets.add_argument(
        "--region", help="the stack's region (default: its outputs' or aws:region)"
    )
    actions = secrets.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="names, whether each has a value, when it changed")
    setter = actions.add_parser(
        "set", help="a new value, from standard input or a prompt (never an argument)"
    )
    setter.add_argument("name")
    # Only to refuse it with a reason: a value typed here lands in shell history and `ps`.
    setter.add_argument("value", nargs="?", help=argparse.SUPPRESS)
    getter = actions.add_parser("get", help="print the value")
    getter.add_argument("name")
    return p


def main(
    argv: Sequence[str] | None = None,
    *,
    write: Callable[[str], None] = print,
    error: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
    which: Callable[[str], str | None] = shutil.which,
    run: Callable[..., Any] = subprocess.run,
    session_factory: Callable[..., boto3.Session] = boto3.Session,
    stdin: TextIO | None = None,
    prompt: Callable[[str], str] = getpass.getpass,
) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "secrets":
            return _secrets(args, write, which, run, session_factory, stdin or sys.stdin, prompt)
        outputs = load_outputs(args.stack, args.outputs, which=which, run=run)
        session = session_factory(profile_name=args.profile, region_name=outputs.region)
        if args.command == "status":
            commands.status(outputs, session, write)
        elif args.command == "events":
            commands.events(outputs, session, write, limit=args.limit)
        elif args.command == "logs":
            commands.logs(
                outputs,
                session,
                write,
                since=commands.parse_since(args.since),
                pattern=args.pattern,
                follow=args.follow,
            )
        else:
            cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
            return commands.exec_(outputs, session, write, cmd, which=which, run=run)
        return 0
    except OpsError as exc:
        error(f"error: {exc}")
    except (NoCredentialsError, TokenRetrievalError, ProfileNotFound) as exc:
        error(
            f"error: no usable AWS credentials ({exc}). Sign in (`aws sso login`, or set "
            f"AWS_PROFILE / AWS_ACCESS_KEY_ID) with access to the stack's account, then retry."
        )
    except NoRegionError:
        error("error: no AWS region: the stack's outputs name none; pass it with AWS_REGION.")
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        message = exc.response.get("Error", {}).get("Message", str(exc))
        if code in _CREDENTIAL_CODES:
            error(
                f"error: AWS refused the credentials ({code}: {message}). Sign in again, or use "
                f"a profile allowed to read the stack (--profile)."
            )
        elif code in (
            "ClusterNotFoundException",
            "ServiceNotFoundException",
            "ResourceNotFoundException",
        ):
            error(
                f"error: {message}. The stack may have been destroyed, or its outputs are out "
                f"of date: `pulumi up --stack {args.stack}`."
            )
        else:
            error(f"error: AWS answered {code}: {message}")
    except BotoCoreError as exc:
        error(f"error: could not reach AWS: {exc}")
    except KeyboardInterrupt:
        return 130
    return 2


def _secrets(
    args: argparse.Namespace,
    write: Callable[[str], None],
    which: Callable[[str], str | None],
    run: Callable[..., Any],
    session_factory: Callable[..., boto3.Session],
    stdin: TextIO,
    prompt: Callable[[str], str],
) -> int:
    """``secrets list|set|get``: they work before the first successful deploy too (the release
    phase of a first ``pulumi up`` asks for values), so the stack's outputs are optional."""
    from ops import secrets  # imports the program's naming (pulumi_aws): only when needed

    if args.action == "set" and args.value is not None:
        raise OpsError(
            f"the value is not taken as an argument (it would stay in your shell history and be "
            f"visible in `ps`): pipe it, `.venv/bin/python -m ops {args.stack} secrets set {args.name} < "
            f"file`, or run without it and type it at the prompt."
        )
    try:
        outputs = load_outputs(args.stack, args.outputs, which=which, run=run).values
    except OpsError:
        outputs = {}
    region = args.region or outputs.get("region") or stack_region(args.stack, which=which, run=run)
    session = session_factory(profile_name=args.profile, region_name=region)
    if args.action == "list":
        secrets.list_secrets(args.stack, session, write)
    elif args.action == "get":
        secrets.get_secret(args.stack, session, write, args.name)
    else:
        value = secrets.read_value(args.name, stdin, prompt)
        secrets.set_secret(args.stack, session, write, args.name, value, outputs)
    return 0
