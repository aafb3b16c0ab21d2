"""Nothing starts a task before the task can reach ECR, CloudWatch Logs and its database.

A task's inputs (subnet ids, security group id, execution role ARN) exist before the routes,
the security group rules and the role's policies that make them useful. Without explicit
dependencies the engine may start the migration task, or the service's tasks, while those are
still being created: the task fails with ``CannotPullContainerError`` or a connection timeout.
With a managed database the RDS create (5-10 minutes) hides this; with an external database or
none, and a prebuilt ``image.uri``, nothing does. Asserted on the rendered dependency graph for
every network mode and every database mode, with and without ``image.uri``.
"""

from __future__ import annotations

import itertools

import pytest

from pulumi_harness import ACCOUNT, REGION, AwsMocks, Rendered, Resource, render

MIGRATION = "pulumi-python:dynamic/migration:MigrationRun"
SERVICE = "aws:ecs/service:Service"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
ROUTE = "aws:ec2/route:Route"
NAT = "aws:ec2/natGateway:NatGateway"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"

PUBLIC = ["subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"]
PRIVATE = ["subnet-0ccccccccccccccc3", "subnet-0ddddddddddddddd4"]
NETWORKS = {
    "nat none": {"network.nat": "none"},
    "nat single": {"network.nat": "single"},
    "nat per-az": {"network.nat": "per-az"},
    "existing VPC": {
        "network.nat": "single",
        "network.vpcId": "vpc-0123456789abcdef0",
        "network.publicSubnetIds": PUBLIC,
        "network.privateSubnetIds": PRIVATE,
    },
}
DATABASES = {
    "managed database": {"database.mode": "managed"},
    "external database": {
        "database.mode": "external",
        "database.host": "db.internal.example.com",
        "database.port": 5432,
        "database.name": "app",
        "database.secretArn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:db-AbCdEf",
    },
    "no database": {"database.mode": "off"},
}
IMAGES = {
    "built image": {"image.uri": None},
    "image.uri": {
        "image.uri": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/app@sha256:{'ab' * 32}",
    },
}
# Every network mode and every database mode, each with and without image.uri. The network's
# and the database's readiness come from separate components, so each network mode is paired
# with the managed database and each database mode with nat single (plus its own pairs).
CASES = sorted(
    {(n, "managed database", i) for n, i in itertools.product(NETWORKS, IMAGES)}
    | {("nat single", d, i) for d, i in itertools.product(DATABASES, IMAGES)}
)


def stack(network: str, database: str, image: str) -> Rendered:
    mocks = AwsMocks()
    mocks.subnet_azs = {PUBLIC[0]: f"{REGION}a", PUBLIC[1]: f"{REGION}b"}
    return render(
        {**NETWORKS[network], **DATABASES[database], **IMAGES[image]},
        mocks=mocks,
    )


def what_a_task_needs(r: Rendered) -> list[Resource]:
    """Routes and associations, the tasks' egress, the database's rules, the execution role's
    policies: everything between a started task and ECR, logs, secrets and the database."""
    needs = [*r.all(ASSOCIATION), *r.all(ROUTE), r.one(EGRESS, "edge-tasks-out")]
    needs += [x for x in r.all(INGRESS) + r.all(EGRESS) if x.name.startswith("data-")]
    needs += [r.one(ATTACHMENT, "app-execution-managed")]
    needs += [x for x in r.all(ROLE_POLICY) if x.name == "app-execution-secrets"]
    return needs


def not_waited_for(r: Rendered, resource: Resource, needs: list[Resource]) -> list[str]:
    return [f"{n.type.split(':')[-1]} {n.name}" for n in needs if not r.depends_on(resource, n)]


@pytest.fixture(scope="module", params=CASES, ids=[", ".join(c) for c in CASES])
def case(request) -> tuple[tuple[str, str, str], Rendered]:
    return request.param, stack(*request.param)


def test_the_migration_starts_only_once_its_task_can_reach_ecr_logs_and_the_database(case):
    (network, database, _), r = case
    needs = what_a_task_needs(r)
    assert not_waited_for(r, r.one(MIGRATION), needs) == []

    # What the list must hold in this mode, so the assertion above is not about nothing.
    names = {n.name for n in needs}
    assert {"edge-tasks-out", "app-execution-managed"} <= names
    assert ({"data-db-in-tasks", "data-tasks-out-db"} <= names) == (database == "managed database")
    if database != "no database":
        assert "app-execution-secrets" in names
    if network == "existing VPC":
        assert not r.all(ASSOCIATION) and not r.all(ROUTE)
    else:
        zones = 2
        nat_routes = 0 if network == "nat none" else zones
        assert len(r.all(ASSOCIATION)) == 2 * zones
        assert len(r.all(ROUTE)) == 1 + nat_routes
        # A NAT route waits for its NAT gateway, so the migration does too.
        for nat in r.all(NAT):
            assert r.depends_on(r.one(MIGRATION), nat), nat.name


def test_the_service_starts_tasks_only_once_they_can_reach_everything_and_be_reached(case):
    _, r = case
    service = r.one(SERVICE)
    traffic = [r.one(EGRESS, "edge-alb-out-tasks"), r.one(INGRESS, "edge-tasks-in-alb")]
    assert not_waited_for(r, service, what_a_task_needs(r) + traffic) == []


def test_the_tasks_own_policies_are_attached_before_the_migration_or_a_task_starts():
    # The app (and its migration) may call AWS with service.taskPolicyArns as it starts.
    policy = f"arn:aws:iam::{ACCOUNT}:policy/app-reads-bucket"
    r = render(
        {**NETWORKS["nat single"], **DATABASES["managed database"], **IMAGES["image.uri"],
         "service.taskPolicyArns": [policy]},
    )  # fmt: skip
    # The web task role's and, with the database's app role, the migration's own.
    web = r.one(ATTACHMENT, "app-task-policy-0")
    migration = r.one(ATTACHMENT, "app-migration-task-policy-0")
    assert web["policyArn"] == migration["policyArn"] == policy
    assert not_waited_for(r, r.one(MIGRATION), [migration]) == []
    assert not_waited_for(r, r.one(SERVICE), [web]) == []
