"""`python -m ops STACK secrets list|set|get` against moto (real boto3 calls, validated by
botocore): values go to Secrets Manager from standard input or a prompt, never from an argument,
and are never shown but by `get`. The secrets are made as components/app_secrets.py makes them.
"""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from components.app_secrets import APP_SECRET_TAG, STACK_TAG
from ops.cli import main

REGION = "us-east-1"
VALUE = "sk_live_51ValueThatIsNeverPrinted"
OUTPUTS = {"region": REGION, "cluster_name": "app", "service_name": "web"}


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def aws(mocked_aws):
    return mocked_aws.client("secretsmanager")


def stack_secret(client: Any, stack: str, name: str) -> str:
    """A secret as the stack creates it: its name, its tags, no value."""
    return client.create_secret(
        Name=f"fastapi-fargate/{stack}/{name}",
        Tags=[{"Key": STACK_TAG, "Value": stack}, {"Key": APP_SECRET_TAG, "Value": name}],
    )["ARN"]


@pytest.fixture
def dev(aws) -> dict[str, str]:
    arns = {name: stack_secret(aws, "dev", name) for name in ("API_TOKEN", "STRIPE_KEY")}
    aws.put_secret_value(SecretId=arns["API_TOKEN"], SecretString="generated-token-value")
    # Not app secrets of dev: the database's, and prod's of the same name.
    aws.create_secret(Name="fastapi-fargate/dev/database-app-role", SecretString="{}")
    stack_secret(aws, "prod", "STRIPE_KEY")
    stack_secret(aws, "dev2", "OTHER")
    return arns


def run_cli(argv: list[str], tmp_path: Path, outputs: dict | None = OUTPUTS, **kwargs: Any):
    out: list[str] = []
    err: list[str] = []
    if outputs is not None:
        path = tmp_path / "outputs.json"
        path.write_text(json.dumps(outputs))
        argv = [argv[0], "--outputs", str(path), *argv[1:]]
    kwargs.setdefault("which", lambda name: None)
    kwargs.setdefault("stdin", Tty(""))
    code = main(argv, write=out.append, error=err.append, **kwargs)
    return code, out, err


def value_of(client: Any, name: str, stack: str = "dev") -> str:
    return client.get_secret_value(SecretId=f"fastapi-fargate/{stack}/{name}")["SecretString"]


class TestList:
    def test_names_whether_set_and_when_changed_never_a_value(self, dev, tmp_path):
        code, out, err = run_cli(["dev", "secrets", "list"], tmp_path)
        assert (code, err) == (0, [])
        assert out[0] == f"App secrets of stack dev ({REGION}); values are not shown:"
        assert out[1].split() == ["NAME", "SET", "LAST", "CHANGED"]
        token, stripe = out[2].split(), out[3].split()
        assert token[:2] == ["API_TOKEN", "yes"] and token[-1] == "UTC"
        assert stripe == ["STRIPE_KEY", "no", "-"]
        assert (
            out[4]
            == "Set STRIPE_KEY: `.venv/bin/python -m ops dev secrets set STRIPE_KEY` (a rollout waits for it)."
        )
        assert len(out) == 5  # not the database's, not prod's or dev2's
        assert "generated-token-value" not in "\n".join(out)

    def test_a_stack_not_deployed_yet_says_what_creates_them(self, aws, tmp_path):
        code, out, _ = run_cli(["dev", "secrets", "list"], tmp_path)
        assert code == 0 and "`pulumi up` creates one per name in service.appSecrets" in out[0]


class TestSet:
    def test_a_piped_value_is_stored_without_its_newline_and_never_echoed(self, dev, aws, tmp_path):
        code, out, err = run_cli(
            ["dev", "secrets", "set", "STRIPE_KEY"], tmp_path, stdin=io.StringIO(VALUE + "\n")
        )
        assert (code, err) == (0, [])
        assert value_of(aws, "STRIPE_KEY") == VALUE
        assert out[0].startswith("Set STRIPE_KEY of stack dev (version ")
        assert "aws ecs update-service --region us-east-1 --cluster app --service web " in out[1]
        assert VALUE not in "\n".join(out)
        assert (
            aws.list_secret_version_ids(SecretId="fastapi-fargate/prod/STRIPE_KEY")["Versions"]
            == []
        )

    def test_at_a_terminal_the_value_is_typed_twice_at_a_silent_prompt(self, dev, aws, tmp_path):
        asked: list[str] = []

        def prompt(text: str) -> str:
            asked.append(text)
            return VALUE

        code, _, err = run_cli(["dev", "secrets", "set", "STRIPE_KEY"], tmp_path, prompt=prompt)
        assert (code, err) == (0, [])
        assert asked == ["Value of STRIPE_KEY (not shown): ", "STRIPE_KEY again: "]
        assert value_of(aws, "STRIPE_KEY") == VALUE

    def test_two_different_values_at_the_prompt_change_nothing(self, dev, aws, tmp_path):
        answers = iter(["one", "two"])
        code, _, err = run_cli(
            ["dev", "secrets", "set", "STRIPE_KEY"], tmp_path, prompt=lambda _: next(answers)
        )
        assert code == 2 and "differ; nothing was changed" in err[0]
        assert aws.list_secret_version_ids(SecretId=dev["STRIPE_KEY"])["Versions"] == []

    def test_a_value_given_as_an_argument_is_refused_before_anything_is_called(
        self, dev, aws, tmp_path
    ):
        code, _, err = run_cli(["dev", "secrets", "set", "STRIPE_KEY", VALUE], tmp_path)
        assert code == 2
        assert "the value is not taken as an argument" in err[0] and VALUE not in err[0]
        assert "secrets set STRIPE_KEY < file" in err[0]
        assert aws.list_secret_version_ids(SecretId=dev["STRIPE_KEY"])["Versions"] == []

    def test_an_empty_value_is_refused(self, dev, tmp_path):
        code, _, err = run_cli(
            ["dev", "secrets", "set", "STRIPE_KEY"], tmp_path, stdin=io.StringIO("\n")
        )
        assert code == 2 and "an empty value for STRIPE_KEY" in err[0]

    @pytest.mark.parametrize("name", ["NOT_LISTED", "database-app-role"])
    def test_only_an_app_secret_of_the_stack_is_written(self, dev, tmp_path, name):
        code, _, err = run_cli(["dev", "secrets", "set", name], tmp_path, stdin=io.StringIO(VALUE))
        assert code == 2
        assert err[0].startswith(f"error: stack dev has no app secret {name}.")
        assert (
            f"`pulumi config set --path 'service.appSecrets[<next index>]' {name} --stack dev`"
            in err[0]
        )

    def test_before_the_first_deploy_the_region_comes_from_the_stack_config(
        self, dev, aws, tmp_path
    ):
        # A first `pulumi up` stopped by the release phase leaves no outputs.
        pulumi = tmp_path / "pulumi"
        pulumi.write_text(
            "#!/bin/sh\n"
            'if [ "$1" = stack ]; then echo "error: no outputs" >&2; exit 255; fi\n'
            f'[ "$*" = "config get aws:region --stack dev" ] && echo {REGION}\n'
        )
        pulumi.chmod(pulumi.stat().st_mode | stat.S_IEXEC)
        code, out, err = run_cli(
            ["dev", "secrets", "set", "STRIPE_KEY"],
            tmp_path,
            outputs=None,
            which=lambda n: str(pulumi),
            stdin=io.StringIO(VALUE),
        )
        assert (code, err) == (0, [])
        assert value_of(aws, "STRIPE_KEY") == VALUE
        assert out[1] == "Tasks read it when they start: run `pulumi up` to deploy with it."

    def test_without_outputs_or_config_the_region_is_asked_for(self, dev, tmp_path):
        code, _, err = run_cli(["dev", "secrets", "list"], tmp_path, outputs=None)
        assert code == 2 and "Pass it: `--region us-east-1` after `secrets`" in err[0]
        code, out, _ = run_cli(
            ["dev", "secrets", "--region", REGION, "list"], tmp_path, outputs=None
        )
        assert code == 0 and out[2].startswith("  API_TOKEN")


class TestGet:
    def test_prints_the_value_alone_so_it_can_be_piped(self, dev, tmp_path):
        code, out, err = run_cli(["dev", "secrets", "get", "API_TOKEN"], tmp_path)
        assert (code, out, err) == (0, ["generated-token-value"], [])

    def test_a_secret_without_a_value_says_how_to_set_it(self, dev, tmp_path):
        code, _, err = run_cli(["dev", "secrets", "get", "STRIPE_KEY"], tmp_path)
        assert code == 2
        assert "has no value yet: `.venv/bin/python -m ops dev secrets set STRIPE_KEY`" in err[0]

    def test_never_another_secret(self, dev, tmp_path):
        code, out, err = run_cli(["dev", "secrets", "get", "database-app-role"], tmp_path)
        assert (code, out) == (2, [])
        assert "has no app secret database-app-role" in err[0]

    def test_a_pulumi_cloud_stack_reference_names_the_same_secrets(self, dev, tmp_path):
        code, out, _ = run_cli(
            ["acme/fastapi-fargate/dev", "secrets", "get", "API_TOKEN"], tmp_path
        )
        assert (code, out) == (0, ["generated-token-value"])


@pytest.mark.parametrize("stack", ["dev", "my.stack_2", "acme/fastapi-fargate/eu-prod"])
def test_the_list_filter_is_one_secrets_manager_accepts_for_any_stack_name(stack):
    # botocore validates lengths but not patterns; ListSecrets' FilterValueStringType has one.
    import re

    import botocore.session

    from components.app_secrets import secret_name
    from ops.secrets import stack_short_name

    model = botocore.session.get_session().get_service_model("secretsmanager")
    pattern = model.shape_for("FilterValueStringType").metadata["pattern"]
    for value in (secret_name("fastapi-fargate", stack_short_name(stack), ""), APP_SECRET_TAG):
        assert re.fullmatch(pattern, value), value
