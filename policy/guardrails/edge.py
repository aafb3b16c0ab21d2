"""Guardrails for the public edge: the load balancer speaks HTTPS only, with modern TLS.

* ``alb-serves-https-only`` (stack): every Application Load Balancer has an HTTPS listener, and
  no listener rule on a plain-HTTP listener forwards around the redirect;
* ``listener-tls-1-2-or-newer``: every HTTPS listener names a TLS 1.2+ security policy (without
  one, AWS applies ELBSecurityPolicy-2016-08, which still accepts TLS 1.0 and 1.1);
* ``http-listener-redirects-to-https``: a plain-HTTP listener does nothing but answer with a
  permanent (301) redirect to HTTPS;
* ``alb-drops-invalid-headers``: the load balancer drops requests with invalid header fields,
  a request-smuggling defence AWS leaves off;
* ``target-group-fast-drain`` (advisory): a target group drains a stopping task in 60 s or less
  instead of AWS's 300, so a rollout does not wait five minutes per task;
* ``http-only-first-try`` (advisory, stack): a development stack without ``https.domain`` (the
  program's first try over plain HTTP on the load balancer's own name) is allowed, and told
  that plain HTTP is for a first try and how to add a domain. On such a stack the two HTTPS
  rules above step aside, since it serves plain HTTP on purpose; on a production stack they
  hold, and ``production-real-domain`` refuses it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from . import props as stack
from .props import (
    LISTENER_RULE_TYPES,
    LISTENER_TYPES,
    LOAD_BALANCER_TYPES,
    TARGET_GROUP_TYPES,
    config_number,
    items,
    label,
    number,
    of_type,
    referenced,
    shown,
)

# ALB security policies that refuse TLS 1.0 and 1.1 (AWS "Security policies for your
# Application Load Balancer"). A copy of components.settings.TLS12_PLUS_POLICIES: the pack runs
# in its own directory and virtualenv and cannot import the program; a test keeps the two equal.
TLS12_PLUS_POLICIES = frozenset(
    {
        "ELBSecurityPolicy-TLS13-1-2-2021-06",
        "ELBSecurityPolicy-TLS13-1-2-Res-2021-06",
        "ELBSecurityPolicy-TLS13-1-2-Ext1-2021-06",
        "ELBSecurityPolicy-TLS13-1-2-Ext2-2021-06",
        "ELBSecurityPolicy-TLS13-1-3-2021-06",
        "ELBSecurityPolicy-TLS13-1-2-FIPS-2023-04",
        "ELBSecurityPolicy-TLS13-1-2-Res-FIPS-2023-04",
        "ELBSecurityPolicy-TLS13-1-2-Ext0-FIPS-2023-04",
        "ELBSecurityPolicy-TLS13-1-2-Ext1-FIPS-2023-04",
        "ELBSecurityPolicy-TLS13-1-2-Ext2-FIPS-2023-04",
        "ELBSecurityPolicy-TLS13-1-3-FIPS-2023-04",
        "ELBSecurityPolicy-TLS13-1-2-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-2-Ext1-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-2-Ext2-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-3-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-2-FIPS-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-2-Res-FIPS-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-2-Ext0-FIPS-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-2-Ext1-FIPS-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-2-Ext2-FIPS-PQ-2025-09",
        "ELBSecurityPolicy-TLS13-1-3-FIPS-PQ-2025-09",
        "ELBSecurityPolicy-TLS-1-2-2017-01",
        "ELBSecurityPolicy-TLS-1-2-Ext-2018-06",
        "ELBSecurityPolicy-FS-1-2-2019-08",
        "ELBSecurityPolicy-FS-1-2-Req-2019-08",
        "ELBSecurityPolicy-FS-1-2-Res-2019-08",
        "ELBSecurityPolicy-FS-1-2-Res-2020-10",
    }
)
RECOMMENDED_TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
DEFAULT_MAX_DRAIN_SECONDS = 60
# AWS's deregistration delay when a target group does not set one.
AWS_DEFAULT_DRAIN_SECONDS = 300


def is_application_load_balancer(props: Mapping[str, Any]) -> bool:
    # pulumi-aws creates an application load balancer when loadBalancerType is not set.
    return props.get("loadBalancerType", "application") == "application"


def listener_protocol(props: Mapping[str, Any]) -> str:
    # An ALB listener without a protocol is HTTP (pulumi-aws's default).
    return str(props.get("protocol") or "HTTP").upper()


def is_https_redirect(action: Any) -> bool:
    """Whether a listener action answers only with a permanent redirect to HTTPS."""
    if not isinstance(action, Mapping) or action.get("type") != "redirect":
        return False
    redirect = action.get("redirect")
    return (
        isinstance(redirect, Mapping)
        and str(redirect.get("protocol", "")).upper() == "HTTPS"
        and redirect.get("statusCode") == "HTTP_301"
    )


# --- listener-tls-1-2-or-newer -----------------------------------------------------------------


def check_listener_tls(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in LISTENER_TYPES or listener_protocol(args.props) != "HTTPS":
        return
    policy = args.props.get("sslPolicy")
    if policy in TLS12_PLUS_POLICIES:
        return
    what = (
        f"uses ssl_policy {policy}, which allows TLS 1.0/1.1 or is not a known TLS 1.2+ policy"
        if policy
        else "sets no ssl_policy, so AWS applies ELBSecurityPolicy-2016-08 (TLS 1.0 and 1.1 allowed)"
    )
    report(
        f"{label(args.resource_type, args.name)} {what}. Fix: set ssl_policy to "
        f"{RECOMMENDED_TLS_POLICY} (or another policy without TLS 1.0/1.1; in this project: "
        f"`pulumi config set --path https.sslPolicy {RECOMMENDED_TLS_POLICY}`).",
        None,
    )


listener_tls = ResourceValidationPolicy(
    name="listener-tls-1-2-or-newer",
    description="Every HTTPS listener uses a TLS security policy that refuses TLS 1.0 and 1.1.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=check_listener_tls,
)


# --- http-listener-redirects-to-https ----------------------------------------------------------


def check_http_listener(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in LISTENER_TYPES or listener_protocol(args.props) != "HTTP":
        return
    if stack.http_only_first_try():  # serves plain HTTP on purpose: http-only-first-try says so
        return
    actions = items(args.props.get("defaultActions"))
    if actions and all(is_https_redirect(a) for a in actions):
        return
    kinds = (
        ", ".join(sorted({str(a.get("type")) for a in actions if isinstance(a, Mapping)})) or "none"
    )
    report(
        f"{label(args.resource_type, args.name)} listens for plain HTTP on port "
        f"{shown(number(args.props.get('port')))} and does more than redirect to HTTPS with a "
        f"301 (default actions: {kinds}), so requests and cookies can travel unencrypted. Fix: make "
        f'its only default action {{type: "redirect", redirect: {{protocol: "HTTPS", port: "443", '
        f'status_code: "HTTP_301"}}}} and serve the app on an HTTPS listener; in this project '
        f"`pulumi config set --path https.domain api.example.com` and `pulumi config set "
        f"--path https.hostedZone example.com`.",
        None,
    )


http_listener_redirects = ResourceValidationPolicy(
    name="http-listener-redirects-to-https",
    description="A plain-HTTP listener only redirects to HTTPS, permanently (HTTP 301).",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=check_http_listener,
)


# --- alb-drops-invalid-headers -----------------------------------------------------------------


def check_invalid_headers(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in LOAD_BALANCER_TYPES or not is_application_load_balancer(
        args.props
    ):
        return
    if args.props.get("dropInvalidHeaderFields") is True:
        return
    report(
        f"{label(args.resource_type, args.name)} passes requests with invalid HTTP header fields "
        f"on to the app (AWS's default), which opens the way to request smuggling. Fix: set "
        f"drop_invalid_header_fields=True on the load balancer.",
        None,
    )


alb_drops_invalid_headers = ResourceValidationPolicy(
    name="alb-drops-invalid-headers",
    description="Every Application Load Balancer drops requests with invalid header fields.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=check_invalid_headers,
)


# --- alb-serves-https-only (stack) -------------------------------------------------------------


def https_problems(resources: list[PolicyResource]) -> list[tuple[str, str | None]]:
    """What keeps each ALB from serving HTTPS only: (message, urn) pairs."""
    problems: list[tuple[str, str | None]] = []
    listeners = of_type(resources, LISTENER_TYPES)
    rules = of_type(resources, LISTENER_RULE_TYPES)
    for alb in of_type(resources, LOAD_BALANCER_TYPES):
        if not is_application_load_balancer(alb.props):
            continue
        own = [lst for lst in listeners if referenced(lst, "loadBalancerArn", [alb])]
        if not any(listener_protocol(lst.props) == "HTTPS" for lst in own):
            problems.append(
                (
                    f"{label(alb.resource_type, alb.name)} has no HTTPS listener, so the app is "
                    f"served over plain HTTP (this project's HTTP-only first try). Fix: give it an "
                    f"HTTPS listener with a certificate; in this project `pulumi config set "
                    f"--path https.domain api.example.com` and `pulumi config set --path https.hostedZone "
                    f"example.com`.",
                    alb.urn,
                )
            )
        plain = [lst for lst in own if listener_protocol(lst.props) == "HTTP"]
        for rule in rules:
            if not referenced(rule, "listenerArn", plain):
                continue
            if all(is_https_redirect(a) for a in items(rule.props.get("actions"))):
                continue
            problems.append(
                (
                    f"{label(rule.resource_type, rule.name)} is a rule of a plain-HTTP listener of "
                    f"{label(alb.resource_type, alb.name)} and does more than redirect to HTTPS, so "
                    f"its requests bypass the redirect. Fix: attach the rule to the HTTPS listener "
                    f"instead.",
                    rule.urn,
                )
            )
    return problems


def check_https_only(args: StackValidationArgs, report: ReportViolation) -> None:
    if stack.http_only_first_try():  # serves plain HTTP on purpose: http-only-first-try says so
        return
    for message, urn in https_problems(list(args.resources)):
        report(message, urn)


alb_serves_https_only = StackValidationPolicy(
    name="alb-serves-https-only",
    description="Every Application Load Balancer has an HTTPS listener, and nothing on plain "
    "HTTP bypasses the redirect to it.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=check_https_only,
)


# --- http-only-first-try (advisory, stack) -----------------------------------------------------

ADD_A_DOMAIN = (
    "`pulumi config set --path https.domain api.example.com` and `pulumi config set --path "
    "https.hostedZone example.com` (a name in a Route 53 public hosted zone you own)"
)


def check_first_try(args: StackValidationArgs, report: ReportViolation) -> None:
    if not stack.http_only_first_try():
        return
    resources = list(args.resources)
    listeners = of_type(resources, LISTENER_TYPES)
    for alb in of_type(resources, LOAD_BALANCER_TYPES):
        if not is_application_load_balancer(alb.props):
            continue
        own = [lst for lst in listeners if referenced(lst, "loadBalancerArn", [alb])]
        if any(listener_protocol(lst.props) == "HTTPS" for lst in own):
            continue
        report(
            f"{label(alb.resource_type, alb.name)} serves the app over plain HTTP on its own DNS "
            f"name, because https.domain is not set. Plain HTTP is for a first try only: "
            f"requests, cookies and tokens travel unencrypted, and a production stack refuses "
            f"it. Add a domain: {ADD_A_DOMAIN}, then plan again; HTTPS with a certificate and "
            f"a redirect from HTTP follow (docs/https-and-network.md).",
            alb.urn,
        )


http_only_first_try = StackValidationPolicy(
    name="http-only-first-try",
    description="A development stack without a domain serves plain HTTP: allowed for a first "
    "try, with the way to add a domain.",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=check_first_try,
)


# --- target-group-fast-drain (advisory) --------------------------------------------------------


def check_drain(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in TARGET_GROUP_TYPES or args.props.get("targetType") == "lambda":
        return
    limit = config_number(args.get_config(), "maxSeconds", DEFAULT_MAX_DRAIN_SECONDS)
    delay = number(args.props.get("deregistrationDelay"))
    seconds = AWS_DEFAULT_DRAIN_SECONDS if delay is None else delay
    if seconds <= limit:
        return
    unset = " (unset: AWS's default)" if delay is None else ""
    report(
        f"{label(args.resource_type, args.name)} keeps a stopping task registered for "
        f"{shown(seconds)} s{unset}, and every rollout and scale-in waits that long per task. "
        f"Fix: set deregistration_delay to the longest request the app serves, at most "
        f"{shown(limit)} s (in this project `pulumi config set --path loadBalancer.deregistrationDelay "
        f"30`), or raise this policy's maxSeconds for the stack if requests really take longer.",
        None,
    )


target_group_fast_drain = ResourceValidationPolicy(
    name="target-group-fast-drain",
    description="Target groups drain stopping tasks quickly (deregistration delay at most 60 s).",
    enforcement_level=EnforcementLevel.ADVISORY,
    validate=check_drain,
    config_schema=PolicyConfigSchema(
        properties={
            "maxSeconds": {
                "type": "integer",
                "minimum": 0,
                "maximum": 3600,
                "default": DEFAULT_MAX_DRAIN_SECONDS,
                "description": "Longest deregistration delay accepted without a warning.",
            }
        }
    ),
)

POLICIES = [
    alb_serves_https_only,
    listener_tls,
    http_listener_redirects,
    alb_drops_invalid_headers,
    target_group_fast_drain,
    http_only_first_try,
]
