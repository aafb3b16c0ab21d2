"""Guardrails for the database: its data encrypted, out of the internet's reach, and recoverable.

* ``rds-storage-encrypted`` (every stack): an RDS instance encrypts its storage, and with it
  its snapshots, backups and replicas (AWS Config ``rds-storage-encrypted``). RDS cannot turn
  encryption on for an existing instance: a stack that gets this wrong has to copy its data to
  a new one, so it is refused before it is created;
* ``rds-not-publicly-accessible`` (every stack): an RDS instance has no public address
  (``rds-instance-public-access-check``); only the tasks reach it, inside the VPC;
* ``production-backup-retention`` (production stacks): automated backups, and with them
  point-in-time recovery, kept at least ``MIN_BACKUP_DAYS`` days: a bad migration or a deleted
  table found after a weekend can still be undone.

Deletion protection, the fourth thing a review asks of a production database, is
``production-deletion-protection`` (``production``).
"""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from . import props as stack
from .props import RDS_INSTANCE, label, number, shown

# A week: the default minimum of Security Hub's RDS backup control (RDS.11), and long enough to
# undo a problem found after a weekend or a holiday.
MIN_BACKUP_DAYS = 7
WHERE = "components/database.py always sets it; this rendering was changed outside the settings"


def check_storage_encrypted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != RDS_INSTANCE or args.props.get("storageEncrypted") is True:
        return
    report(
        f"{label(args.resource_type, args.name)} stores its data, snapshots and backups "
        f"unencrypted, and RDS cannot encrypt an existing instance later. Fix: set "
        f"storage_encrypted=True ({WHERE}).",
        None,
    )


def check_not_public(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != RDS_INSTANCE or args.props.get("publiclyAccessible") is not True:
        return
    report(
        f"{label(args.resource_type, args.name)} gets a public address, one security group rule "
        f"away from the internet. Fix: set publicly_accessible=False and keep it in private "
        f"subnets ({WHERE}).",
        None,
    )


def check_backup_retention(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != RDS_INSTANCE or not stack.is_production():
        return
    days = number(args.props.get("backupRetentionPeriod"))
    if days is not None and days >= MIN_BACKUP_DAYS:
        return
    report(
        f"{label(args.resource_type, args.name)} keeps automated backups {shown(days)} day(s) on a "
        f"production stack; a mistake found a week later could no longer be undone. Fix: keep "
        f"them at least {MIN_BACKUP_DAYS} days (in this project `pulumi config set --path "
        f"database.backupRetentionDays {MIN_BACKUP_DAYS}`, up to 35).",
        None,
    )


rds_storage_encrypted = ResourceValidationPolicy(
    name="rds-storage-encrypted",
    description="RDS instances encrypt their storage.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=check_storage_encrypted,
)
rds_not_publicly_accessible = ResourceValidationPolicy(
    name="rds-not-publicly-accessible",
    description="RDS instances have no public address.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=check_not_public,
)
production_backup_retention = ResourceValidationPolicy(
    name="production-backup-retention",
    description=f"On production stacks, databases keep {MIN_BACKUP_DAYS}+ days of backups.",
    enforcement_level=EnforcementLevel.MANDATORY,
    validate=check_backup_retention,
)

POLICIES = [rds_storage_encrypted, rds_not_publicly_accessible, production_backup_retention]
