"""The bootstrap program (bootstrap/), rendered under the mocks like the main program.

It lets GitHub Actions into AWS, so what it trusts is the specification: the GitHub OIDC
provider with AWS's audience; a preview role for this repository's pull requests only, read-only;
one deploy role per GitHub environment, each for that environment of this repository only; and,
when asked for, a hardened state bucket and KMS key. A bad repository name stops the run before
anything is created.
"""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path
from typing import Any

import pulumi
import pytest

from plan.engine_config import ConfigError, load_project
from pulumi_harness import AwsMocks, Rendered, render

BOOTSTRAP = Path(__file__).resolve().parent.parent / "bootstrap"
PROJECT = "fastapi-fargate-bootstrap"
REPOSITORY = "octo-org/fastapi-fargate"
HOST = "token.actions.githubusercontent.com"


PROVIDER_ARN = f"arn:aws:iam::123456789012:oidc-provider/{HOST}"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


class BootstrapMocks(AwsMocks):
    """AwsMocks plus the computed attributes the bootstrap reads, in AWS's formats."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: dict[str, str] = {}

    def new_resource(self, args):
        rid, state = super().new_resource(args)
        self.ids[args.name] = rid
        if args.typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            state["arn"] = PROVIDER_ARN
        elif args.typ == "aws:s3/bucket:Bucket":
            state["bucket"] = f"{args.name}-0a1b2c3"
            state["arn"] = f"arn:aws:s3:::{args.name}-0a1b2c3"
        elif args.typ == "aws:kms/key:Key":
            state["keyId"] = KEY_ARN.rsplit("/", 1)[-1]
            state["arn"] = KEY_ARN
        elif args.typ == "aws:kms/alias:Alias":
            state["name"] = f"{args.inputs['namePrefix']}0a1b2c3"
        return rid, state


def run_bootstrap(**config: Any) -> tuple[Rendered, BootstrapMocks]:
    """Render bootstrap/__main__.py with these settings (None: unset) on top of a valid config."""
    settings = {"githubRepository": REPOSITORY, **config}
    mocks = BootstrapMocks()
    # Pulumi runs the program from bootstrap/, where `ci_access` is importable.
    sys.path.insert(0, str(BOOTSTRAP))
    try:
        rendered = render(
            settings,
            base={"aws:region": "us-east-1"},
            project=PROJECT,
            root=BOOTSTRAP,
            mocks=mocks,
            program=lambda: runpy.run_path(str(BOOTSTRAP / "__main__.py"), run_name="__main__"),
        )
    finally:
        sys.path.remove(str(BOOTSTRAP))
    return rendered, mocks


def trust(role) -> dict[str, Any]:
    (statement,) = json.loads(role["assumeRolePolicy"])["Statement"]
    return statement


def role(rendered: Rendered, name: str):
    return rendered.one("aws:iam/role:Role", name)


def attached(rendered: Rendered, role_name: str) -> list[str]:
    """Managed policies attached to the role (the mocks name a role after its resource)."""
    role(rendered, role_name)
    return sorted(
        a["policyArn"]
        for a in rendered.all("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a["role"] == role_name
    )


@pytest.fixture(scope="module")
def default() -> Rendered:
    return run_bootstrap()[0]


# --- The identity provider ---------------------------------------------------------------------


def test_the_github_oidc_provider_is_for_githubs_token_service_and_the_sts_audience(default):
    provider = default.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert provider["url"] == f"https://{HOST}"
    assert provider["clientIdLists"] == ["sts.amazonaws.com"]
    # IAM ignores thumbprints for GitHub (it trusts the certificate's CA); none are pinned.
    assert "thumbprintLists" not in provider.inputs


def test_an_existing_provider_is_reused_not_created_again():
    arn = f"arn:aws:iam::123456789012:oidc-provider/{HOST}"
    rendered, _ = run_bootstrap(existingOidcProviderArn=arn)
    assert rendered.all("aws:iam/openIdConnectProvider:OpenIdConnectProvider") == []
    assert trust(role(rendered, "github-preview"))["Principal"] == {"Federated": arn}
    assert rendered.outputs["oidcProviderArn"] == arn


# --- The preview role --------------------------------------------------------------------------


def test_only_pull_requests_of_this_repository_can_assume_the_preview_role(default):
    statement = trust(role(default, "github-preview"))
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"] == {"Federated": PROVIDER_ARN}
    assert statement["Condition"] == {
        "StringEquals": {
            f"{HOST}:aud": "sts.amazonaws.com",
            f"{HOST}:sub": [f"repo:{REPOSITORY}:pull_request"],
        }
    }


def test_the_preview_role_can_only_read(default):
    assert attached(default, "github-preview") == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    # Without a state backend there is no key to decrypt with, so no inline policy.
    assert default.all("aws:iam/rolePolicy:RolePolicy") == []


# --- The deploy roles --------------------------------------------------------------------------


def test_one_deploy_role_per_environment_each_trusting_only_its_environment(default):
    for environment in ("dev", "prod"):
        deploy = role(default, f"github-deploy-{environment}")
        assert trust(deploy)["Principal"] == {"Federated": PROVIDER_ARN}
        condition = trust(deploy)["Condition"]
        # StringEquals, exact values: no wildcard, no other repository, branch or environment.
        assert condition == {
            "StringEquals": {
                f"{HOST}:aud": "sts.amazonaws.com",
                f"{HOST}:sub": [f"repo:{REPOSITORY}:environment:{environment}"],
            }
        }
        # Long enough for deploy.yml's role-duration-seconds (a rollout with a release phase).
        assert deploy["maxSessionDuration"] == 7200
    assert set(default.outputs["deployRoleArns"]) == {"dev", "prod"}


def test_the_environments_setting_decides_which_deploy_roles_exist():
    rendered, _ = run_bootstrap(environments=["prod"])
    names = sorted(r.name for r in rendered.all("aws:iam/role:Role"))
    assert names == ["github-deploy-prod", "github-preview"]


def test_deploy_roles_get_administrator_access_by_default_and_the_configured_policies_otherwise(
    default,
):
    admin = "arn:aws:iam::aws:policy/AdministratorAccess"
    assert attached(default, "github-deploy-dev") == [admin]
    narrower = [
        "arn:aws:iam::123456789012:policy/fastapi-fargate-deploy",
        "arn:aws:iam::aws:policy/PowerUserAccess",
    ]
    rendered, _ = run_bootstrap(deployPolicyArns=narrower)
    assert attached(rendered, "github-deploy-prod") == narrower


def test_every_resource_sits_inside_a_component(default):
    components = {
        r.urn
        for r in default.resources
        if r.type.startswith(f"{PROJECT}:") and r.type.count(":") == 2
    }
    assert components
    assert all(r.parent in components for r in default.resources if r.urn not in components)


# --- The state backend -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def backend_run() -> tuple[Rendered, BootstrapMocks]:
    return run_bootstrap(createStateBackend=True)


@pytest.fixture(scope="module")
def with_backend(backend_run) -> Rendered:
    return backend_run[0]


def test_no_state_backend_unless_asked_for(default):
    assert default.all("aws:s3/bucket:Bucket") == []
    assert default.all("aws:kms/key:Key") == []
    assert "backendUrl" not in default.outputs
    assert "secretsProvider" not in default.outputs


def test_the_state_bucket_is_versioned_private_encrypted_with_the_key_and_tls_only(backend_run):
    with_backend, mocks = backend_run
    bucket = with_backend.one("aws:s3/bucket:Bucket")
    key = with_backend.one("aws:kms/key:Key")
    assert bucket.protect and key.protect
    assert bucket.get("forceDestroy") is False

    versioning = with_backend.one("aws:s3/bucketVersioning:BucketVersioning")
    assert versioning["versioningConfiguration"]["status"] == "Enabled"

    block = with_backend.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    for flag in (
        "blockPublicAcls",
        "blockPublicPolicy",
        "ignorePublicAcls",
        "restrictPublicBuckets",
    ):
        assert block[flag] is True

    ownership = with_backend.one("aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert ownership["rule"]["objectOwnership"] == "BucketOwnerEnforced"

    encryption = with_backend.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    (rule,) = encryption["rules"]
    default_encryption = rule["applyServerSideEncryptionByDefault"]
    assert default_encryption["sseAlgorithm"] == "aws:kms"
    assert default_encryption["kmsMasterKeyId"] == KEY_ARN
    assert rule["bucketKeyEnabled"] is True

    policy = with_backend.one("aws:s3/bucketPolicy:BucketPolicy")
    (deny,) = json.loads(policy["policy"])["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Principal"] == "*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Action"] == "s3:*"
    assert deny["Resource"] == [
        "arn:aws:s3:::pulumi-state-0a1b2c3",
        "arn:aws:s3:::pulumi-state-0a1b2c3/*",
    ]
    # Each setting applies to this bucket (its id), none to another.
    for part in (versioning, block, ownership, encryption, policy):
        assert part["bucket"] == mocks.ids[bucket.name]


def test_the_secrets_key_rotates(with_backend):
    key = with_backend.one("aws:kms/key:Key")
    assert key["enableKeyRotation"] is True
    assert key["deletionWindowInDays"] == 30


def test_the_preview_role_may_decrypt_with_the_state_key_and_nothing_more(with_backend):
    (inline,) = with_backend.all("aws:iam/rolePolicy:RolePolicy")
    (statement,) = json.loads(inline["policy"])["Statement"]
    assert statement["Effect"] == "Allow"
    assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:DescribeKey"]
    assert statement["Resource"] == KEY_ARN
    assert inline["role"] == "github-preview"


def test_the_outputs_are_what_the_workflows_and_stack_init_take(with_backend):
    assert with_backend.outputs["backendUrl"] == "s3://pulumi-state-0a1b2c3"
    assert with_backend.outputs["secretsProvider"] == (
        "awskms://alias/fastapi-fargate-pulumi-secrets-0a1b2c3?region=us-east-1"
    )


# --- Bad settings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "repository",
    [
        "",
        "fastapi-fargate",
        "https://github.com/octo-org/fastapi-fargate",
        "octo-org/fastapi-fargate/",
        "octo org/fastapi-fargate",
        "octo-org/*",
        "-octo/fastapi-fargate",
        "octo-org/..",
    ],
)
def test_a_bad_repository_fails_naming_the_key_before_anything_is_created(repository):
    mocks = BootstrapMocks()
    sys.path.insert(0, str(BOOTSTRAP))
    try:
        with pytest.raises(Exception, match=f"{PROJECT}:githubRepository") as raised:
            render(
                {"githubRepository": repository},
                base={},
                project=PROJECT,
                root=BOOTSTRAP,
                mocks=mocks,
                program=lambda: runpy.run_path(str(BOOTSTRAP / "__main__.py"), run_name="__main__"),
            )
    finally:
        sys.path.remove(str(BOOTSTRAP))
    assert "owner/name" in str(raised.value)
    assert mocks.registered == []


def test_valid_repository_names_pass():
    for repository in ("octo-org/fastapi-fargate", "a/b", "Octo0/my.repo_name-2"):
        rendered, _ = run_bootstrap(githubRepository=repository)
        assert trust(role(rendered, "github-preview"))["Condition"]["StringEquals"][
            f"{HOST}:sub"
        ] == [f"repo:{repository}:pull_request"]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("environments", []),
        ("environments", ["dev", "dev"]),
        ("environments", ["prod env"]),
        ("deployPolicyArns", ["AdministratorAccess"]),
        ("existingOidcProviderArn", "arn:aws:iam::123456789012:oidc-provider/example.com"),
    ],
)
def test_other_bad_settings_fail_naming_their_key(key, value):
    with pytest.raises(Exception, match=f"{PROJECT}:{key}"):
        run_bootstrap(**{key: value})


def test_the_error_is_a_pulumi_run_error():
    # A RunError prints as a plain message, without a Python traceback.
    sys.path.insert(0, str(BOOTSTRAP))
    try:
        from ci_access.settings import load_settings

        pulumi.runtime.set_mocks(AwsMocks(), project=PROJECT, stack="dev", preview=False)
        pulumi.runtime.set_all_config({f"{PROJECT}:githubRepository": "nope"}, [])
        with pytest.raises(pulumi.RunError):
            load_settings(pulumi.Config())
    finally:
        sys.path.remove(str(BOOTSTRAP))


def test_its_settings_are_top_level_keys_so_the_clis_path_merge_keeps_them_as_they_are():
    # The CLI reads every declared key as a property path (pkg/workspace/config.go,
    # mergeConfig): a key without "." or "[" is its own top-level key, as the program reads it.
    declared = load_project(BOOTSTRAP / "Pulumi.yaml").config
    assert declared and not [k for k in declared if "." in k or "[" in k]


def test_the_cli_refuses_a_stack_without_a_repository_before_the_program_runs():
    # githubRepository is declared without a default, so the CLI itself stops `pulumi up`.
    mocks = BootstrapMocks()
    with pytest.raises(ConfigError) as raised:
        render(base={"aws:region": "us-east-1"}, root=BOOTSTRAP, mocks=mocks, program=lambda: None)
    assert str(raised.value) == "Stack 'dev' is missing configuration value 'githubRepository'"
    assert mocks.registered == []
