"""A small IAM evaluator for the tests: does a policy allow this, does a trust admit this token.

It ports the parts of AWS's documented evaluation logic the bootstrap relies on, so tests can
assert on effects ("a dev-branch token cannot assume prod's role") instead of on JSON text:

* condition blocks (IAM User Guide, "IAM JSON policy elements: Condition"): every operator of a
  block must match and, within an operator, every key; a key with several values matches if any
  value does; a key missing from the request fails the condition (no ...IfExists here);
  StringEquals compares exactly and case-sensitively; StringLike lets ``*`` match any run of
  characters and ``?`` any one character ("Condition operators", String condition operators);
* decisions ("Policy evaluation logic"): an explicit Deny wins, else an Allow, else the implicit
  deny; Action/NotAction and Resource/NotResource match with the same ``*``/``?`` wildcards
  (actions case-insensitively: "IAM JSON policy elements: Action").

And a grammar check of policy documents, with botocore's own validation of the IAM API shapes
(``PolicyDocument``/``AssumeRolePolicyDocument``: length and character pattern).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import botocore.session
from botocore.validate import ParamValidator

STRING_OPERATORS = ("StringEquals", "StringLike")
KNOWN_OPERATORS = {
    "StringEquals", "StringNotEquals", "StringLike", "StringNotLike", "StringEqualsIgnoreCase",
    "Bool", "ArnLike", "ArnEquals", "IpAddress", "NotIpAddress", "NumericLessThan",
    "NumericGreaterThan", "DateLessThan", "DateGreaterThan", "Null",
}  # fmt: skip
STATEMENT_KEYS = {
    "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource",
    "NotResource", "Condition",
}  # fmt: skip
ACTION = re.compile(r"^(\*|[a-z0-9-]+:[A-Za-z0-9*?]+)$")


def listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def like(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL | (re.IGNORECASE if ignore_case else 0)) is not None


def condition_matches(condition: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    for operator, keys in condition.items():
        if operator not in STRING_OPERATORS:
            raise ValueError(f"the test evaluator does not know {operator}")
        for key, expected in keys.items():
            if key not in context:
                return False
            actual = context[key]
            if operator == "StringEquals":
                ok = any(actual == value for value in listed(expected))
            else:
                ok = any(like(value, actual) for value in listed(expected))
            if not ok:
                return False
    return True


def _statement_applies(
    statement: Mapping[str, Any], action: str, resource: str, context: Mapping[str, str]
) -> bool:
    if "Action" in statement:
        if not any(like(a, action, ignore_case=True) for a in listed(statement["Action"])):
            return False
    elif any(like(a, action, ignore_case=True) for a in listed(statement["NotAction"])):
        return False
    if "Resource" in statement:
        if not any(like(r, resource) for r in listed(statement["Resource"])):
            return False
    elif "NotResource" in statement and any(
        like(r, resource) for r in listed(statement["NotResource"])
    ):
        return False
    return condition_matches(statement.get("Condition", {}), context)


def allowed(
    documents: list[Any], action: str, resource: str, context: Mapping[str, str] | None = None
) -> bool:
    """The decision of these identity-policy documents together (JSON text or parsed)."""
    statements = [
        s
        for d in documents
        for s in listed((json.loads(d) if isinstance(d, str) else d)["Statement"])
    ]
    applying = [s for s in statements if _statement_applies(s, action, resource, context or {})]
    if any(s["Effect"] == "Deny" for s in applying):
        return False
    return any(s["Effect"] == "Allow" for s in applying)


def web_identity_admitted(trust: Any, provider_arn: str, claims: Mapping[str, str]) -> bool:
    """Would AssumeRoleWithWebIdentity with a token of ``provider_arn`` carrying ``claims`` pass?"""
    host = provider_arn.split("oidc-provider/", 1)[1]
    context = {f"{host}:{name}": value for name, value in claims.items()}
    document = json.loads(trust) if isinstance(trust, str) else trust
    decisions = []
    for statement in listed(document["Statement"]):
        principal = statement.get("Principal", {})
        if not isinstance(principal, Mapping) or provider_arn not in listed(
            principal.get("Federated", [])
        ):
            continue
        if _statement_applies(statement, "sts:AssumeRoleWithWebIdentity", "*", context):
            decisions.append(statement["Effect"])
    return "Allow" in decisions and "Deny" not in decisions


def resource_policy_allows(
    policy: Any, principal_arn: str, action: str, context: Mapping[str, str] | None = None
) -> bool:
    """Would a resource policy (an ECR repository policy: no Resource element, the resource is
    the repository) allow ``principal_arn`` (an IAM role) to call ``action``?

    A statement applies when its ``Principal.AWS`` names the role itself, its account (the
    account id or ``arn:aws:iam::ACCOUNT:root``) or ``*`` (IAM User Guide, "AWS JSON policy
    elements: Principal"); the request carries ``aws:PrincipalArn`` and ``aws:PrincipalAccount``
    ("AWS global condition context keys"). For another account's principal, the request also
    needs an Allow of its own identity policies ("Cross-account policy evaluation logic"):
    combine with ``allowed``.
    """
    account = principal_arn.split(":")[4]
    partition = principal_arn.split(":")[1]
    names = {principal_arn, account, f"arn:{partition}:iam::{account}:root", "*"}
    request = {
        "aws:PrincipalArn": principal_arn,
        "aws:PrincipalAccount": account,
        **(context or {}),
    }
    document = json.loads(policy) if isinstance(policy, str) else policy
    decisions = []
    for statement in listed(document["Statement"]):
        principal = statement.get("Principal", {})
        aws_principals = listed(principal.get("AWS", [])) if isinstance(principal, Mapping) else []
        if principal != "*" and not names & set(aws_principals):
            continue
        if _statement_applies(statement, action, "*", request):
            decisions.append(statement["Effect"])
    return "Allow" in decisions and "Deny" not in decisions


# --- Grammar ----------------------------------------------------------------------------------


def grammar_problems(document: Any, *, trust: bool = False) -> list[str]:
    """What makes a policy document malformed for IAM (identity or trust policy)."""
    parsed = json.loads(document) if isinstance(document, str) else document
    problems = []
    if parsed.get("Version") != "2012-10-17":
        problems.append("Version must be 2012-10-17")
    statements = listed(parsed.get("Statement"))
    if not statements or not all(isinstance(s, Mapping) for s in statements):
        return [*problems, "Statement must be an object or a list of objects"]
    sids = [s["Sid"] for s in statements if "Sid" in s]
    if len(sids) != len(set(sids)):
        problems.append("Sids must be unique")
    for index, s in enumerate(statements):
        where = f"statement {index}"
        if set(s) - STATEMENT_KEYS:
            problems.append(f"{where}: unknown elements {sorted(set(s) - STATEMENT_KEYS)}")
        if s.get("Effect") not in ("Allow", "Deny"):
            problems.append(f"{where}: Effect must be Allow or Deny")
        if ("Action" in s) == ("NotAction" in s):
            problems.append(f"{where}: exactly one of Action and NotAction")
        for action in listed(s.get("Action", s.get("NotAction", []))):
            if not isinstance(action, str) or not ACTION.match(action):
                problems.append(f"{where}: {action!r} is not service:Action")
        if trust:
            if "Principal" not in s:
                problems.append(f"{where}: a trust policy names a Principal")
            if "Resource" in s or "NotResource" in s:
                problems.append(f"{where}: a trust policy has no Resource")
        else:
            if "Principal" in s or "NotPrincipal" in s:
                problems.append(f"{where}: an identity policy has no Principal")
            if ("Resource" in s) == ("NotResource" in s):
                problems.append(f"{where}: exactly one of Resource and NotResource")
            for resource in listed(s.get("Resource", s.get("NotResource", []))):
                if not isinstance(resource, str) or not (
                    resource == "*" or resource.startswith("arn:")
                ):
                    problems.append(f"{where}: {resource!r} is not an ARN or *")
        condition = s.get("Condition", {})
        if not isinstance(condition, Mapping) or set(condition) - KNOWN_OPERATORS:
            problems.append(f"{where}: unknown condition operators")
    return problems


_IAM = botocore.session.get_session().get_service_model("iam")


def botocore_problems(operation: str, params: Mapping[str, Any]) -> str:
    """botocore's validation of a call to the IAM API ('' when valid), plus the shapes' patterns.

    botocore checks types, required members and lengths but not ``pattern`` (the character set
    IAM accepts, like ``[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+`` for policy documents): checked
    here from the same model.
    """
    shape = _IAM.operation_model(operation).input_shape
    report = ParamValidator().validate(dict(params), shape)
    problems = [report.generate_report()] if report.has_errors() else []
    for name, value in params.items():
        pattern = shape.members[name].metadata.get("pattern")
        if isinstance(value, str) and pattern and not re.fullmatch(pattern, value):
            problems.append(f"{name} does not match {pattern}")
    return "\n".join(problems)
