"""AWS names made from the project and the stack name, each fitted to the rule AWS applies.

Creates no resources. Pulumi allows stack names of ``[A-Za-z0-9_.-]`` up to 100 characters;
many AWS names allow fewer characters or fewer of them (an ECS task definition family has no
``.``, a target group name holds 32 characters, an RDS identifier starts with a letter). Every
name the program sets from the stack name goes through ``stack_name`` with the rule of the field
it fills, so a stack named ``qa.eu`` gets a family AWS accepts instead of a failed ``pulumi up``.

A name that already fits its rule is returned unchanged: existing stacks keep their names (a
changed name replaces a task definition family or a dashboard). A name that does not fit gets
its disallowed characters turned into ``-`` and a short hash of the full ``project-stack``
appended, so ``qa.eu`` and ``qa-eu`` in one account never share a name; a name too long is
shortened the same way. ``stack_name_problems`` refuses, before anything is created, the stack
names Pulumi itself would refuse and those too long for a name with a fixed part.

The rules themselves are ``NameRule`` values in this module, each citing where it comes from;
``plan.aws_contract`` checks rendered requests against the same rules.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

# Characters of a hash appended to a name that had to be changed: 16^6 names, enough to keep
# the few stacks of one account apart.
HASH_LENGTH = 6


@dataclass(frozen=True)
class NameRule:
    """What AWS accepts in one name field."""

    what: str
    """The field, as AWS calls it (``ECS task definition family``)."""
    allowed: str
    """The characters allowed, as a regular expression character class body (``A-Za-z0-9_-``)."""
    max_length: int
    source: str
    """Where the rule is written down: an AWS API reference page or a provider validator."""
    min_length: int = 1
    first: str | None = None
    """Character class body the first character must match, if the rule has one."""
    lowercase: bool = False
    """AWS keeps only lower case (RDS lowercases identifiers): upper case is folded."""
    no_double_hyphen: bool = False
    no_edge_hyphen: bool = False
    """Neither the first nor the last character may be a hyphen."""
    no_trailing_hyphen: bool = False
    forbidden_prefixes: tuple[str, ...] = ()

    def problems(self, value: str) -> list[str]:
        """Why AWS would refuse ``value`` here; empty when it fits."""
        found = []
        bad = sorted(set(re.sub(f"[{self.allowed}]", "", value)))
        if bad:
            found.append(f"has {''.join(bad)!r}; only [{self.allowed}] allowed")
        if not self.min_length <= len(value) <= self.max_length:
            found.append(f"is {len(value)} characters; {self.min_length}-{self.max_length} allowed")
        if value and self.first and not re.match(f"[{self.first}]", value):
            found.append(f"must start with [{self.first}]")
        if self.lowercase and value != value.lower():
            found.append("must be lower case")
        if self.no_double_hyphen and "--" in value:
            found.append("must not contain '--'")
        if value and self.no_edge_hyphen and (value[0] == "-" or value[-1] == "-"):
            found.append("must not start or end with '-'")
        if value and self.no_trailing_hyphen and value[-1] == "-":
            found.append("must not end with '-'")
        found += [
            f"must not start with {p!r}" for p in self.forbidden_prefixes if value.startswith(p)
        ]
        return found

    def describe(self) -> str:
        """The rule in one line, for error messages and docs."""
        parts = [f"[{self.allowed}]{{{self.min_length},{self.max_length}}}"]
        if self.first:
            parts.append(f"first character [{self.first}]")
        if self.lowercase:
            parts.append("lower case")
        if self.no_double_hyphen:
            parts.append("no '--'")
        if self.no_edge_hyphen:
            parts.append("no '-' first or last")
        elif self.no_trailing_hyphen:
            parts.append("no '-' last")
        return f"{self.what}: " + ", ".join(parts) + f" ({self.source})"


# The rules of the names the program sets from the stack name. A rule the provider also checks
# cites the provider's validator (it refuses the value at preview); the others cite the AWS API
# reference (AWS refuses the value at `pulumi up`, after a green preview).
ECS_FAMILY = NameRule(
    "ECS task definition family",
    "A-Za-z0-9_-",
    255,
    "terraform-provider-aws internal/service/ecs/task_definition.go resourceTaskDefinition "
    "`family` ValidateFunc; ECS API reference RegisterTaskDefinition `family`",
)
DASHBOARD_NAME = NameRule(
    "CloudWatch dashboard name",
    "A-Za-z0-9_-",
    255,
    "terraform-provider-aws internal/service/cloudwatch/validate.go validDashboardName; "
    "CloudWatch API reference PutDashboard `DashboardName`",
)
RDS_FINAL_SNAPSHOT = NameRule(
    "RDS final DB snapshot identifier",
    "A-Za-z0-9-",
    255,
    "terraform-provider-aws internal/service/rds/instance.go resourceInstance "
    "`final_snapshot_identifier` ValidateFunc; RDS API reference DeleteDBInstance "
    "`FinalDBSnapshotIdentifier`",
    first="A-Za-z",
    no_double_hyphen=True,
    no_trailing_hyphen=True,
)
SECRET_NAME = NameRule(
    "Secrets Manager secret name",
    "A-Za-z0-9/_+=.@-",
    512,
    "Secrets Manager API reference CreateSecret `Name`",
)


# Pulumi's own rule for stack names (pulumi/pulumi pkg/backend/diy/backend.go validateStackName,
# the same as the Pulumi Cloud backend's): the CLI refuses others, but the offline plan is handed
# a name from its command line.
PULUMI_STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")

# Every name the program makes from the stack name: its rule and the suffix after the stack.
PROGRAM_NAMES: tuple[tuple[NameRule, str], ...] = (
    (ECS_FAMILY, ""),
    (ECS_FAMILY, "migration"),
    (DASHBOARD_NAME, ""),
    # The final snapshot's suffix is "final-" and 8 hex characters (database.py).
    (RDS_FINAL_SNAPSHOT, "final-0123abcd"),
    (SECRET_NAME, "database-app-role"),
)

# Names other modules may make from the stack name (none does yet): an IAM role's name and a
# log group's, both checked by botocore's own model (iam roleNameType, logs LogGroupName).
IAM_ROLE_NAME = NameRule(
    "IAM role name",
    r"\w+=,.@-",
    64,
    "botocore iam model, shape roleNameType; IAM API reference CreateRole `RoleName`",
)
LOG_GROUP_NAME = NameRule(
    "CloudWatch Logs log group name",
    "A-Za-z0-9_./#-",
    512,
    "terraform-provider-aws internal/service/logs/validate.go validLogGroupName; botocore logs "
    "model, shape LogGroupName",
)


def _alternative(stack: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", stack).strip("-_")[:40] or "dev"


def stack_name_problems(project: str, stack: str) -> list[str]:
    """Settings-style problems of a stack name no AWS name of the program can be made from."""
    if not PULUMI_STACK_NAME.match(stack):
        return [
            f"stack name {stack!r}: Pulumi stack names are letters, digits, '-', '_' and '.', "
            f"at most 100 characters (pulumi/pulumi pkg/backend/diy/backend.go "
            f"validateStackName). Fix: `pulumi stack rename {_alternative(stack)}`."
        ]
    problems = []
    for rule, suffix in PROGRAM_NAMES:
        try:
            stack_name(rule, project, stack, suffix)
        except ValueError as error:
            problems.append(
                f"stack name {stack!r}: {error}. Fix: `pulumi stack rename "
                f"{_alternative(stack)[:8]}` (a shorter name)."
            )
    return problems


def stack_name(
    rule: NameRule, project: str, stack: str, suffix: str = "", *, separator: str = "-"
) -> str:
    """``project``, ``stack`` and ``suffix`` joined by ``separator``, fitted to ``rule``.

    Unchanged when it fits. Otherwise the ``project-stack`` part has its disallowed characters
    turned into ``-`` (folded to lower case if the rule keeps only that), is cut to leave room,
    and ends in ``-`` and a hash of the original ``project`` and ``stack``; ``suffix`` follows.
    Raises ValueError when even that cannot fit (see ``stack_name_problems``)."""
    tail = f"{separator}{suffix}" if suffix else ""
    plain = f"{project}{separator}{stack}{tail}"
    if not rule.problems(plain):
        return plain
    digest = hashlib.sha256(f"{project}/{stack}".encode()).hexdigest()[:HASH_LENGTH]
    body = f"{project}-{stack}"
    if rule.lowercase:
        body = body.lower()
    body = re.sub(f"[^{rule.allowed}]", "-", body)
    body = re.sub("-{2,}", "-", body).strip("-")
    room = rule.max_length - len(tail) - HASH_LENGTH - 1
    body = body[: max(room, 0)].rstrip("-")
    if rule.lowercase:
        tail = tail.lower()
    name = f"{body}-{digest}{tail}" if body else f"{digest}{tail}"
    problems = rule.problems(name)
    if problems:
        raise ValueError(
            f"no {rule.what} can be made from project {project!r} and stack {stack!r}: "
            f"{name!r} {'; '.join(problems)} ({rule.describe()})"
        )
    return name
