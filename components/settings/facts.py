"""What AWS and the stack fix for every setting: Fargate sizes, TLS policies, retention
periods, PostgreSQL versions, reserved variable names, and the patterns values must match.

No resource is created here.
"""

from __future__ import annotations

import re

PROJECT = "fastapi-fargate"

# Valid Fargate task sizes: CPU units -> allowed memory in MiB (AWS ECS developer guide,
# "Task CPU and memory").
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}

# Memory a task needs besides its workers: the process manager that supervises them, the init
# process and the container runtime's share. Measured for the shipped app (see README).
TASK_MEMORY_OVERHEAD_MIB = 64

# ALB security policies that refuse TLS 1.0 and 1.1 (AWS "Security policies for your
# Application Load Balancer"). Anything else would let a client negotiate an obsolete protocol.
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

# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip

# AWS WAF rate-based rule limits per 5-minute window (botocore wafv2 model, RateLimit: min 10,
# max 2000000000; the "Rate-based rule statement" page of the WAF developer guide).
WAF_RATE_LIMIT_MIN = 10
WAF_RATE_LIMIT_MAX = 2_000_000_000

# RDS for PostgreSQL majors in RDS standard support (Amazon RDS for PostgreSQL release
# calendar). 13 left standard support in February 2026: RDS would bill Extended Support for it.
POSTGRES_MAJORS = ("14", "15", "16", "17")
# RDS for PostgreSQL's smallest gp3 volume, and gp3's largest (RDS "DB instance storage").
POSTGRES_MIN_STORAGE_GIB = 20
RDS_MAX_STORAGE_GIB = 65536

# Where app secret VALUES were set before they moved out of Pulumi config and state; a key in
# this namespace is refused with the commands that move it (components/settings/rules.py).
APP_SECRETS_NAMESPACE = "app-secrets"
# App secrets the release phase generates when they have no value: the shipped API's bearer
# token (app/api/auth.py reads API_TOKEN). Any other named secret must be set by a person.
GENERATED_APP_SECRETS = frozenset({"API_TOKEN"})

# Variables the stack sets in the container itself; settings may not set them again.
STACK_ENV_NAMES = frozenset(
    {
        "WEB_CONCURRENCY",
        "PORT",
        "GRACEFUL_SHUTDOWN_TIMEOUT",
        "KEEP_ALIVE_TIMEOUT",
        "HEALTH_CHECK_PATH",
        "MAX_BODY_BYTES",
        "FORWARDED_ALLOW_IPS",
    }
)
# The database wiring (components/database.py). DATABASE_URL is reserved too because the app
# prefers it to the DB_* variables (app/api/settings.py): set, it would bypass the database.
DATABASE_ENV_NAMES = frozenset(
    {
        "DB_HOST",
        "DB_PORT",
        "DB_NAME",
        "DB_USER",
        "DB_PASSWORD",
        "DB_SSLMODE",
        "DB_SECRET_ARN",
        "DB_SSLROOTCERT",
        "DB_STATEMENT_TIMEOUT_MS",
        "DB_LOCK_TIMEOUT_MS",
        "DB_APP_ROLE",
        "DB_APP_SECRET_ARN",
        "DATABASE_URL",
    }
)

_DNS_NAME = re.compile(r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:(secretsmanager|ssm):[a-z0-9-]+:\d{12}:\S+$")
_POLICY_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(aws|\d{12}):policy/\S+$")
# An ECR repository ARN; the name as ECR's API accepts it (botocore ecr RepositoryName:
# 2-256 characters of this pattern).
_ECR_REPOSITORY_ARN = re.compile(
    r"^arn:aws[a-z-]*:ecr:[a-z0-9-]+:\d{12}:repository/"
    r"(?P<name>(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*)$"
)
_IMAGE_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
# One IAM role by its exact ARN (IAM role names: [\w+=,.@-], paths of the same characters and /);
# no wildcard, so a repository policy names one role and no other.
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")


_VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")
_SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8,17}$")
# A regional availability zone: the region's name and one letter (us-east-1a, us-gov-west-1b).
_ZONE_NAME = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+[a-z]$")
_ZONE_ID = re.compile(r"^Z[A-Z0-9]{1,31}$")
# The full ARN, with the 6 characters Secrets Manager appends to the name: IAM matches a
# policy's Resource against it, so a partial ARN would leave the tasks unable to read it.
_FULL_SECRETSMANAGER_ARN = re.compile(
    r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$"
)
_DB_INSTANCE_CLASS = re.compile(r"^db\.[a-z0-9]+\.[a-z0-9]+$")
_DB_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
