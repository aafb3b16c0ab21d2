"""What an IAM policy allows that no app or deploy should get: one judgement, two users.

Pure Python (no Pulumi import), because two places run it: the policy pack
(``iam-no-wildcard-actions``, in ``platform``) and the program's settings, which refuse a
dangerous ``service.taskPolicyArns`` entry before anything is created (``components.settings``
imports it as ``policy.guardrails.iam_grants``: the package assembles its policies, and so
imports ``pulumi_policy``, only when ``POLICIES`` is first read).

A policy document is judged by its Allow statements (``document_grants``):

* ``*`` or ``service:*`` actions, and Allow with ``NotAction`` (everything but a list);
* ``iam:PassRole`` (or a pattern covering it) on every resource: hand any role, the admin
  ones included, to a service that runs your code;
* reading secrets on every resource: ``secretsmanager:GetSecretValue``, ``ssm:GetParameter*``,
  ``kms:Decrypt`` (or patterns covering them, like ``secretsmanager:Get*``). "Every resource" is
  ``Resource: "*"`` (or ``arn:aws:*``-style patterns ending in ``*`` with no account or name) or
  ``NotResource``.

An AWS managed policy's document is not in the stack, so it is judged by name
(``managed_policy_grants``): a list of the dangerous ones, dated, from AWS's Managed Policy
Reference Guide (docs.aws.amazon.com/aws-managed-policy/latest/reference/<Name>.html, where each
policy's JSON document is published) and the IAM User Guide page "AWS managed policies for job
functions"; plus AWS's naming convention, under which ``...FullAccess`` policies grant all of a
service's actions and ``AdministratorAccess-*`` all of a product's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

# Reviewed on 2026-11-27 against the AWS Managed Policy Reference Guide; each entry says which
# statement of the published document makes it dangerous.
MANAGED_POLICIES_REVIEWED = "2026-11-27"
DANGEROUS_MANAGED_POLICIES: dict[str, str] = {
    "AdministratorAccess": "allows * on every resource",
    "PowerUserAccess": "allows every action except iam:*, organizations:* and account:* (NotAction)",
    "IAMFullAccess": "allows iam:* on every resource: create a role with any permission",
    "AmazonS3FullAccess": "allows s3:* on every bucket",
    "SecretsManagerReadWrite": "allows secretsmanager:* on every secret",
    "AmazonSSMFullAccess": "allows ssm:* (every parameter's value) on every resource",
    "AmazonSSMReadOnlyAccess": "allows ssm:Get* (every parameter's value) on every resource",
    "ReadOnlyAccess": "allows ssm:Get* (every parameter's value) and s3:Get* on every "
    "resource: the statement documents refuse as reading every secret",
    "AmazonEC2FullAccess": "allows ec2:*, elasticloadbalancing:* and autoscaling:* everywhere",
    "AmazonECS_FullAccess": "allows ecs:* and passing roles to ECS tasks",
    "AWSLambda_FullAccess": "allows lambda:* and passing roles to Lambda functions",
    "AmazonRDSFullAccess": "allows rds:* on every database",
    "AmazonDynamoDBFullAccess": "allows dynamodb:* on every table",
    "AWSKeyManagementServicePowerUser": "allows kms:Put* (key policies) on every key",
    "AWSCloudFormationFullAccess": "allows cloudformation:* (stacks create anything)",
    "SystemAdministrator": "job function: broad EC2, RDS, Lambda and iam:PassRole rights",
    "DatabaseAdministrator": "job function: rds:*, dynamodb:* and iam:PassRole rights",
    "NetworkAdministrator": "job function: broad EC2 networking and Route 53 rights",
    "DataScientist": "job function: broad data-service rights and iam:PassRole",
}
_MANAGED_ARN = re.compile(
    r"^arn:aws[a-z-]*:iam::aws:policy/(?:[\w+=,.@-]+/)*(?P<name>[\w+=,.@-]+)$"
)
_SERVICE_WILDCARD = re.compile(r"^[A-Za-z0-9-]+:\*$")
PASS_ROLE = "iam:PassRole"
# Every call that returns a secret's or a parameter's value (the bootstrap's preview role denies
# the same ones): BatchGetSecretValue and GetParameterHistory return values too.
SECRET_READS = (
    "secretsmanager:GetSecretValue",
    "secretsmanager:BatchGetSecretValue",
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
    "ssm:GetParameterHistory",
    "kms:Decrypt",
)


def _listed(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _covers(pattern: str, action: str) -> bool:
    """IAM's action matching: case-insensitive, ``*`` any run, ``?`` one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, action, re.IGNORECASE) is not None


def _every_resource(statement: Mapping[str, Any]) -> bool:
    if "NotResource" in statement:
        return True
    return any(
        r == "*" or (isinstance(r, str) and re.fullmatch(r"arn:[^:]*:[^:]*:[^:]*:[^:]*:\*", r))
        for r in _listed(statement.get("Resource"))
    )


def document_grants(document: Any) -> list[str]:
    """What each Allow statement of a policy document grants too broadly, as text."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError:
            return []
    if not isinstance(document, Mapping):
        return []
    found = []
    for statement in _listed(document.get("Statement")):
        if not isinstance(statement, Mapping) or statement.get("Effect") != "Allow":
            continue
        sid = f"statement {statement.get('Sid')!r}" if statement.get("Sid") else "a statement"
        if "NotAction" in statement:
            found.append(f"{sid} allows every action except {_listed(statement['NotAction'])}")
            continue
        actions = [a for a in _listed(statement.get("Action")) if isinstance(a, str)]
        broad = [a for a in actions if a == "*" or _SERVICE_WILDCARD.match(a)]
        if broad:
            found.append(f"{sid} allows {', '.join(broad)}")
            continue
        if not _every_resource(statement):
            continue
        if any(_covers(a, PASS_ROLE) for a in actions):
            found.append(
                f"{sid} allows iam:PassRole on every role (pass an admin role to a service)"
            )
        reads = sorted({r for r in SECRET_READS for a in actions if _covers(a, r)})
        if reads:
            found.append(f"{sid} allows reading every secret ({', '.join(reads)} on *)")
    return found


def managed_policy_grants(arn: str) -> str | None:
    """Why an AWS managed policy is too broad, or None if it is not known to be."""
    match = _MANAGED_ARN.match(arn)
    if not match:
        return None
    name = match["name"]
    if name in DANGEROUS_MANAGED_POLICIES:
        return f"{name} {DANGEROUS_MANAGED_POLICIES[name]}"
    if name.endswith("FullAccess") or name.startswith("AdministratorAccess-"):
        return f"{name} grants every action of its service (AWS names such policies ...FullAccess)"
    return None
