"""Guardrails for what a container may do to its host and to itself (every stack, mandatory).

What a security review checks first in a task definition, and what the AWS Config rules behind
Security Hub's ECS controls read (a review reads the task definition, not the image):

* ``container-read-only-root``: every container has ``readonlyRootFilesystem: true``, so a
  compromised process cannot change the image's code or plant files (``ecs-containers-readonly-
  access``); the app writes to a task volume (``/tmp`` in this project);
* ``container-non-root-user``: every container names a ``user`` that is not root (uid 0): an
  unset user runs as whatever the image says, root by default (``ecs-task-definition-linux-
  user-non-root`` is NON_COMPLIANT for an unset user too);
* ``container-not-privileged``: no container is ``privileged`` (``ecs-containers-nonprivileged``);
* ``container-no-added-capabilities``: no container adds a Linux capability
  (``linuxParameters.capabilities.add``); this project drops them all.

``components/task.py`` sets all four for the app and the migration; a stack breaks them only by
a task definition changed outside the settings, so the fixes name the container definition.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from .props import TASK_DEFINITION, containers, items, label

ROOT_NAMES = frozenset({"0", "root"})
WHERE = "components/task.py sets it for the app and the migration"


def _subject(args: ResourceValidationArgs, container: Mapping[str, Any]) -> str:
    return f"{label(args.resource_type, args.name)}: container '{container.get('name')}'"


def runs_as_root(user: Any) -> bool:
    """Whether a container definition's ``user`` runs as root: unset, or a user part (before
    any ``:group``) that is ``root`` or uid 0 (``0``, ``00``)."""
    if user is None or not str(user).strip():
        return True
    name = str(user).strip().split(":", 1)[0]
    return name in ROOT_NAMES or (name.isdigit() and int(name) == 0)


def check_read_only_root(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != TASK_DEFINITION:
        return
    for container in containers(args.props):
        if container.get("readonlyRootFilesystem") is True:
            continue
        report(
            f"{_subject(args, container)} can write to its root filesystem, so a compromised "
            f"process can change the app's code or plant files that outlive the request. Fix: "
            f'set "readonlyRootFilesystem": true in the container definition and give the paths '
            f"the app writes a task volume (a mountPoint; {WHERE}, with /tmp).",
            None,
        )


def check_non_root_user(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != TASK_DEFINITION:
        return
    for container in containers(args.props):
        user = container.get("user")
        if not runs_as_root(user):
            continue
        how = "names no user, so it runs as the image's" if user is None else f"runs as {user!r},"
        report(
            f"{_subject(args, container)} {how} root, which owns everything in the container "
            f'and is one kernel bug away from the host. Fix: set "user" to the image\'s '
            f'unprivileged uid:gid in the container definition ("10001:10001" for app/Dockerfile; '
            f"{WHERE}).",
            None,
        )


def check_not_privileged(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != TASK_DEFINITION:
        return
    for container in containers(args.props):
        if container.get("privileged") is not True:
            continue
        report(
            f"{_subject(args, container)} is privileged: it gets every capability and the host's "
            f'devices, root on the host in all but name. Fix: remove "privileged" from the '
            f"container definition (Fargate refuses it anyway).",
            None,
        )


def check_no_added_capabilities(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != TASK_DEFINITION:
        return
    for container in containers(args.props):
        linux = container.get("linuxParameters")
        capabilities = linux.get("capabilities") if isinstance(linux, Mapping) else None
        added = items(capabilities.get("add")) if isinstance(capabilities, Mapping) else []
        if not added:
            continue
        report(
            f"{_subject(args, container)} adds Linux capabilities "
            f"({', '.join(str(c) for c in added)}); an HTTP server needs none. Fix: remove "
            f'linuxParameters.capabilities.add and keep "drop": ["ALL"] ({WHERE}).',
            None,
        )


container_read_only_root = ResourceValidationPolicy(
    name="container-read-only-root",
    description="Every container has a read-only root filesystem.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=check_read_only_root,
)
container_non_root_user = ResourceValidationPolicy(
    name="container-non-root-user",
    description="Every container names a user other than root.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=check_non_root_user,
)
container_not_privileged = ResourceValidationPolicy(
    name="container-not-privileged",
    description="No container runs privileged.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=check_not_privileged,
)
container_no_added_capabilities = ResourceValidationPolicy(
    name="container-no-added-capabilities",
    description="No container adds a Linux capability.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=check_no_added_capabilities,
)

POLICIES = [
    container_read_only_root,
    container_non_root_user,
    container_not_privileged,
    container_no_added_capabilities,
]
