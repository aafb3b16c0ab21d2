"""Promotion by digest: prod runs the image dev built and ran, and builds nothing.

Rendered under the mocks as the CLI would run each stack: prod with ``image.promoteFrom``,
dev with ``image.pullRoleArns``. The permissions are judged by what they allow, with the tests'
IAM evaluator (``iam_evaluation``: identity policies, and the repository policy as a resource
policy): across accounts a pull needs both the puller's identity policy and the repository's
policy to allow it (IAM User Guide, "Cross-account policy evaluation logic"). The documents are
checked against botocore's models of the calls that send them (IAM ``PutRolePolicy``,
``CreateRole``; ECR ``SetRepositoryPolicy``).
"""

from __future__ import annotations

import json

import botocore.session
import pytest
from botocore.validate import ParamValidator

from components.settings import SettingsError
from components.task import promoted_execution_role_name
from iam_evaluation import allowed, botocore_problems, grammar_problems, resource_policy_allows
from pulumi_harness import render, settings_of

IMAGE = "docker:index/image:Image"
REPOSITORY = "aws:ecr/repository:Repository"
REPOSITORY_POLICY = "aws:ecr/repositoryPolicy:RepositoryPolicy"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"

DEV_ACCOUNT = "111111111111"
PROD_ACCOUNT = "222222222222"
SOURCE = f"arn:aws:ecr:us-east-1:{DEV_ACCOUNT}:repository/app-repository-0a1b2c3"
OTHER_REPOSITORY = f"arn:aws:ecr:us-east-1:{DEV_ACCOUNT}:repository/another-app"
DIGEST = "sha256:" + "c" * 64
PROD_ROLE = f"arn:aws:iam::{PROD_ACCOUNT}:role/fastapi-fargate-prod-execution"
PROMOTED = {"image.promoteFrom": "dev", "image.sourceRepository": SOURCE, "image.digest": DIGEST}
PULL = ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
NOT_PULL = (
    "ecr:PutImage",
    "ecr:InitiateLayerUpload",
    "ecr:DeleteRepository",
    "ecr:SetRepositoryPolicy",
)


@pytest.fixture(scope="module")
def prod():
    return render(PROMOTED, stack="prod")


@pytest.fixture(scope="module")
def dev():
    return render({"image.pullRoleArns": [PROD_ROLE]}, stack="dev")


def execution_documents(rendered) -> list[str]:
    """Every identity policy of the execution role: its inline policies (and no attachment)."""
    role = rendered.one(ROLE, "app-execution")
    name = role["name"]
    attached = [a for a in rendered.all(ATTACHMENT) if a["role"] == name]
    assert attached == [], "an attached managed policy would grant what this test cannot see"
    return [p["policy"] for p in rendered.all(ROLE_POLICY) if p["role"] == name]


class TestPromotedStackBuildsNothing:
    def test_rendering_prod_with_promotion_creates_no_image_build_and_no_repository(self, prod):
        assert prod.all(IMAGE) == []
        assert prod.all(REPOSITORY) == []
        assert "image_repository_arn" not in prod.outputs

    def test_every_task_definition_runs_the_source_repository_by_digest(self, prod):
        expected = f"{DEV_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/app-repository-0a1b2c3@{DIGEST}"
        definitions = prod.all(TASK_DEFINITION)
        assert len(definitions) == 2  # the web service's and the migration's (app role)
        for definition in definitions:
            (container,) = json.loads(definition["containerDefinitions"])
            assert container["image"] == expected
        assert prod.outputs["image"] == expected

    def test_the_same_stack_without_promotion_builds_as_before(self):
        unpromoted = {
            "image.promoteFrom": None,
            "image.sourceRepository": None,
            "image.digest": None,
        }
        assert len(render(unpromoted, stack="prod").all(IMAGE)) == 1


class TestTheTargetMayPullExactlyThatRepository:
    def test_the_execution_role_has_the_name_the_source_policy_names(self, prod):
        assert prod.one(ROLE, "app-execution")["name"] == "fastapi-fargate-prod-execution"
        assert PROD_ROLE.endswith("/" + promoted_execution_role_name("fastapi-fargate", "prod"))

    @pytest.mark.parametrize("action", PULL)
    def test_the_execution_role_may_pull_the_source_repository(self, prod, action):
        assert allowed(execution_documents(prod), action, SOURCE)

    @pytest.mark.parametrize("action", PULL)
    def test_and_no_other_repository(self, prod, action):
        documents = execution_documents(prod)
        assert not allowed(documents, action, OTHER_REPOSITORY)
        own = "arn:aws:ecr:us-east-1:123456789012:repository/app-repository-0a1b2c3"
        assert not allowed(documents, action, own)

    @pytest.mark.parametrize("action", NOT_PULL)
    def test_nor_change_anything_in_it(self, prod, action):
        assert not allowed(execution_documents(prod), action, SOURCE)

    def test_it_still_logs_in_to_ecr_and_writes_its_logs(self, prod):
        documents = execution_documents(prod)
        assert allowed(documents, "ecr:GetAuthorizationToken", "*")
        log_group = prod.outputs_of(prod.one("aws:cloudwatch/logGroup:LogGroup", "app-logs"))["arn"]
        stream = f"{log_group}:log-stream:app/app/0123"
        assert allowed(documents, "logs:PutLogEvents", stream)
        assert not allowed(documents, "logs:PutLogEvents", "arn:aws:logs:us-east-1:1:log-group:x:*")

    def test_the_documents_are_valid_for_iam(self, prod):
        role = prod.one(ROLE, "app-execution")
        for document in execution_documents(prod):
            assert grammar_problems(document) == []
            params = {"RoleName": role["name"], "PolicyName": "p", "PolicyDocument": document}
            assert botocore_problems("PutRolePolicy", params) == ""
        assert (
            botocore_problems(
                "CreateRole",
                {"RoleName": role["name"], "AssumeRolePolicyDocument": role["assumeRolePolicy"]},
            )
            == ""
        )

    def test_a_stack_name_too_long_for_an_iam_role_name_gets_a_name_iam_takes(self):
        # components.naming fits the name to IAM's rule (botocore iam roleNameType).
        name = promoted_execution_role_name("fastapi-fargate", "p" * 60)
        assert len(name) <= 64 and name.endswith("-execution")
        assert (
            botocore_problems("CreateRole", {"RoleName": name, "AssumeRolePolicyDocument": "{}"})
            == ""
        )
        assert name != promoted_execution_role_name("fastapi-fargate", "p" * 61)


class TestTheSourceLetsExactlyThatRolePull:
    def repository_policy(self, dev) -> str:
        policy = dev.one(REPOSITORY_POLICY)
        assert dev.depends_on(policy, dev.one(REPOSITORY)) or policy.property_dependencies
        return policy["policy"]

    @pytest.mark.parametrize("action", PULL)
    def test_the_promoted_role_may_pull(self, dev, prod, action):
        assert resource_policy_allows(self.repository_policy(dev), PROD_ROLE, action)
        # Across accounts both sides must allow: prod's identity policy and dev's repository.
        assert allowed(execution_documents(prod), action, SOURCE)

    @pytest.mark.parametrize(
        "principal",
        [
            f"arn:aws:iam::{PROD_ACCOUNT}:role/fastapi-fargate-prod-task",
            f"arn:aws:iam::{PROD_ACCOUNT}:role/github-deploy-prod",
            f"arn:aws:iam::{PROD_ACCOUNT}:user/someone",
            "arn:aws:iam::333333333333:role/fastapi-fargate-prod-execution",
        ],
    )
    def test_no_other_principal_of_that_account_or_another_may(self, dev, principal):
        for action in PULL:
            assert not resource_policy_allows(self.repository_policy(dev), principal, action)

    @pytest.mark.parametrize("action", NOT_PULL)
    def test_the_promoted_role_may_only_pull(self, dev, action):
        assert not resource_policy_allows(self.repository_policy(dev), PROD_ROLE, action)

    def test_the_policy_is_valid_for_ecr(self, dev):
        policy = self.repository_policy(dev)
        assert grammar_problems(policy, trust=True) == []  # Principal, no Resource
        shape = (
            botocore.session.get_session()
            .get_service_model("ecr")
            .operation_model("SetRepositoryPolicy")
            .input_shape
        )
        report = ParamValidator().validate(
            {"repositoryName": "app-repository-0a1b2c3", "policyText": policy}, shape
        )
        assert not report.has_errors(), report.generate_report()

    def test_without_pull_roles_the_repository_has_no_policy(self):
        # The committed dev stack names no account: a copy of it grants nobody anything.
        assert render(stack="dev").all(REPOSITORY_POLICY) == []


class TestPromotionSettings:
    @pytest.mark.parametrize(
        ("edits", "named", "fix"),
        [
            (
                {"image.promoteFrom": "dev", "image.sourceRepository": SOURCE},
                "image.digest: is required with image.promoteFrom = dev",
                "pulumi config set --path image.digest",
            ),
            (
                {"image.promoteFrom": "dev", "image.digest": DIGEST},
                "image.sourceRepository: is required",
                "pulumi config set --path image.sourceRepository",
            ),
            ({"image.digest": DIGEST}, "image.digest = sha256:", "image.promoteFrom"),
            (
                {**PROMOTED, "image.uri": "public.ecr.aws/x/y:1"},
                "image.uri = public.ecr.aws/x/y:1",
                "pulumi config rm --path image.uri",
            ),
            ({**PROMOTED, "image.digest": "sha256:abc"}, "image.digest", "64 lowercase hex"),
            (
                {**PROMOTED, "image.sourceRepository": "app-repository"},
                "image.sourceRepository",
                "arn:aws:ecr:REGION:ACCOUNT:repository/NAME",
            ),
            (
                {"image.pullRoleArns": [f"arn:aws:iam::{PROD_ACCOUNT}:role/*"]},
                "image.pullRoleArns",
                "no wildcards",
            ),
            ({**PROMOTED, "image.buildReason": "x"}, "image.buildReason", "config rm"),
        ],
    )
    def test_bad_promotion_settings_are_refused_naming_the_setting_and_the_fix(
        self, edits, named, fix
    ):
        with pytest.raises(SettingsError) as raised:
            settings_of(edits)
        message = str(raised.value)
        assert named in message and fix in message

    def test_a_promoted_stack_names_its_image_from_the_repository_arn(self):
        image = settings_of(PROMOTED).image
        assert image.promoted and not image.builds
        assert image.promoted_image == (
            f"{DEV_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/app-repository-0a1b2c3@{DIGEST}"
        )
