"""Rules AWS applies to request fields that botocore's models do not carry.

botocore has no pattern for most names and descriptions (``CreateTargetGroup.Name`` is a plain
string there), yet AWS refuses a 33-character target group name or an apostrophe in a security
group rule's description. Each row here says which request field it applies to, what AWS
accepts, where that is written down (``api-reference``: the AWS API reference page of the
operation or data type; ``provider``: a terraform-provider-aws validator, which then also
refuses the value at ``pulumi preview``), and one value AWS refuses, which the tests feed it.

The name rules the program also applies (``NameRule`` and the rules of the names it makes from
the stack name: ECS family, dashboard, final snapshot, secret) are ``components.naming``'s, one
definition for the program and this check; ``components`` never imports ``plan``. The program's
names are still checked as AWS gets them, from the rendered requests, not from the helper.

A field path uses the API's member names with ``[*]`` for any list index, as
``plan.aws_contract.requests`` builds the requests.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from components.naming import (
    DASHBOARD_NAME,
    ECS_FAMILY,
    RDS_FINAL_SNAPSHOT,
    SECRET_NAME,
    NameRule,
)

API_REFERENCE = "api-reference"
PROVIDER = "provider"


@dataclass(frozen=True)
class Rule:
    service: str
    operation: str
    path: str
    """Member path inside the request, ``[*]`` for any list index."""
    what: str
    check: Callable[[object], list[str]]
    source: str
    kind: str
    refused: object
    """A value AWS refuses here: the tests check that the rule refuses it too."""
    accepted: object

    def applies(self, service: str, operation: str, path: str) -> bool:
        return (
            service == self.service
            and operation == self.operation
            and re.sub(r"\[\d+\]", "[*]", path) == self.path
        )


def _name(rule: NameRule) -> Callable[[object], list[str]]:
    return lambda value: rule.problems(str(value))


def _charset(allowed: str, max_length: int) -> Callable[[object], list[str]]:
    pattern = re.compile(f"[{allowed}]*")

    def check(value: object) -> list[str]:
        text = str(value)
        found = []
        bad = sorted(set(re.sub(f"[{allowed}]", "", text)))
        if bad or not pattern.fullmatch(text):
            found.append(f"has {''.join(bad)!r}; only [{allowed}] allowed")
        if len(text) > max_length:
            found.append(f"is {len(text)} characters; at most {max_length}")
        return found

    return check


def _one_of(values: set[int]) -> Callable[[object], list[str]]:
    def check(value: object) -> list[str]:
        ok = isinstance(value, int | float) and value in values
        return [] if ok else [f"must be one of {', '.join(map(str, sorted(values)))}"]

    return check


def _between(low: int, high: int, *also: int) -> Callable[[object], list[str]]:
    def check(value: object) -> list[str]:
        ok = isinstance(value, int | float) and (low <= value <= high or value in also)
        extra = f" (or {', '.join(map(str, also))})" if also else ""
        return [] if ok else [f"must be {low}-{high}{extra}"]

    return check


def _period(*short: int) -> Callable[[object], list[str]]:
    def check(value: object) -> list[str]:
        ok = isinstance(value, int | float) and value > 0 and (value in short or value % 60 == 0)
        return [] if ok else [f"must be {', '.join(map(str, short))} or a multiple of 60"]

    return check


# EC2: a-zA-Z0-9, spaces and ._-:/()#,@[]+=;{}!$* (EC2 API reference; IpRange also lists &).
EC2_TEXT = r"A-Za-z0-9 ._\-:/()#,@\[\]+=;{}!$*"
EC2_TEXT_AMP = EC2_TEXT + "&"

ELB_NAME = NameRule(
    "Elastic Load Balancing load balancer name",
    "A-Za-z0-9-",
    32,
    "terraform-provider-aws internal/service/elbv2/validate.go validName",
    no_edge_hyphen=True,
    forbidden_prefixes=("internal-",),
)
TARGET_GROUP_NAME = NameRule(
    "Elastic Load Balancing target group name",
    "A-Za-z0-9-",
    32,
    "terraform-provider-aws internal/service/elbv2/validate.go validTargetGroupName",
    no_edge_hyphen=True,
)
RDS_IDENTIFIER = NameRule(
    "RDS DB instance identifier",
    "a-z0-9-",
    63,
    "terraform-provider-aws internal/service/rds/validate.go validIdentifier; RDS API "
    "reference CreateDBInstance `DBInstanceIdentifier` (1-63 characters)",
    first="a-z",
    lowercase=True,
    no_double_hyphen=True,
    no_trailing_hyphen=True,
)
RDS_SUBNET_GROUP = NameRule(
    "RDS DB subnet group name",
    "a-z0-9_ .-",
    255,
    "terraform-provider-aws internal/service/rds/validate.go validSubnetGroupName",
    lowercase=True,
)
POSTGRES_DB_NAME = NameRule(
    "RDS for PostgreSQL database name",
    "A-Za-z0-9_",
    63,
    "RDS API reference CreateDBInstance `DBName` (PostgreSQL: 1-63 letters, digits or "
    "underscores, starting with a letter or underscore)",
    first="A-Za-z_",
)
RDS_MASTER_USERNAME = NameRule(
    "RDS master user name",
    "A-Za-z0-9_",
    63,
    "RDS API reference CreateDBInstance `MasterUsername` (PostgreSQL: 1-63 letters or digits, "
    "starting with a letter)",
    first="A-Za-z",
)
ECS_NAME = NameRule(
    "ECS cluster or service name",
    "A-Za-z0-9_-",
    255,
    "ECS API reference CreateCluster `clusterName` / CreateService `serviceName` (up to 255 "
    "letters, numbers, underscores and hyphens)",
)
SNS_TOPIC_NAME = NameRule(
    "SNS topic name",
    "A-Za-z0-9_-",
    256,
    "SNS API reference CreateTopic `Name` (ASCII letters, numbers, underscores and hyphens, "
    "1-256 characters)",
)
SECURITY_GROUP_NAME = NameRule(
    "EC2 security group name",
    EC2_TEXT_AMP,
    255,
    "EC2 API reference CreateSecurityGroup `GroupName` (a-z, A-Z, 0-9, spaces and "
    "._-:/()#,@[]+=&;{}!$*; may not start with sg-)",
    forbidden_prefixes=("sg-",),
)
S3_BUCKET_NAME = NameRule(
    "S3 bucket name",
    "a-z0-9.-",
    63,
    "Amazon S3 user guide, bucket naming rules (3-63 characters, lower case letters, digits, "
    "dots and hyphens, starting and ending with a letter or digit)",
    min_length=3,
    first="a-z0-9",
    no_edge_hyphen=True,
    forbidden_prefixes=("xn--", "sthree-"),
)
RDS_PARAMETER_GROUP_NAME = NameRule(
    "RDS DB parameter group name",
    "0-9a-z.-",
    255,
    "terraform-provider-aws internal/service/rds/validate.go validParamGroupName (lower-case "
    "letters, digits, periods and hyphens; a letter first; no '--'; no '-' last)",
    first="a-z",
    lowercase=True,
    no_double_hyphen=True,
    no_trailing_hyphen=True,
)

# AWS WAF API reference VisibilityConfig `MetricName`: names AWS WAF uses for its own metrics.
WAF_RESERVED_METRIC_NAMES = ("All", "Default_Action")
WAF_RATE_WINDOWS = {60, 120, 300, 600}
FLOW_LOG_AGGREGATION_INTERVALS = {60, 600}

LOG_RETENTION_DAYS = {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096}
LOG_RETENTION_DAYS |= {1827, 2192, 2557, 2922, 3288, 3653}

_EC2_RULE_SOURCE = (
    "EC2 API reference {0} `Description` (a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=;{{}}!$*); "
    "terraform-provider-aws internal/service/ec2/validate.go validSecurityGroupRuleDescription "
    "has the same set, but aws_vpc_security_group_*_rule does not use it"
)

RULES: tuple[Rule, ...] = (
    *(
        Rule(
            "ec2",
            operation,
            f"IpPermissions[*].{member}[*].Description",
            f"security group rule description ({shape})",
            _charset(EC2_TEXT_AMP if shape == "IpRange" else EC2_TEXT, 255),
            _EC2_RULE_SOURCE.format(shape),
            API_REFERENCE,
            "Image pulls, AWS APIs and the app's upstreams",
            "To the app tasks on the container port",
        )
        for operation in ("AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress")
        for member, shape in (
            ("IpRanges", "IpRange"),
            ("UserIdGroupPairs", "UserIdGroupPair"),
            ("PrefixListIds", "PrefixListId"),
        )
    ),
    Rule(
        "ec2",
        "CreateSecurityGroup",
        "Description",
        "security group description",
        _charset(EC2_TEXT_AMP, 255),
        "EC2 API reference CreateSecurityGroup `GroupDescription` (a-z, A-Z, 0-9, spaces and "
        "._-:/()#,@[]+=&;{}!$*, up to 255 characters)",
        API_REFERENCE,
        "The app's tasks",
        "App tasks: in only from the load balancer",
    ),
    Rule(
        "ec2",
        "CreateSecurityGroup",
        "GroupName",
        SECURITY_GROUP_NAME.what,
        _name(SECURITY_GROUP_NAME),
        SECURITY_GROUP_NAME.source,
        API_REFERENCE,
        "sg-app",
        "edge-alb-0a1b2c3",
    ),
    Rule(
        "elbv2",
        "CreateLoadBalancer",
        "Name",
        ELB_NAME.what,
        _name(ELB_NAME),
        ELB_NAME.source,
        PROVIDER,
        "fastapi-fargate-qa-eu-alb-0a1b2c3",
        "edge-alb-0a1b2c3",
    ),
    Rule(
        "elbv2",
        "CreateTargetGroup",
        "Name",
        TARGET_GROUP_NAME.what,
        _name(TARGET_GROUP_NAME),
        TARGET_GROUP_NAME.source,
        PROVIDER,
        "a" * 33,
        "edge-tg-0a1b2c3",
    ),
    Rule(
        "ecs",
        "RegisterTaskDefinition",
        "family",
        ECS_FAMILY.what,
        _name(ECS_FAMILY),
        ECS_FAMILY.source,
        PROVIDER,
        "fastapi-fargate-qa.eu",
        "fastapi-fargate-qa-eu-1a2b3c",
    ),
    Rule(
        "ecs",
        "CreateCluster",
        "clusterName",
        ECS_NAME.what,
        _name(ECS_NAME),
        ECS_NAME.source,
        API_REFERENCE,
        "app.qa",
        "app-0a1b2c3",
    ),
    Rule(
        "ecs",
        "CreateService",
        "serviceName",
        ECS_NAME.what,
        _name(ECS_NAME),
        ECS_NAME.source,
        API_REFERENCE,
        "web.qa",
        "web-0a1b2c3",
    ),
    Rule(
        "ecs",
        "RunTask",
        "startedBy",
        "ECS startedBy",
        _name(
            NameRule(
                "ECS startedBy",
                "A-Za-z0-9_/-",
                36,
                "ECS API reference StartTask `startedBy` (up to 36 letters, numbers, hyphens, "
                "forward slashes and underscores; RunTask says 128)",
            )
        ),
        "ECS API reference StartTask `startedBy` (up to 36 letters, numbers, hyphens, forward "
        "slashes and underscores; RunTask says 128)",
        API_REFERENCE,
        "migrate/fastapi-fargate/qa.eu",
        "migrate/fastapi-fargate/dev",
    ),
    Rule(
        "cloudwatch",
        "PutDashboard",
        "DashboardName",
        DASHBOARD_NAME.what,
        _name(DASHBOARD_NAME),
        DASHBOARD_NAME.source,
        PROVIDER,
        "fastapi-fargate-qa.eu",
        "fastapi-fargate-dev",
    ),
    Rule(
        "cloudwatch",
        "PutMetricAlarm",
        "Metrics[*].Id",
        "metric math query id",
        _name(NameRule("CloudWatch metric data query id", "A-Za-z0-9_", 255, "", first="a-z")),
        "CloudWatch API reference MetricDataQuery `Id` (starts with a lower-case letter; "
        "letters, numbers and underscores)",
        API_REFERENCE,
        "Errors5xx",
        "target5xx",
    ),
    Rule(
        "cloudwatch",
        "PutMetricAlarm",
        "Period",
        "alarm period",
        _period(10, 20, 30),
        "CloudWatch API reference PutMetricAlarm `Period` (10, 20, 30 or any multiple of 60)",
        API_REFERENCE,
        90,
        60,
    ),
    Rule(
        "cloudwatch",
        "PutMetricAlarm",
        "Metrics[*].MetricStat.Period",
        "metric math period",
        _period(1, 5, 10, 20, 30),
        "CloudWatch API reference MetricStat `Period` (1, 5, 10, 20, 30 or a multiple of 60; "
        "1-30 only for high-resolution metrics)",
        API_REFERENCE,
        90,
        60,
    ),
    Rule(
        "logs",
        "PutRetentionPolicy",
        "retentionInDays",
        "log retention",
        _one_of(LOG_RETENTION_DAYS),
        "CloudWatch Logs API reference PutRetentionPolicy `retentionInDays` (the listed "
        "values); terraform-provider-aws internal/service/logs/group.go `retention_in_days` "
        "ValidateFunc",
        PROVIDER,
        8,
        7,
    ),
    Rule(
        "rds",
        "CreateDBInstance",
        "DBInstanceIdentifier",
        RDS_IDENTIFIER.what,
        _name(RDS_IDENTIFIER),
        RDS_IDENTIFIER.source,
        PROVIDER,
        "data--postgres",
        "data-postgres-0a1b2c3",
    ),
    Rule(
        "rds",
        "DeleteDBInstance",
        "FinalDBSnapshotIdentifier",
        RDS_FINAL_SNAPSHOT.what,
        _name(RDS_FINAL_SNAPSHOT),
        RDS_FINAL_SNAPSHOT.source,
        PROVIDER,
        "fastapi-fargate-qa_eu-final-0a1b2c3d",
        "fastapi-fargate-prod-final-0a1b2c3d",
    ),
    Rule(
        "rds",
        "CreateDBInstance",
        "DBName",
        POSTGRES_DB_NAME.what,
        _name(POSTGRES_DB_NAME),
        POSTGRES_DB_NAME.source,
        API_REFERENCE,
        "app-db",
        "app",
    ),
    Rule(
        "rds",
        "CreateDBInstance",
        "MasterUsername",
        RDS_MASTER_USERNAME.what,
        _name(RDS_MASTER_USERNAME),
        RDS_MASTER_USERNAME.source,
        API_REFERENCE,
        "1app",
        "app",
    ),
    Rule(
        "rds",
        "CreateDBInstance",
        "BackupRetentionPeriod",
        "backup retention",
        _between(0, 35),
        "RDS API reference CreateDBInstance `BackupRetentionPeriod` (0-35)",
        API_REFERENCE,
        36,
        7,
    ),
    Rule(
        "rds",
        "CreateDBInstance",
        "AllocatedStorage",
        "gp3 storage",
        _between(20, 65536),
        "RDS API reference CreateDBInstance `AllocatedStorage` (PostgreSQL, gp3: 20-65536 GiB)",
        API_REFERENCE,
        10,
        20,
    ),
    Rule(
        "rds",
        "CreateDBSubnetGroup",
        "DBSubnetGroupName",
        RDS_SUBNET_GROUP.what,
        _name(RDS_SUBNET_GROUP),
        RDS_SUBNET_GROUP.source,
        PROVIDER,
        "Data/Subnets",
        "data-subnets-0a1b2c3",
    ),
    Rule(
        "secretsmanager",
        "CreateSecret",
        "Name",
        SECRET_NAME.what,
        _name(SECRET_NAME),
        SECRET_NAME.source,
        API_REFERENCE,
        "fastapi-fargate/qa eu/API_KEY",
        "fastapi-fargate/dev/API_KEY",
    ),
    Rule(
        "secretsmanager",
        "DeleteSecret",
        "RecoveryWindowInDays",
        "recovery window",
        _between(7, 30, 0),
        "Secrets Manager API reference DeleteSecret `RecoveryWindowInDays` (7-30; the provider "
        "sends ForceDeleteWithoutRecovery for 0): terraform-provider-aws "
        "internal/service/secretsmanager/secret.go `recovery_window_in_days` ValidateFunc",
        PROVIDER,
        3,
        0,
    ),
    Rule(
        "sns",
        "CreateTopic",
        "Name",
        SNS_TOPIC_NAME.what,
        _name(SNS_TOPIC_NAME),
        SNS_TOPIC_NAME.source,
        API_REFERENCE,
        "alarms.qa",
        "alarms-topic-0a1b2c3",
    ),
    Rule(
        "s3",
        "CreateBucket",
        "Bucket",
        S3_BUCKET_NAME.what,
        _name(S3_BUCKET_NAME),
        S3_BUCKET_NAME.source,
        API_REFERENCE,
        "Edge_Access_Logs",
        "edge-access-logs-0a1b2c3",
    ),
)


FARGATE_MAX_STOP_TIMEOUT = 120


def _trust_policy(value: object) -> list[str]:
    length = len("".join(str(value).split()))
    return [] if length <= 2048 else [f"is {length} characters without whitespace; at most 2048"]


RULES += (
    Rule(
        "iam",
        "CreateRole",
        "AssumeRolePolicyDocument",
        "role trust policy",
        _trust_policy,
        "IAM user guide, IAM and AWS STS quotas (role trust policy length: 2,048 characters, "
        "whitespace not counted, unless the quota is raised)",
        API_REFERENCE,
        '{"Statement": "' + "x" * 2100 + '"}',
        '{"Version": "2012-10-17", "Statement": []}',
    ),
    Rule(
        "ecs",
        "RegisterTaskDefinition",
        "containerDefinitions[*].stopTimeout",
        "Fargate container stopTimeout",
        _between(0, FARGATE_MAX_STOP_TIMEOUT),
        "ECS API reference ContainerDefinition `stopTimeout` (Fargate: at most 120 seconds)",
        API_REFERENCE,
        300,
        30,
    ),
    Rule(
        "ecs",
        "RegisterTaskDefinition",
        "containerDefinitions[*].linuxParameters.capabilities.add[*]",
        "Fargate added capability",
        lambda value: [] if value == "SYS_PTRACE" else ["Fargate only adds SYS_PTRACE"],
        "ECS API reference KernelCapabilities `add` (tasks on Fargate may only add SYS_PTRACE)",
        API_REFERENCE,
        "NET_ADMIN",
        "SYS_PTRACE",
    ),
    Rule(
        "ecs",
        "RegisterTaskDefinition",
        "containerDefinitions[*].linuxParameters.tmpfs",
        "tmpfs mounts",
        lambda value: ["Fargate does not support tmpfs; use a task volume"] if value else [],
        "ECS API reference LinuxParameters `tmpfs` (not supported on Fargate)",
        API_REFERENCE,
        [{"containerPath": "/tmp", "size": 64}],
        [],
    ),
)


def _not_reserved(reserved: tuple[str, ...]) -> Callable[[object], list[str]]:
    def check(value: object) -> list[str]:
        return [f"{value!r} is reserved by AWS WAF"] if value in reserved else []

    return check


_WAF_METRIC_SOURCE = (
    "AWS WAF API reference VisibilityConfig `MetricName` (no whitespace, and not a name AWS "
    "WAF reserves for its own metrics, such as All and Default_Action)"
)

RULES += (
    Rule(
        "rds",
        "CreateDBParameterGroup",
        "DBParameterGroupName",
        RDS_PARAMETER_GROUP_NAME.what,
        _name(RDS_PARAMETER_GROUP_NAME),
        RDS_PARAMETER_GROUP_NAME.source,
        PROVIDER,
        "Data_Parameters",
        "data-parameters-0a1b2c3",
    ),
    Rule(
        "ec2",
        "CreateFlowLogs",
        "MaxAggregationInterval",
        "flow log aggregation interval",
        _one_of(FLOW_LOG_AGGREGATION_INTERVALS),
        "terraform-provider-aws internal/service/ec2/vpc_flow_log.go resourceFlowLog "
        "`max_aggregation_interval` ValidateFunc (60 or 600); EC2 API reference CreateFlowLogs "
        "`MaxAggregationInterval`",
        PROVIDER,
        300,
        600,
    ),
    Rule(
        "wafv2",
        "CreateWebACL",
        "Rules[*].Statement.RateBasedStatement.EvaluationWindowSec",
        "rate-based rule evaluation window",
        _one_of(WAF_RATE_WINDOWS),
        "AWS WAF API reference RateBasedStatement `EvaluationWindowSec` (60, 120, 300 or 600)",
        API_REFERENCE,
        180,
        300,
    ),
    *(
        Rule(
            "wafv2",
            "CreateWebACL",
            path,
            "WAF metric name",
            _not_reserved(WAF_RESERVED_METRIC_NAMES),
            _WAF_METRIC_SOURCE,
            API_REFERENCE,
            "All",
            "fastapi-fargate-prod-waf",
        )
        for path in ("VisibilityConfig.MetricName", "Rules[*].VisibilityConfig.MetricName")
    ),
)


@dataclass(frozen=True)
class RequestRule:
    """A rule over several fields of one request (the fields' values alone are fine)."""

    service: str
    operation: str
    what: str
    check: Callable[[dict], list[str]]
    source: str
    kind: str
    refused: dict
    accepted: dict


def _evaluation_range(params: dict) -> list[str]:
    period = params.get("Period") or max(
        [
            (q.get("MetricStat") or {}).get("Period") or q.get("Period") or 0
            for q in params.get("Metrics") or []
        ]
        or [0]
    )
    periods = params.get("EvaluationPeriods") or 0
    total = period * periods
    limit = 86400 if period < 3600 else 604800
    return [] if total <= limit else [f"Period x EvaluationPeriods = {total} s; at most {limit}"]


def _one_statistic(params: dict) -> list[str]:
    both = params.get("Statistic") and params.get("ExtendedStatistic")
    metrics = params.get("Metrics") and any(
        params.get(k) for k in ("MetricName", "Namespace", "Statistic", "ExtendedStatistic")
    )
    problems = ["Statistic and ExtendedStatistic are exclusive"] if both else []
    return problems + (["Metrics excludes MetricName, Namespace and statistics"] if metrics else [])


def _datapoints(params: dict) -> list[str]:
    datapoints, periods = params.get("DatapointsToAlarm"), params.get("EvaluationPeriods")
    if datapoints is not None and periods is not None and datapoints > periods:
        return [f"DatapointsToAlarm {datapoints} exceeds EvaluationPeriods {periods}"]
    return []


# ECS developer guide, "Task CPU and memory" for Fargate: memory (MiB) allowed per cpu units.
FARGATE_SIZES = {
    256: {512, 1024, 2048},
    512: set(range(1024, 4096 + 1, 1024)),
    1024: set(range(2048, 8192 + 1, 1024)),
    2048: set(range(4096, 16384 + 1, 1024)),
    4096: set(range(8192, 30720 + 1, 1024)),
    8192: set(range(16384, 61440 + 1, 4096)),
    16384: set(range(32768, 122880 + 1, 8192)),
}


def _fargate_size(params: dict) -> list[str]:
    if "FARGATE" not in (params.get("requiresCompatibilities") or []):
        return []
    try:
        cpu, memory = int(params.get("cpu") or 0), int(params.get("memory") or 0)
    except ValueError:
        return ["cpu and memory must be numbers of units and MiB on Fargate"]
    if memory in FARGATE_SIZES.get(cpu, ()):
        return []
    return [f"cpu {cpu} with memory {memory} is not a Fargate task size"]


def _storage_headroom(params: dict) -> list[str]:
    allocated, maximum = params.get("AllocatedStorage"), params.get("MaxAllocatedStorage")
    if not allocated or not maximum or maximum * 10 >= allocated * 11:
        return []
    return [
        f"MaxAllocatedStorage {maximum} GiB is less than 10 % above AllocatedStorage "
        f"{allocated} GiB (RDS answers: Invalid max storage size)"
    ]


def _attribute_range(key: str, low: int, high: int) -> Callable[[dict], list[str]]:
    def check(params: dict) -> list[str]:
        for attribute in params.get("Attributes") or []:
            if attribute.get("Key") == key and not low <= int(attribute.get("Value")) <= high:
                return [f"{key} = {attribute.get('Value')}; {low}-{high} allowed"]
        return []

    return check


def _distinct_priorities(params: dict) -> list[str]:
    priorities = [rule.get("Priority") for rule in params.get("Rules") or []]
    repeated = sorted({p for p in priorities if priorities.count(p) > 1})
    return [f"priority {p} is used by more than one rule" for p in repeated]


REQUEST_RULES: tuple[RequestRule, ...] = (
    RequestRule(
        "rds",
        "CreateDBInstance",
        "storage autoscaling threshold",
        _storage_headroom,
        "RDS user guide, Managing capacity automatically with Amazon RDS storage autoscaling "
        "(the maximum storage threshold must be at least 10 % more than the allocated storage)",
        API_REFERENCE,
        {"AllocatedStorage": 20, "MaxAllocatedStorage": 20},
        {"AllocatedStorage": 20, "MaxAllocatedStorage": 22},
    ),
    RequestRule(
        "elbv2",
        "ModifyLoadBalancerAttributes",
        "load balancer idle timeout",
        _attribute_range("idle_timeout.timeout_seconds", 1, 4000),
        "ELB API reference LoadBalancerAttribute `idle_timeout.timeout_seconds` (1-4000)",
        API_REFERENCE,
        {"Attributes": [{"Key": "idle_timeout.timeout_seconds", "Value": "4001"}]},
        {"Attributes": [{"Key": "idle_timeout.timeout_seconds", "Value": "60"}]},
    ),
    RequestRule(
        "elbv2",
        "ModifyTargetGroupAttributes",
        "deregistration delay",
        _attribute_range("deregistration_delay.timeout_seconds", 0, 3600),
        "ELB API reference TargetGroupAttribute `deregistration_delay.timeout_seconds` (0-3600)",
        API_REFERENCE,
        {"Attributes": [{"Key": "deregistration_delay.timeout_seconds", "Value": "3601"}]},
        {"Attributes": [{"Key": "deregistration_delay.timeout_seconds", "Value": "30"}]},
    ),
    RequestRule(
        "cloudwatch",
        "PutMetricAlarm",
        "alarm evaluation range",
        _evaluation_range,
        "CloudWatch API reference PutMetricAlarm `Period` (Period x EvaluationPeriods at most "
        "604,800 s; 86,400 s for a period under 3,600 s)",
        API_REFERENCE,
        {"Period": 60, "EvaluationPeriods": 1441},
        {"Period": 3600, "EvaluationPeriods": 168},
    ),
    RequestRule(
        "cloudwatch",
        "PutMetricAlarm",
        "alarm statistic",
        _one_statistic,
        "CloudWatch API reference PutMetricAlarm `Statistic`/`ExtendedStatistic`/`Metrics` "
        "(one statistic; Metrics excludes MetricName, Namespace, Statistic, ExtendedStatistic)",
        API_REFERENCE,
        {"Statistic": "Average", "ExtendedStatistic": "p99"},
        {"ExtendedStatistic": "p99"},
    ),
    RequestRule(
        "cloudwatch",
        "PutMetricAlarm",
        "datapoints to alarm",
        _datapoints,
        "CloudWatch API reference PutMetricAlarm `DatapointsToAlarm` (the M of an M out of N "
        "alarm, N being EvaluationPeriods)",
        API_REFERENCE,
        {"DatapointsToAlarm": 4, "EvaluationPeriods": 3},
        {"DatapointsToAlarm": 3, "EvaluationPeriods": 3},
    ),
    RequestRule(
        "ecs",
        "RegisterTaskDefinition",
        "Fargate task size",
        _fargate_size,
        "ECS developer guide, task CPU and memory for Fargate (RegisterTaskDefinition `cpu` "
        "and `memory`)",
        API_REFERENCE,
        {"requiresCompatibilities": ["FARGATE"], "cpu": "256", "memory": "4096"},
        {"requiresCompatibilities": ["FARGATE"], "cpu": "512", "memory": "1024"},
    ),
    RequestRule(
        "wafv2",
        "CreateWebACL",
        "web ACL rule priorities",
        _distinct_priorities,
        "AWS WAF API reference Rule `Priority` (the priorities don't need to be consecutive, but "
        "they must all be different)",
        API_REFERENCE,
        {"Rules": [{"Name": "a", "Priority": 1}, {"Name": "b", "Priority": 1}]},
        {"Rules": [{"Name": "a", "Priority": 0}, {"Name": "b", "Priority": 1}]},
    ),
)


def request_rules_for(service: str, operation: str) -> list[RequestRule]:
    return [r for r in REQUEST_RULES if r.service == service and r.operation == operation]


def rules_for(service: str, operation: str, path: str) -> list[Rule]:
    return [r for r in RULES if r.applies(service, operation, path)]
