"""The AWS API contract of a rendered stack: every request checked against AWS's own rules.

The SDK's mocks accept any value; AWS does not. ``check`` turns each rendered resource into the
requests terraform-provider-aws (or the program's own boto3 code) sends to create it
(``plan.aws_contract.requests``), then checks every field against botocore's service model of
the operation (``plan.aws_contract.model``) and against the rules botocore lacks, each citing
the AWS API reference or the provider validator it comes from (``plan.aws_contract.rules``).
A name Pulumi makes up (logical name + ``-`` + 7 hex characters) is checked as AWS will get it.

Creates nothing and calls nothing: the offline plan (``python -m plan``) and the tests use it.
What it cannot see (quotas, whether an ARN exists, permissions, account settings) only a real
``pulumi up`` shows; docs/offline-plan.md says so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from plan.aws_contract import model, rules
from plan.aws_contract.requests import BUILDERS, OPERATIONS, Request, requests_for
from plan.render import Rendered, Resource

BOTOCORE = "botocore"


@dataclass(frozen=True)
class Violation:
    """A value AWS would refuse, found before anything is created."""

    resource: str
    """``type::name`` of the rendered resource."""
    field: str
    """``Operation.Member.Path`` of the request."""
    value: Any
    rule: str
    source: str
    kind: str
    """``botocore``, ``api-reference`` or ``provider`` (see ``rules``)."""

    def message(self) -> str:
        shown = repr(self.value)
        if len(shown) > 120:
            shown = shown[:117] + "..."
        return f"{self.resource}: {self.field} = {shown}: {self.rule} [{self.kind}: {self.source}]"


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, f"{path}[{i}]")
    elif value is not model.COMPUTED and value is not None:
        yield path, value


def check_request(request: Request, resource: str = "", secret: bool = False) -> list[Violation]:
    """Every value of one request that botocore's model or a rule of ``rules`` refuses."""

    def autonamed(path: str) -> str:
        member = path.split(".", 1)[1] if "." in path else path
        return (
            " (a name Pulumi makes: logical name + '-' + 7 hex)"
            if member in request.autonamed
            else ""
        )

    found = [
        Violation(
            resource,
            f.path,
            "[secret]" if (secret or f.sensitive) else f.value,
            f.rule + autonamed(f.path),
            f.source,
            BOTOCORE,
        )
        for f in model.check_request(request.service, request.operation, request.params)
    ]
    for path, value in _leaves(request.params):
        for rule in rules.rules_for(request.service, request.operation, path):
            for problem in rule.check(value):
                found.append(
                    Violation(
                        resource,
                        f"{request.operation}.{path}",
                        "[secret]" if secret else value,
                        f"{rule.what} {problem}" + autonamed(path),
                        rule.source,
                        rule.kind,
                    )
                )
    for rule in rules.request_rules_for(request.service, request.operation):
        # The members the rule reads: those of its example of a refused request.
        members = sorted(rule.refused)
        involved = {m: request.params.get(m) for m in members}
        for problem in rule.check(request.params):
            found.append(
                Violation(
                    resource,
                    f"{request.operation}.{'+'.join(members)}",
                    "[secret]" if secret else involved,
                    f"{rule.what}: {problem}",
                    rule.source,
                    rule.kind,
                )
            )
    return found


def check_resource(resource: Resource) -> list[Violation]:
    label = f"{resource.type}::{resource.name}"
    built = requests_for(resource)
    if built is None:
        return [
            Violation(
                label,
                "(type)",
                resource.type,
                "no AWS request mapping for this resource type: add one to "
                "plan/aws_contract/requests.py",
                "plan.aws_contract",
                "coverage",
            )
        ]
    secret = bool(resource.secret_inputs)
    found: list[Violation] = []
    for request in built:
        # Only the secret input itself is hidden; a resource with one secret input (a secret
        # version's value) shows nothing of its requests.
        found += check_request(request, label, secret)
    return found


def check(
    rendered: Rendered | Iterable[Resource], *, require_mapping: bool = True
) -> list[Violation]:
    """Every contract violation of a rendered stack, in resource order. Without
    ``require_mapping`` a resource type this layer has no requests for is left out (see
    ``unmapped_types``) instead of being reported."""
    resources = rendered.resources if isinstance(rendered, Rendered) else rendered
    found = [v for r in resources for v in check_resource(r)]
    return found if require_mapping else [v for v in found if v.kind != "coverage"]


def unmapped_types(rendered: Rendered | Iterable[Resource]) -> list[str]:
    """The resource types of a rendering this layer cannot check."""
    resources = rendered.resources if isinstance(rendered, Rendered) else rendered
    return sorted({r.type for r in resources if requests_for(r) is None})


def operations() -> list[tuple[str, str]]:
    """Every (service, operation) the requests of ``requests`` may be."""
    return sorted(OPERATIONS)


def rule_counts() -> Counter[str]:
    """How many rules each source contributes over the covered operations."""
    counts: Counter[str] = Counter()
    for service, operation in operations():
        counts[BOTOCORE] += sum(1 for _ in model.constraints(service, operation))
    for rule in (*rules.RULES, *rules.REQUEST_RULES):
        counts[rule.kind] += 1
    return counts


__all__ = [
    "BUILDERS",
    "Violation",
    "check",
    "check_request",
    "check_resource",
    "format_violations",
    "rule_counts",
    "unmapped_types",
]


def format_violations(violations: list[Violation], shown: Any = repr) -> str:
    """The violations as the plan reports them, in the settings errors' style; ``shown`` turns
    a value into its printed form (the plan masks secrets and labels made-up values)."""
    noun = "request field" if len(violations) == 1 else "request fields"
    lines = [
        f"AWS would refuse {len(violations)} {noun} of this stack at `pulumi up` (after a green "
        f"`pulumi preview`); nothing was created:"
    ]
    for v in violations:
        value = shown(v.value)
        lines.append(
            f"  - {v.resource}: {v.field} = {value!r}: {v.rule}. Rule from {v.kind}: {v.source}."
        )
    return "\n".join(lines)
