"""The app's PostgreSQL database: created by the stack (``managed``) or an existing one (``external``).

``Database`` creates, with ``database.mode = managed``:

* a DB subnet group of the network's private subnets, so the database has no route from the
  internet whatever else changes;
* a security group that admits only the tasks' security group on 5432, and no egress rule at
  all: security groups are stateful, so replies need none, and a database that cannot open
  connections cannot leak data through them. The tasks' group gets an explicit egress rule to
  it, which keeps the path open if the tasks' catch-all egress is ever narrowed;
* an RDS PostgreSQL instance: encrypted gp3 storage with storage autoscaling, automated backups,
  the master password generated and kept by RDS in Secrets Manager (it never passes through
  Pulumi config, state or logs), minor versions upgraded by RDS. A production stack also gets
  Multi-AZ, deletion protection, a final snapshot and changes held for the maintenance window;
* in production, the instance is Pulumi-``protect``ed, which is what refuses a change that
  would replace it (a new, empty database): the engine stops any replacement of a resource
  protected in both the old state and the program (pulumi/pulumi
  ``pkg/resource/deploy/step_generator.go``, ``continueStepsFromDiff``: "unable to replace
  resource ... as it is currently marked for protection"), and the same function allows
  unprotecting and replacing in one update. So ``protection.allowReplacing: [database]`` lifts
  it for the one update that means it. The inputs that force a replacement are the
  ``ForceNew`` attributes of terraform-provider-aws ``internal/service/rds/instance.go``
  (``ResourceInstance``): of those this program sets ``db_name``, ``engine``, ``username`` and
  ``storage_encrypted``; ``identifier`` is Pulumi's auto-name and stays;
* with it (production), a ``random.RandomId`` whose hex ends the final snapshot's name. Its
  keepers are those replace-triggering inputs, so each instance gets its own name: a
  replacement gets a new id with the new instance, a destroy and re-create a new RandomId.
  A fixed name per stack made the second production delete fail (the snapshot exists); a
  timestamp would change on every run. The name is stored in the instance's state at create,
  and the provider reads it from there when it deletes.

With ``database.mode = external`` it creates no database and passes the settings on.

With ``database.appRole`` (and the release phase on), it also creates an empty Secrets Manager
secret for the app's own database role: the release phase creates that role (rows only, no
DDL: app/api/app_role.py), generates its password and stores it there, so the password never
passes through Pulumi. The web tasks connect as that role; the migration task keeps the
master credentials.

Either way, ``container_wiring`` says what the web container gets: host, port, name, TLS
settings, the statement timeout and the credentials secret's ARN as plain variables, user name
and password only as ECS secrets read from the secret's JSON keys; and that the task role may
read that one secret, so the app can fetch the credentials again after a rotation.
``migration_wiring`` says what the migration's task definition gets instead (the master
credentials, the app role's name and secret, and the right to write that one secret); None
without an app role, when the migration runs the web task definition itself.

TLS: ``verify-full`` against the RDS CA bundle the image ships (app/Dockerfile), so a task
checks the server's certificate and name, not only that the link is encrypted. An external
database that is not RDS (its host does not end in ``.rds.amazonaws.com``) keeps ``require``:
the RDS bundle cannot vouch for another server. With ``database.mode = off`` the program does
not build a ``Database`` at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from components.naming import RDS_FINAL_SNAPSHOT, SECRET_NAME, stack_name
from components.security_groups import connect, security_group
from components.settings import Settings

POSTGRES_PORT = 5432
MASTER_USERNAME = "app"
# The CA that signs the server certificate; rds-ca-rsa2048-g1 is AWS's recommended default
# (valid until 2061), and clients verifying with the RDS bundle trust it.
CA_CERT_IDENTIFIER = "rds-ca-rsa2048-g1"
# Where app/Dockerfile puts AWS's global RDS CA bundle.
RDS_CA_BUNDLE_PATH = "/srv/certs/rds-global-bundle.pem"
RDS_HOST_SUFFIX = ".rds.amazonaws.com"
# The app's login role, made by the release phase. Not "app": that is the master user's name.
APP_ROLE_NAME = "app_rw"
# Days a deleted production secret can still be restored (AWS's default and its longest).
PRODUCTION_RECOVERY_WINDOW_DAYS = 30


@dataclass(frozen=True)
class ContainerWiring:
    """What a container gets from the database."""

    environment: Mapping[str, pulumi.Input[str]]
    """Plain variables: DB_HOST, DB_PORT, DB_NAME, DB_SSLMODE, DB_SSLROOTCERT,
    DB_STATEMENT_TIMEOUT_MS, DB_LOCK_TIMEOUT_MS, DB_SECRET_ARN (and for the migration
    DB_APP_ROLE, DB_APP_SECRET_ARN)."""
    secrets: Mapping[str, pulumi.Input[str]]
    """ECS secrets, name -> valueFrom: DB_USER and DB_PASSWORD from the secret's JSON keys."""
    task_secret_arns: Sequence[pulumi.Input[str]]
    """Secrets the app reads itself while it runs (the task role's permission): the
    credentials secret, read again when the database refuses the credentials ECS injected."""
    task_writable_secret_arns: Sequence[pulumi.Input[str]] = ()
    """Secrets the process writes (the migration stores the app role's password)."""


def tls_mode(host: str) -> str:
    """``verify-full`` for an RDS host (the image has its CAs), else ``require``."""
    return "verify-full" if host.rstrip(".").lower().endswith(RDS_HOST_SUFFIX) else "require"


def container_wiring(
    host: pulumi.Input[str],
    port: pulumi.Input[int],
    name: pulumi.Input[str],
    secret_arn: pulumi.Input[str],
    settings: Settings | None = None,
) -> ContainerWiring:
    """The container's database variables; the credentials only as references to ``secret_arn``."""
    settings = settings or Settings()
    secret = pulumi.Output.from_input(secret_arn)
    return ContainerWiring(
        environment={
            "DB_HOST": host,
            "DB_PORT": pulumi.Output.from_input(port).apply(str),
            "DB_NAME": name,
            # verify-full: TLS on every connection, and the server must prove it is this RDS
            # host with a certificate from the bundle in the image; "require" would accept any
            # server that answers on the way (no MITM protection).
            "DB_SSLMODE": pulumi.Output.from_input(host).apply(tls_mode),
            "DB_SSLROOTCERT": RDS_CA_BUNDLE_PATH,
            # Read by the app's engine (app/api/db.py); the migration does not apply it.
            "DB_STATEMENT_TIMEOUT_MS": str(settings.database.statement_timeout * 1000),
            # Read by the migration (app/api/migrate.py); the app does not apply it.
            "DB_LOCK_TIMEOUT_MS": str(settings.migration.lock_timeout * 1000),
            # ECS resolves DB_USER/DB_PASSWORD only when a task starts; RDS rotates the password
            # every 7 days. With the ARN the app re-reads them when the database refuses the
            # old ones (app/api/credentials.py). An ARN names the secret; it is not one.
            "DB_SECRET_ARN": secret,
        },
        # <secret ARN>:<JSON key>:<version stage>:<version id>; empty stage and id mean
        # AWSCURRENT, read by ECS when a task starts.
        secrets={
            "DB_USER": secret.apply(lambda arn: f"{arn}:username::"),
            "DB_PASSWORD": secret.apply(lambda arn: f"{arn}:password::"),
        },
        task_secret_arns=[secret],
    )


def final_snapshot_identifier(project: str, stack: str, unique: str) -> str:
    """A valid snapshot name (letter first, letters, digits, single hyphens) for this stack and
    this instance (``unique``: the RandomId's hex, see the module docstring)."""
    return stack_name(RDS_FINAL_SNAPSHOT, project, stack, f"final-{unique}")


@dataclass(frozen=True)
class DatabaseArgs:
    """What ``Database`` needs; the network inputs are used only in managed mode."""

    settings: Settings
    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[str]]
    """Private subnets for the managed database."""
    task_security_group_id: pulumi.Input[str]
    """The only group the managed database admits."""


class Database(pulumi.ComponentResource):
    """The database; see the module docstring for what is created and why."""

    host: pulumi.Output[str]
    port: pulumi.Output[int]
    name: pulumi.Output[str]
    secret_arn: pulumi.Output[str]
    """The Secrets Manager secret with JSON keys ``username`` and ``password`` (master)."""
    app_secret_arn: pulumi.Output[str] | None
    """The app role's secret (filled by the release phase); None without an app role."""
    security_group_id: pulumi.Output[str] | None
    """The managed database's group; None for an external database."""
    ingress_rule: aws.vpc.SecurityGroupIngressRule | None
    """The managed database's only way in (from the tasks); None for an external database."""
    task_egress_rule: aws.vpc.SecurityGroupEgressRule | None
    """The tasks' way out to the managed database; None for an external database."""

    def __init__(
        self, name: str, args: DatabaseArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("fastapi-fargate:database:Database", name, None, opts)
        self._settings = args.settings
        db = args.settings.database
        if db.mode == "managed":
            self._managed(name, args)
        elif db.mode == "external":
            self.host = pulumi.Output.from_input(db.host)  # type: ignore[arg-type]
            self.port = pulumi.Output.from_input(db.port)
            self.name = pulumi.Output.from_input(db.name)
            self.secret_arn = pulumi.Output.from_input(db.secret_arn)  # type: ignore[arg-type]
            self.security_group_id = None
            self.ingress_rule = self.task_egress_rule = None
            self.instance_id = None
        else:
            raise ValueError("Database needs database.mode managed or external")
        self.app_secret_arn = None
        if args.settings.app_role:
            production = args.settings.production
            prefix = f"{pulumi.get_project()}/{pulumi.get_stack()}"
            # No version: the release phase generates the password and puts the first one, so
            # no password is ever in Pulumi's config or state.
            app_secret = aws.secretsmanager.Secret(
                f"{name}-app-role",
                aws.secretsmanager.SecretArgs(
                    name=stack_name(
                        SECRET_NAME,
                        pulumi.get_project(),
                        pulumi.get_stack(),
                        "database-app-role",
                        separator="/",
                    ),
                    description=f"Login of the database role {APP_ROLE_NAME} the app of stack "
                    f"{prefix} connects as; written by its release phase (api.migrate).",
                    recovery_window_in_days=PRODUCTION_RECOVERY_WINDOW_DAYS if production else 0,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.app_secret_arn = app_secret.arn
        self.register_outputs(
            {
                "host": self.host,
                "port": self.port,
                "name": self.name,
                "secret_arn": self.secret_arn,
                "app_secret_arn": self.app_secret_arn,
            }
        )

    @property
    def container_wiring(self) -> ContainerWiring:
        """The web container's: the app role's secret when there is one, else the master's."""
        return container_wiring(
            self.host, self.port, self.name, self.app_secret_arn or self.secret_arn, self._settings
        )

    @property
    def migration_wiring(self) -> ContainerWiring | None:
        """The migration container's, when it differs from the web one (an app role)."""
        if self.app_secret_arn is None:
            return None
        master = container_wiring(self.host, self.port, self.name, self.secret_arn, self._settings)
        return ContainerWiring(
            environment={
                **master.environment,
                "DB_APP_ROLE": APP_ROLE_NAME,
                "DB_APP_SECRET_ARN": self.app_secret_arn,
            },
            secrets=master.secrets,
            # The master secret after a rotation, and the app role's to check its password.
            task_secret_arns=[self.secret_arn, self.app_secret_arn],
            task_writable_secret_arns=[self.app_secret_arn],
        )

    @property
    def access_rules(self) -> list[pulumi.Resource]:
        """What a task needs before it connects: the rules between it and the managed
        database (none for an external one, whose rules are its owner's)."""
        return [r for r in (self.ingress_rule, self.task_egress_rule) if r is not None]

    def _managed(self, name: str, args: DatabaseArgs) -> None:
        settings, db = args.settings, args.settings.database
        production = settings.production
        child = pulumi.ResourceOptions(parent=self)

        subnet_group = aws.rds.SubnetGroup(
            f"{name}-subnets",
            aws.rds.SubnetGroupArgs(
                subnet_ids=args.subnet_ids,
                description="Private subnets of the app's database",
            ),
            opts=child,
        )
        # No inline rules (see components/security_groups.py).
        db_group = security_group(
            f"{name}-db",
            args.vpc_id,
            "Database: in only from the app tasks on 5432, no way out",
            child,
        )
        self.task_egress_rule, self.ingress_rule = connect(
            (f"{name}-tasks-out-db", args.task_security_group_id, "To the app database"),
            (f"{name}-db-in-tasks", db_group.id, "From the app tasks"),
            POSTGRES_PORT,
            child,
        )
        final_snapshot = None
        if production:
            # Keepers: the ForceNew inputs set below (see the module docstring).
            snapshot_id = random.RandomId(
                f"{name}-final-snapshot-id",
                random.RandomIdArgs(
                    byte_length=4,
                    keepers={
                        "engine": "postgres",
                        "dbName": db.name,
                        "username": MASTER_USERNAME,
                        "storageEncrypted": "true",
                    },
                ),
                opts=child,
            )
            final_snapshot = snapshot_id.hex.apply(
                lambda unique: final_snapshot_identifier(
                    pulumi.get_project(), pulumi.get_stack(), unique
                )
            )
        instance = aws.rds.Instance(
            f"{name}-postgres",
            aws.rds.InstanceArgs(
                engine="postgres",
                engine_version=db.engine_version,
                # Changing database.engineVersion is the request for a major upgrade; without
                # this RDS refuses it.
                allow_major_version_upgrade=True,
                auto_minor_version_upgrade=True,
                instance_class=db.instance_class,
                storage_type="gp3",
                allocated_storage=db.allocated_storage,
                max_allocated_storage=db.max_allocated_storage,
                storage_encrypted=True,
                db_name=db.name,
                username=MASTER_USERNAME,
                manage_master_user_password=True,
                db_subnet_group_name=subnet_group.name,
                vpc_security_group_ids=[db_group.id],
                publicly_accessible=False,
                port=POSTGRES_PORT,
                ca_cert_identifier=CA_CERT_IDENTIFIER,
                multi_az=production,
                backup_retention_period=db.backup_retention_days,
                copy_tags_to_snapshot=True,
                deletion_protection=production,
                skip_final_snapshot=not production,
                final_snapshot_identifier=final_snapshot,
                # Production changes wait for the maintenance window instead of restarting the
                # database mid-day; a dev stack applies them at once.
                apply_immediately=not production,
                tags={"Name": f"{name}-postgres"},
            ),
            opts=pulumi.ResourceOptions(parent=self, protect=settings.protects("database")),
        )
        self.host = instance.address
        self.port = instance.port
        self.name = pulumi.Output.from_input(db.name)
        self.secret_arn = instance.master_user_secrets.apply(lambda s: s[0].secret_arn)
        self.security_group_id = db_group.id
        # What the alarms and the dashboard name the instance by (DBInstanceIdentifier).
        self.instance_id = instance.identifier
