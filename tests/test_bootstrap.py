"""The bootstrap program (bootstrap/), rendered under the mocks like the main program.

It lets GitHub Actions into AWS, so what it trusts is the specification, checked by effect with
a small IAM evaluator (``iam_evaluation``) over the tokens GitHub issues: a deploy role admits
only its environment's jobs on the default branch; the preview role admits only pull requests,
decrypts only dev's state key and reads no secret; one environment per account unless
``sharedAccount`` says otherwise (with a warning); per environment, a hardened state bucket and
KMS key. Every IAM document passes botocore's IAM shapes and a grammar check. A bad setting
stops the run before anything is created.
"""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path
from typing import Any

import pulumi
import pytest

from iam_evaluation import (
    allowed,
    botocore_problems,
    condition_matches,
    grammar_problems,
    like,
    web_identity_admitted,
)
from plan.engine_config import ConfigError, load_project
from pulumi_harness import AwsMocks, Rendered, render

BOOTSTRAP = Path(__file__).resolve().parent.parent / "bootstrap"
PROJECT = "fastapi-fargate-bootstrap"
REPOSITORY = "octo-org/fastapi-fargate"
HOST = "token.actions.githubusercontent.com"


ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
PROVIDER_ARN = f"arn:aws:iam::123456789012:oidc-provider/{HOST}"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def key_arn(environment: str) -> str:
    return KEY_ARN.replace("1234abcd", f"{environment:0<8}"[:8])


class BootstrapMocks(AwsMocks):
    """AwsMocks plus the computed attributes the bootstrap reads, in AWS's formats."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: dict[str, str] = {}
        self.logged: list[tuple[str, str]] = []

    def new_resource(self, args):
        rid, state = super().new_resource(args)
        self.ids[args.name] = rid
        if args.typ == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            state["arn"] = PROVIDER_ARN
        elif args.typ == "aws:s3/bucket:Bucket":
            state["bucket"] = f"{args.inputs['bucketPrefix']}0a1b2c3"
            state["arn"] = f"arn:aws:s3:::{state['bucket']}"
        elif args.typ == "aws:kms/key:Key":
            environment = args.name.removeprefix("pulumi-state-").removesuffix("-secrets")
            state["arn"] = key_arn(environment)
            state["keyId"] = state["arn"].rsplit("/", 1)[-1]
        return rid, state


def run_bootstrap(**config: Any) -> tuple[Rendered, BootstrapMocks]:
    """Render bootstrap/__main__.py with these settings (None: unset) on top of a valid config."""
    settings = {"githubRepository": REPOSITORY, **config}
    mocks = BootstrapMocks()
    # Pulumi runs the program from bootstrap/, where `ci_access` is importable.
    sys.path.insert(0, str(BOOTSTRAP))
    # What the program prints to the person running `pulumi up` (the engine's log).
    originals = pulumi.log.info, pulumi.log.warn
    pulumi.log.info = lambda msg, *a, **k: mocks.logged.append(("info", msg))
    pulumi.log.warn = lambda msg, *a, **k: mocks.logged.append(("warning", msg))
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
        pulumi.log.info, pulumi.log.warn = originals
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


def token(context: str, ref: str, *, repository: str = REPOSITORY) -> dict[str, str]:
    """The aud and sub claims GitHub puts in a job's token under the subject template
    ["repo", "context", "ref"], written out as GitHub's docs show them (OpenID Connect reference:
    "repo:ORG-NAME/REPO-NAME:environment:ENVIRONMENT-NAME" plus ":ref:<ref>")."""
    return {"aud": "sts.amazonaws.com", "sub": f"repo:{repository}:{context}:ref:{ref}"}


MAIN_IN_DEV = token("environment:dev", "refs/heads/main")
MAIN_IN_PROD = token("environment:prod", "refs/heads/main")
BRANCH_IN_DEV = token("environment:dev", "refs/heads/feature")
BRANCH_IN_PROD = token("environment:prod", "refs/heads/feature")
PULL_REQUEST_IN_PREVIEW = token("environment:preview", "refs/pull/42/merge")
PULL_REQUEST_IN_DEV = token("environment:dev", "refs/pull/42/merge")
PULL_REQUEST_NO_ENVIRONMENT = token("pull_request", "refs/pull/42/merge")
BRANCH_IN_PREVIEW = token("environment:preview", "refs/heads/feature")
OTHER_REPOSITORY = token("environment:dev", "refs/heads/main", repository="evil/fastapi-fargate")
# The default template (no ref): what GitHub sends before the repository opts in.
DEFAULT_TEMPLATE_DEV = {"aud": "sts.amazonaws.com", "sub": f"repo:{REPOSITORY}:environment:dev"}
WRONG_AUDIENCE = {**MAIN_IN_DEV, "aud": "https://github.com/octo-org"}
EVERY_TOKEN = {
    "main in dev": MAIN_IN_DEV,
    "main in prod": MAIN_IN_PROD,
    "branch in dev": BRANCH_IN_DEV,
    "branch in prod": BRANCH_IN_PROD,
    "pull request in preview": PULL_REQUEST_IN_PREVIEW,
    "pull request in dev": PULL_REQUEST_IN_DEV,
    "pull request": PULL_REQUEST_NO_ENVIRONMENT,
    "branch in preview": BRANCH_IN_PREVIEW,
    "other repository": OTHER_REPOSITORY,
    "default template": DEFAULT_TEMPLATE_DEV,
    "wrong audience": WRONG_AUDIENCE,
}


def admitted(rendered: Rendered, role_name: str) -> set[str]:
    """Which of EVERY_TOKEN may assume the role."""
    trust_policy = role(rendered, role_name)["assumeRolePolicy"]
    return {
        name
        for name, claims in EVERY_TOKEN.items()
        if web_identity_admitted(trust_policy, PROVIDER_ARN, claims)
    }


def role_documents(rendered: Rendered, role_name: str) -> list[Any]:
    """The role's permissions, managed policies taken as allowing everything (the worst case:
    what is refused must be refused by the role's own denies)."""
    documents: list[Any] = [
        {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        for _ in attached(rendered, role_name)
    ]
    documents += [
        p["policy"] for p in rendered.all("aws:iam/rolePolicy:RolePolicy") if p["role"] == role_name
    ]
    return documents


def can(rendered: Rendered, role_name: str, action: str, resource: str) -> bool:
    return allowed(role_documents(rendered, role_name), action, resource)


@pytest.fixture(scope="module")
def dev_account() -> tuple[Rendered, BootstrapMocks]:
    """The default: the dev account's bootstrap stack (environments: [dev])."""
    return run_bootstrap(createStateBackend=True)


@pytest.fixture(scope="module")
def prod_account() -> tuple[Rendered, BootstrapMocks]:
    return run_bootstrap(environments=["prod"], createStateBackend=True)


@pytest.fixture(scope="module")
def one_account() -> tuple[Rendered, BootstrapMocks]:
    return run_bootstrap(environments=["dev", "prod"], sharedAccount=True, createStateBackend=True)


@pytest.fixture(scope="module")
def default(dev_account) -> Rendered:
    return dev_account[0]


ALL_SETUPS = ["dev_account", "prod_account", "one_account"]


# --- The evaluator the trust tests rely on ------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("repo:o/r:pull_request", "repo:o/r:pull_request", True),
        ("refs/pull/*/merge", "refs/pull/42/merge", True),
        ("refs/pull/*/merge", "refs/pull//merge", True),  # * matches nothing too
        ("refs/pull/*/merge", "refs/heads/main", False),
        ("ab?", "abc", True),
        ("ab?", "abcd", False),
        ("Main", "main", False),  # case-sensitive
        ("a.c", "abc", False),  # no regex: a dot is a dot
    ],
)
def test_the_string_like_port_matches_like_iam(pattern, value, matches):
    assert like(pattern, value) is matches


def test_the_condition_port_ands_operators_and_keys_and_ors_values():
    condition = {
        "StringEquals": {"k:aud": "sts.amazonaws.com", "k:sub": ["a", "b"]},
        "StringLike": {"k:sub": "?"},
    }
    assert condition_matches(condition, {"k:aud": "sts.amazonaws.com", "k:sub": "b"})
    assert not condition_matches(condition, {"k:aud": "sts.amazonaws.com", "k:sub": "c"})
    assert not condition_matches(condition, {"k:aud": "other", "k:sub": "a"})
    # A key the request does not carry fails the condition.
    assert not condition_matches(condition, {"k:sub": "a"})
    with pytest.raises(ValueError, match="ForAnyValue:StringLike"):
        condition_matches({"ForAnyValue:StringLike": {}}, {})


def test_the_decision_port_lets_an_explicit_deny_win_and_reads_not_elements():
    allow_all = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    deny = {
        "Statement": [{"Effect": "Deny", "Action": "kms:Decrypt", "NotResource": "arn:aws:kms:k1"}]
    }
    assert allowed([allow_all, deny], "kms:Decrypt", "arn:aws:kms:k1")
    assert not allowed([allow_all, deny], "kms:Decrypt", "arn:aws:kms:k2")
    assert allowed([allow_all, deny], "KMS:encrypt", "arn:aws:kms:k2")
    assert not allowed([deny], "s3:GetObject", "arn:aws:s3:::b/k")  # implicit deny


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


# --- Who may assume what ------------------------------------------------------------------------


def test_in_two_accounts_each_deploy_role_admits_only_its_environment_on_the_default_branch(
    dev_account, prod_account
):
    assert admitted(dev_account[0], "github-deploy-dev") == {"main in dev"}
    assert admitted(prod_account[0], "github-deploy-prod") == {"main in prod"}
    # The production account has no dev role and no preview role at all.
    assert sorted(r.name for r in prod_account[0].all("aws:iam/role:Role")) == [
        "github-deploy-prod"
    ]


def test_in_one_account_a_dev_token_cannot_assume_prods_role_nor_dev_from_another_branch(
    one_account,
):
    rendered = one_account[0]
    assert admitted(rendered, "github-deploy-dev") == {"main in dev"}
    assert admitted(rendered, "github-deploy-prod") == {"main in prod"}


@pytest.mark.parametrize("setup", ["dev_account", "one_account"])
def test_only_pull_requests_in_the_preview_environment_can_assume_the_preview_role(setup, request):
    rendered = request.getfixturevalue(setup)[0]
    assert admitted(rendered, "github-preview") == {"pull request in preview"}
    statement = trust(role(rendered, "github-preview"))
    assert statement["Principal"] == {"Federated": PROVIDER_ARN}
    assert statement["Condition"]["StringEquals"] == {f"{HOST}:aud": "sts.amazonaws.com"}


def test_a_deploy_role_lasts_as_long_as_the_deploy_workflow_asks(default):
    # Long enough for deploy.yml's role-duration-seconds (a rollout with a release phase).
    assert role(default, "github-deploy-dev")["maxSessionDuration"] == 7200


def test_other_branches_and_previews_follow_the_settings():
    rendered, _ = run_bootstrap(
        defaultBranch="trunk", previewEnvironment="staging", environments=["staging"]
    )
    staging = token("environment:staging", "refs/heads/trunk")
    trust_policy = role(rendered, "github-deploy-staging")["assumeRolePolicy"]
    assert web_identity_admitted(trust_policy, PROVIDER_ARN, staging)
    assert not web_identity_admitted(
        trust_policy, PROVIDER_ARN, token("environment:staging", "refs/heads/main")
    )
    assert "github-preview" in {r.name for r in rendered.all("aws:iam/role:Role")}


# --- What the roles may do ----------------------------------------------------------------------


@pytest.mark.parametrize("setup", ["dev_account", "one_account"])
def test_the_preview_role_decrypts_dev_state_only_and_reads_no_secret(setup, request):
    rendered = request.getfixturevalue(setup)[0]
    assert attached(rendered, "github-preview") == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]
    assert can(rendered, "github-preview", "kms:Decrypt", key_arn("dev"))
    assert not can(rendered, "github-preview", "kms:Decrypt", key_arn("prod"))
    assert not can(rendered, "github-preview", "kms:Decrypt", "arn:aws:kms:us-east-1:1:key/any")
    for action in ("ssm:GetParameter", "ssm:GetParametersByPath", "secretsmanager:GetSecretValue"):
        assert not can(rendered, "github-preview", action, "arn:aws:secretsmanager:x:1:secret:y")
    # The app secrets of dev (the sample API's token among them): their values are denied.
    api_token = (
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:fastapi-fargate/dev/API_TOKEN-AbCdEf"
    )
    for action in ("secretsmanager:GetSecretValue", "secretsmanager:BatchGetSecretValue"):
        assert not can(rendered, "github-preview", action, api_token)
    # Read-only: no write of its own beyond the managed ReadOnlyAccess.
    (guard,) = [
        p for p in rendered.all("aws:iam/rolePolicy:RolePolicy") if p["role"] == "github-preview"
    ]
    allows = [s for s in json.loads(guard["policy"])["Statement"] if s["Effect"] == "Allow"]
    assert allows == [
        {
            "Sid": "DecryptPreviewedState",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:DescribeKey"],
            "Resource": key_arn("dev"),
        }
    ]


def test_in_one_account_the_preview_role_cannot_read_prods_state_bucket(one_account):
    rendered = one_account[0]
    prod_state = "arn:aws:s3:::fastapi-fargate-state-prod-0a1b2c3/.pulumi/stacks/x/prod.json"
    dev_state = "arn:aws:s3:::fastapi-fargate-state-dev-0a1b2c3/.pulumi/stacks/x/dev.json"
    assert not can(rendered, "github-preview", "s3:GetObject", prod_state)
    assert can(rendered, "github-preview", "s3:GetObject", dev_state)


def test_without_a_state_backend_the_preview_role_may_decrypt_nothing():
    rendered, _ = run_bootstrap()
    assert not can(rendered, "github-preview", "kms:Decrypt", key_arn("dev"))


def test_in_one_account_devs_deploy_role_cannot_touch_prods_state_or_key(one_account):
    rendered = one_account[0]
    prod_state = "arn:aws:s3:::fastapi-fargate-state-prod-0a1b2c3/.pulumi/stacks/x/prod.json"
    assert not can(rendered, "github-deploy-dev", "kms:Decrypt", key_arn("prod"))
    assert not can(rendered, "github-deploy-dev", "s3:GetObject", prod_state)
    assert can(rendered, "github-deploy-dev", "kms:Decrypt", key_arn("dev"))
    assert not can(rendered, "github-deploy-prod", "kms:Decrypt", key_arn("dev"))


@pytest.mark.parametrize("setup", ALL_SETUPS)
def test_no_deploy_role_can_rewrite_the_trust_of_any_ci_role(setup, request):
    rendered = request.getfixturevalue(setup)[0]
    roles = [r.name for r in rendered.all("aws:iam/role:Role")]
    for deploy in (r for r in roles if r.startswith("github-deploy-")):
        for target in roles:
            arn = f"arn:aws:iam::123456789012:role/{target}"
            assert not can(rendered, deploy, "iam:UpdateAssumeRolePolicy", arn)
            assert not can(rendered, deploy, "iam:PutRolePolicy", arn)
        assert not can(rendered, deploy, "iam:UpdateOpenIDConnectProviderThumbprint", PROVIDER_ARN)
        # Everything else in its own account stays possible (the managed policies decide).
        assert can(rendered, deploy, "iam:CreateRole", "arn:aws:iam::123456789012:role/app-task")


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
    assert attached(rendered, "github-deploy-dev") == narrower


def test_policies_with_the_same_last_segment_get_distinct_attachments():
    same_name = [
        "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess",
        "arn:aws:iam::123456789012:policy/ViewOnlyAccess",
    ]
    rendered, _ = run_bootstrap(deployPolicyArns=same_name)
    attachments = rendered.all("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    deploy = [a for a in attachments if a["role"] == "github-deploy-dev"]
    assert sorted(a["policyArn"] for a in deploy) == sorted(same_name)
    assert len({a.name for a in deploy}) == 2


@pytest.mark.parametrize("setup", ALL_SETUPS)
def test_every_iam_document_is_valid_for_iam(setup, request):
    rendered = request.getfixturevalue(setup)[0]
    roles = rendered.all("aws:iam/role:Role")
    policies = rendered.all("aws:iam/rolePolicy:RolePolicy")
    assert roles and policies
    for r in roles:
        assert grammar_problems(r["assumeRolePolicy"], trust=True) == [], r.name
        params = {"RoleName": r.name, "AssumeRolePolicyDocument": r["assumeRolePolicy"]}
        if "maxSessionDuration" in r.inputs:
            # Numbers cross the engine's wire as floats; IAM takes whole seconds.
            assert r["maxSessionDuration"] == int(r["maxSessionDuration"])
            params["MaxSessionDuration"] = int(r["maxSessionDuration"])
        assert botocore_problems("CreateRole", params) == "", r.name
    for p in policies:
        assert grammar_problems(p["policy"]) == [], p.name
        params = {"RoleName": p["role"], "PolicyName": p.name, "PolicyDocument": p["policy"]}
        assert botocore_problems("PutRolePolicy", params) == "", p.name


def test_the_grammar_check_refuses_malformed_documents():
    good = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
    assert grammar_problems(good) == []
    bad = {
        "Version": "2008-10-17",
        "Statement": [
            {"Effect": "allow", "Action": "GetObject", "NotAction": "x:y", "Principal": "*"}
        ],
    }
    problems = grammar_problems(bad)
    assert len(problems) == 6
    assert (
        botocore_problems(
            "PutRolePolicy", {"RoleName": "r", "PolicyName": "p", "PolicyDocument": "\u2603"}
        )
        != ""
    )


def test_every_resource_sits_inside_a_component(one_account):
    rendered = one_account[0]
    components = {
        r.urn
        for r in rendered.resources
        if r.type.startswith(f"{PROJECT}:") and r.type.count(":") == 2
    }
    assert components
    assert all(r.parent in components for r in rendered.resources if r.urn not in components)


# --- One account or two -------------------------------------------------------------------------


def test_several_environments_in_one_account_are_refused_unless_asked_for():
    with pytest.raises(Exception, match=f"{PROJECT}:environments") as raised:
        run_bootstrap(environments=["dev", "prod"])
    assert "sharedAccount true" in str(raised.value)


def test_the_shared_account_mode_warns_that_it_is_unsafe_for_production(one_account, dev_account):
    warnings = [m for level, m in one_account[1].logged if level == "warning"]
    assert len(warnings) == 1 and "Unsafe for production" in warnings[0]
    assert [m for level, m in dev_account[1].logged if level == "warning"] == []


def test_the_bootstrap_prints_the_github_settings_the_trust_relies_on(dev_account):
    rendered, mocks = dev_account
    (printed,) = [m for level, m in mocks.logged if level == "info"]
    settings = rendered.outputs["githubSettings"]
    assert all(line in printed for line in settings)
    text = "\n".join(settings)
    assert (
        "gh api --method PUT repos/octo-org/fastapi-fargate/actions/oidc/customization/sub "
        """--input - <<< '{"use_default": false, "include_claim_keys": ["repo", "context", "ref"]}'"""
    ) in text
    assert "Environment dev: deployment branches = selected branches, only main" in text
    assert "Environment preview" in text and "required reviewers" in text
    assert "Branch ruleset on main" in text
    prod_text = "\n".join(run_bootstrap(environments=["prod"])[0].outputs["githubSettings"])
    assert (
        "Environment prod: deployment branches = selected branches, only main; required "
        "reviewers" in prod_text
    )
    assert "Environment preview" not in prod_text


# --- The state backend -------------------------------------------------------------------------


def test_no_state_backend_unless_asked_for():
    rendered, _ = run_bootstrap()
    assert rendered.all("aws:s3/bucket:Bucket") == []
    assert rendered.all("aws:kms/key:Key") == []
    assert "backendUrls" not in rendered.outputs
    assert "secretsProviders" not in rendered.outputs


def test_each_environment_gets_its_own_state_bucket_and_key(one_account):
    rendered, mocks = one_account
    buckets = {b.name: b for b in rendered.all("aws:s3/bucket:Bucket")}
    assert sorted(buckets) == ["pulumi-state-dev", "pulumi-state-prod"]
    assert buckets["pulumi-state-prod"]["bucketPrefix"] == "fastapi-fargate-state-prod-"
    encryption = {
        e["bucket"]: e["rules"][0]["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"]
        for e in rendered.all(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
        )
    }
    assert encryption == {
        mocks.ids["pulumi-state-dev"]: key_arn("dev"),
        mocks.ids["pulumi-state-prod"]: key_arn("prod"),
    }


def test_the_state_bucket_is_versioned_private_encrypted_with_the_key_and_tls_only(dev_account):
    with_backend, mocks = dev_account
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
    assert default_encryption["kmsMasterKeyId"] == key_arn("dev")
    assert rule["bucketKeyEnabled"] is True

    policy = with_backend.one("aws:s3/bucketPolicy:BucketPolicy")
    (deny,) = json.loads(policy["policy"])["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Principal"] == "*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Action"] == "s3:*"
    assert deny["Resource"] == [
        "arn:aws:s3:::fastapi-fargate-state-dev-0a1b2c3",
        "arn:aws:s3:::fastapi-fargate-state-dev-0a1b2c3/*",
    ]
    # Each setting applies to this bucket (its id), none to another.
    for part in (versioning, block, ownership, encryption, policy):
        assert part["bucket"] == mocks.ids[bucket.name]


def test_the_secrets_key_rotates_and_its_alias_has_a_fixed_protected_name(default):
    key = default.one("aws:kms/key:Key")
    assert key["enableKeyRotation"] is True
    assert key["deletionWindowInDays"] == 30
    alias = default.one("aws:kms/alias:Alias")
    assert alias["name"] == "alias/fastapi-fargate-dev-pulumi-secrets"
    assert "namePrefix" not in alias.inputs
    assert alias.protect


def test_the_outputs_are_what_the_workflows_and_stack_init_take(one_account):
    outputs = one_account[0].outputs
    assert outputs["backendUrls"] == {
        "dev": "s3://fastapi-fargate-state-dev-0a1b2c3",
        "prod": "s3://fastapi-fargate-state-prod-0a1b2c3",
    }
    assert outputs["secretsProviders"] == {
        env: f"awskms://alias/fastapi-fargate-{env}-pulumi-secrets?region=us-east-1"
        for env in ("dev", "prod")
    }
    assert set(outputs["deployRoleArns"]) == {"dev", "prod"}
    assert outputs["previewRoleArn"] == "arn:aws:iam::123456789012:role/github-preview"


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


@pytest.mark.parametrize(
    "repository",
    ["octo-org/fastapi-fargate", "a/b", "Octo0/my.repo_name-2", "octo-org@123456/app@456789"],
)
def test_valid_repository_names_pass_and_are_trusted_as_written(repository):
    rendered, _ = run_bootstrap(githubRepository=repository)
    trust_policy = role(rendered, "github-deploy-dev")["assumeRolePolicy"]
    claims = token("environment:dev", "refs/heads/main", repository=repository)
    assert web_identity_admitted(trust_policy, PROVIDER_ARN, claims)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("environments", []),
        ("environments", ["dev", "dev"]),
        ("environments", ["prod env"]),
        ("environments", ["Prod"]),
        ("environments", ["a-very-long-environment"]),
        ("defaultBranch", "feature/*"),
        ("previewEnvironment", "Dev:1"),
        ("deployPolicyArns", [ADMIN, ADMIN]),
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
