"""Guardrails for what every stack leans on: logs, images and IAM permissions.

* ``log-group-retention`` (advisory): every CloudWatch log group expires its logs
  (``retention_in_days`` > 0); without it logs are kept, and billed, forever;
* ``ecr-scan-and-immutable-tags``: every ECR repository scans images on push and has immutable
  tags, so a tag always names the image that was scanned and deployed;
* ``image-built-once`` (advisory; mandatory in ``config.prod.json``): a stack that builds its
  own image (a ``docker.Image``) says why in ``image.buildReason``; otherwise it should run the
  image an earlier stage built and tested, by digest (``image.promoteFrom``). Rebuilding in
  production runs bytes no one tested and spends the build's time on every release;
* ``iam-no-wildcard-actions``: judged by what a policy allows (``iam_grants``): no IAM policy
  document (a customer-managed policy, an inline policy, a role's trust policy) allows ``*`` or
  ``service:*`` actions, Allow with NotAction, ``iam:PassRole`` on every role or reading every
  secret; no role, user or group gets a dangerous AWS managed policy attached (a dated list), nor
  a customer-managed policy of this stack whose document is refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import pulumi
from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from .iam_grants import document_grants, managed_policy_grants
from .props import ECR_REPOSITORY, LOG_GROUP, PROJECT, items, label, number, referenced

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
CUSTOMER_POLICY = "aws:iam/policy:Policy"


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


def check_iam(args: ResourceValidationArgs, report: ReportViolation) -> None:
    name = label(args.resource_type, args.name)
    fix = (
        "Fix: list the actions the code calls (like secretsmanager:GetSecretValue) on the "
        "resources it needs; in this project pass narrow policies with `pulumi config set --path "
        "'service.taskPolicyArns[0]' arn:aws:iam::ACCOUNT:policy/NAME`."
    )
    if args.resource_type in ATTACHMENTS:
        arn = args.props.get("policyArn")
        why = managed_policy_grants(arn) if isinstance(arn, str) else None
        if why:
            report(f"{name} attaches {arn}: {why}. {fix}", None)
        return
    documents = [args.props.get(key) for key in POLICY_DOCUMENTS.get(args.resource_type, ())]
    if args.resource_type == "aws:iam/role:Role":
        documents += [
            p.get("policy")
            for p in items(args.props.get("inlinePolicies"))
            if isinstance(p, Mapping)
        ]
    for document in documents:
        for grant in document_grants(document):
            report(f"{name}: {grant}. {fix}", None)


def check_attached_documents(args: StackValidationArgs, report: ReportViolation) -> None:
    """An attachment of this stack's own customer-managed policy inherits its document's verdict:
    the attachment only carries the policy's ARN, so the resource check cannot see it."""
    policies = [r for r in args.resources if r.resource_type == CUSTOMER_POLICY]
    for attachment in args.resources:
        if attachment.resource_type not in ATTACHMENTS:
            continue
        for policy in referenced(attachment, "policyArn", policies):
            for grant in document_grants(policy.props.get("policy")):
                report(
                    f"{label(attachment.resource_type, attachment.name)} attaches "
                    f"{label(policy.resource_type, policy.name)}, whose {grant}. Fix: narrow that "
                    "policy's statements to the actions and resources the code uses.",
                    attachment.urn,
                )


iam_no_wildcard_actions = ResourceValidationPolicy(
    name="iam-no-wildcard-actions",
    description="No IAM policy allows `*`, `service:*`, PassRole or secret reads on everything.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=check_iam,
)
iam_no_broad_attachments = StackValidationPolicy(
    name="iam-no-broad-attachments",
    description="No attachment of this stack's customer-managed policy grants too broadly.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=check_attached_documents,
)

# --- image-built-once ---------------------------------------------------------------------------

IMAGE_BUILDS = frozenset({"docker:index/image:Image", "docker-build:index:Image"})


def build_reason() -> str | None:
    """The stack's ``image.buildReason`` (the engine hands the pack the stack's config, as it
    hands the program: the group object as JSON text)."""
    raw = pulumi.runtime.get_config(f"{PROJECT}:image")
    try:
        image = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        return None
    reason = image.get("buildReason") if isinstance(image, dict) else None
    return (reason.strip() or None) if isinstance(reason, str) else None


def check_image_built_once(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in IMAGE_BUILDS or build_reason() is not None:
        return
    report(
        f"{label(args.resource_type, args.name)} builds the app's image in this stack, so it "
        f"runs bytes no earlier stage ran, and every release waits for the build. Fix: run the "
        f"image the previous stage built and tested, by digest (in this project `pulumi config "
        f"set --path image.promoteFrom dev` with image.sourceRepository, docs/promotion.md), or "
        f'say why this stack builds: `pulumi config set --path image.buildReason "<why>"`.',
        None,
    )


image_built_once = ResourceValidationPolicy(
    name="image-built-once",
    description="A stack builds its own image only with a stated reason (image.buildReason); "
    "otherwise it promotes an earlier stage's image by digest.",
    # Advisory by default (a first stack builds); policy/config.prod.json makes it mandatory.
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=check_image_built_once,
)

POLICIES = [
    log_group_retention,
    ecr_scan_and_immutable_tags,
    image_built_once,
    iam_no_wildcard_actions,
    iam_no_broad_attachments,
]
