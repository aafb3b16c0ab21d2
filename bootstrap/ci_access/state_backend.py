"""The self-managed Pulumi backend of ONE environment: an S3 bucket for its state and a KMS key.

Creates (only with ``createStateBackend``), once per environment of the account:

* a KMS key with yearly rotation, and an alias with a fixed name
  (``alias/fastapi-fargate-<env>-pulumi-secrets``), for ``--secrets-provider awskms://...``:
  stack secrets are then encrypted by AWS and readable by whoever IAM allows, with no
  passphrase to share or leak. The alias name is written into every stack file of the
  environment, so it never changes (no random suffix) and is protected like the key;
* the state bucket (``fastapi-fargate-state-<env>-...``, a fixed prefix that IAM policies can
  name): versioned (every checkpoint can be restored after a bad update or a deletion),
  encrypted with that environment's key, public access blocked, ACLs disabled (bucket owner
  enforced) and a policy that refuses requests without TLS.

One key and one bucket per environment, because S3 encrypts a bucket's objects with one default
key: with a key per environment, the right to decrypt dev's state and secrets (which pull-request
previews need) is not the right to decrypt prod's.

Key, alias and bucket are protected: deleting them would lose every stack's state and secrets,
so it takes an explicit ``pulumi state unprotect`` first. Pulumi's S3 backend locks
``pulumi up`` with an object in the bucket; ``pulumi preview`` takes no lock and only reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


def tls_only_policy(bucket_arn: str) -> str:
    """Deny every request to the bucket or its objects that is not made over TLS."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


STATE_BUCKET_PREFIX = "fastapi-fargate-state-"


def state_bucket_prefix(environment: str) -> str:
    return f"{STATE_BUCKET_PREFIX}{environment}-"


def state_bucket_arns(environment: str) -> list[str]:
    """ARN patterns of the environment's state bucket and its objects, whatever its suffix."""
    bucket = f"arn:aws:s3:::{state_bucket_prefix(environment)}*"
    return [bucket, f"{bucket}/*"]


def secrets_alias_name(environment: str) -> str:
    return f"alias/fastapi-fargate-{environment}-pulumi-secrets"


@dataclass
class StateBackendArgs:
    environment: str
    """The GitHub environment (= stack) whose state and secrets this backend holds."""


class StateBackend(pulumi.ComponentResource):
    bucket_name: pulumi.Output[str]
    key_arn: pulumi.Output[str]
    backend_url: pulumi.Output[str]
    """s3://bucket, for PULUMI_BACKEND_URL and `pulumi login`."""
    secrets_provider: pulumi.Output[str]
    """awskms://alias/...?region=..., for `pulumi stack init --secrets-provider`."""

    def __init__(
        self, name: str, args: StateBackendArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("fastapi-fargate-bootstrap:state_backend:StateBackend", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        kept = pulumi.ResourceOptions(parent=self, protect=True)

        env = args.environment
        key = aws.kms.Key(
            f"{name}-secrets",
            aws.kms.KeyArgs(
                description=f"Pulumi stack secrets and state objects of fastapi-fargate {env}",
                enable_key_rotation=True,
                # The longest wait: a scheduled deletion can still be cancelled for 30 days.
                deletion_window_in_days=30,
            ),
            kept,
        )
        alias = aws.kms.Alias(
            f"{name}-secrets",
            aws.kms.AliasArgs(name=secrets_alias_name(env), target_key_id=key.key_id),
            kept,
        )

        bucket = aws.s3.Bucket(
            name,
            # Never force_destroy: emptying the bucket to delete it must be a deliberate act.
            aws.s3.BucketArgs(bucket_prefix=state_bucket_prefix(env), force_destroy=False),
            kept,
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            aws.s3.BucketOwnershipControlsArgs(
                bucket=bucket.id,
                rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            ),
            child,
        )
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access",
            aws.s3.BucketPublicAccessBlockArgs(
                bucket=bucket.id,
                block_public_acls=True,
                block_public_policy=True,
                ignore_public_acls=True,
                restrict_public_buckets=True,
            ),
            child,
        )
        # The resources' own argument types are the *InitArgs: BucketVersioningArgs and
        # BucketServerSideEncryptionConfigurationArgs are the legacy inline blocks of Bucket.
        aws.s3.BucketVersioning(
            f"{name}-versioning",
            aws.s3.BucketVersioningInitArgs(
                bucket=bucket.id,
                versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(
                    status="Enabled"
                ),
            ),
            child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            aws.s3.BucketServerSideEncryptionConfigurationInitArgs(
                bucket=bucket.id,
                rules=[
                    aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                        apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                            sse_algorithm="aws:kms", kms_master_key_id=key.arn
                        ),
                        # One data key per bucket instead of a KMS call per object.
                        bucket_key_enabled=True,
                    )
                ],
            ),
            child,
        )
        aws.s3.BucketPolicy(
            f"{name}-tls-only",
            aws.s3.BucketPolicyArgs(bucket=bucket.id, policy=bucket.arn.apply(tls_only_policy)),
            # S3 refuses bucket policies while the public access block is being changed.
            pulumi.ResourceOptions(parent=self, depends_on=[public_access]),
        )

        region = aws.get_region_output().region
        self.bucket_name = bucket.bucket
        self.key_arn = key.arn
        self.backend_url = pulumi.Output.concat("s3://", bucket.bucket)
        self.secrets_provider = pulumi.Output.concat("awskms://", alias.name, "?region=", region)
        self.register_outputs(
            {
                "bucket_name": self.bucket_name,
                "key_arn": self.key_arn,
                "backend_url": self.backend_url,
                "secrets_provider": self.secrets_provider,
            }
        )
