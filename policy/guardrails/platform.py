"""Guardrails for what every stack leans on: logs, images and IAM permissions.

* ``log-group-retention`` (advisory): every CloudWatch log group expires its logs
  (``retention_in_days`` > 0); without it logs are kept, and billed, forever;
* ``ecr-scan-and-immutable-tags``: every ECR repository scans images on push and has immutable
  tags, so a tag always names the image that was scanned and deployed;
* ``iam-no-wildcard-actions``: no IAM policy document (a managed policy, a role's inline policy,
  a role's trust policy) allows ``*`` or ``service:*`` actions or uses Allow with NotAction, and
  no role, user or group gets AdministratorAccess or PowerUserAccess attached.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from .props import ECR_REPOSITORY, LOG_GROUP, items, json_document, label, number

# Resource type -> the properties that hold an IAM policy document.
POLICY_DOCUMENTS: dict[str, tuple[str, ...]] = {
    "aws:iam/policy:Policy": ("policy",),
    "aws:iam/rolePolicy:RolePolicy": ("policy",),
    "aws:iam/userPolicy:UserPolicy": ("policy",),
    "aws:iam/groupPolicy:GroupPolicy": ("policy",),
    "aws:iam/role:Role": ("assumeRolePolicy",),
}
ATTACHMENTS = frozenset(
    {
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:iam/userPolicyAttachment:UserPolicyAttachment",
        "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
        "aws:iam/policyAttachment:PolicyAttachment",
    }
)
# AWS managed policies that allow every action (of nearly every service).
BROAD_MANAGED_POLICIES = re.compile(r":policy/(AdministratorAccess|PowerUserAccess)$")
SERVICE_WILDCARD = re.compile(r"^[A-Za-z0-9-]+:\*$")


# --- log-group-retention (advisory) ------------------------------------------------------------


def check_log_retention(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != LOG_GROUP:
        return
    days = number(args.props.get("retentionInDays"))
    if days is not None and days > 0:
        return
    report(
        f"{label(args.resource_type, args.name)} keeps its logs forever (no retention_in_days), "
        f"and CloudWatch bills their storage every month. Fix: set retention_in_days, like 30 "
        f"(in this project `pulumi config set --path service.logRetentionDays 30`).",
        None,
    )


log_group_retention = ResourceValidationPolicy(
    name="log-group-retention",
    description="CloudWatch log groups expire their logs.",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=check_log_retention,
)


# --- ecr-scan-and-immutable-tags ---------------------------------------------------------------


def check_repository(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != ECR_REPOSITORY:
        return
    name = label(args.resource_type, args.name)
    scanning = args.props.get("imageScanningConfiguration")
    if not (isinstance(scanning, Mapping) and scanning.get("scanOnPush") is True):
        report(
            f"{name} does not scan images on push, so known vulnerabilities ship unnoticed. Fix: "
            f"set image_scanning_configuration={{scan_on_push: True}}.",
            None,
        )
    mutability = args.props.get("imageTagMutability", "MUTABLE")
    if mutability != "IMMUTABLE":
        report(
            f"{name} has {mutability} tags, so a push can replace the image behind a tag after it "
            f"was scanned or deployed. Fix: set image_tag_mutability='IMMUTABLE' and give every "
            f"build a new tag (or deploy by digest).",
            None,
        )


ecr_scan_and_immutable_tags = ResourceValidationPolicy(
    name="ecr-scan-and-immutable-tags",
    description="ECR repositories scan images on push and keep tags immutable.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=check_repository,
)


# --- iam-no-wildcard-actions -------------------------------------------------------------------


def wildcard_grants(document: Any) -> list[str]:
    """What each Allow statement of a policy document grants too broadly, as text."""
    parsed = json_document(document)
    if not isinstance(parsed, Mapping):
        return []
    found = []
    for statement in items(parsed.get("Statement")):
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
            continue
        sid = f"statement {statement.get('Sid')!r}" if statement.get("Sid") else "a statement"
        if "NotAction" in statement:
            found.append(f"{sid} allows every action except {list(items(statement['NotAction']))}")
        broad = [
            a
            for a in items(statement.get("Action"))
            if isinstance(a, str) and (a == "*" or SERVICE_WILDCARD.match(a))
        ]
        if broad:
            found.append(f"{sid} allows {', '.join(broad)}")
    return found


def check_iam(args: ResourceValidationArgs, report: ReportViolation) -> None:
    name = label(args.resource_type, args.name)
    fix = (
        "Fix: list the actions the code calls (like secretsmanager:GetSecretValue) on the "
        "resources it needs; in this project pass narrow policies in service.taskPolicyArns."
    )
    if args.resource_type in ATTACHMENTS:
        arn = args.props.get("policyArn")
        if isinstance(arn, str) and BROAD_MANAGED_POLICIES.search(arn):
            report(f"{name} attaches {arn}, which allows nearly every action. {fix}", None)
        return
    documents = [args.props.get(key) for key in POLICY_DOCUMENTS.get(args.resource_type, ())]
    if args.resource_type == "aws:iam/role:Role":
        documents += [
            p.get("policy")
            for p in items(args.props.get("inlinePolicies"))
            if isinstance(p, Mapping)
        ]
    for document in documents:
        for grant in wildcard_grants(document):
            report(f"{name}: {grant}. {fix}", None)


iam_no_wildcard_actions = ResourceValidationPolicy(
    name="iam-no-wildcard-actions",
    description="No IAM policy allows `*` or `service:*` actions.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=check_iam,
)

POLICIES = [log_group_retention, ecr_scan_and_immutable_tags, iam_no_wildcard_actions]
