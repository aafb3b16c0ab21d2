"""A stack moved from ``pulumi login --local`` to the S3 backend or Pulumi Cloud still plans offline.

docs/deploy-from-github.md ("Moving state") moves a stack with ``pulumi stack
change-secrets-provider awskms://...``, ``stack export``/``init``/``import``. What that leaves
in the committed stack file is what the offline plan (and the pull request's plan job) reads
from then on: a cloud secrets provider drops ``encryptionsalt`` and writes ``secretsprovider``
and ``encryptedkey`` (pulumi/pulumi pkg/secrets/cloud/manager.go, NewCloudSecretsManager and
EditProjectStack), and the ``secure:`` values are ciphertext of the KMS-wrapped data key,
which no one can read offline. The CLI and the backends themselves cannot run here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from plan.describe import describe_text
from plan.document import build_plan
from plan.errors import PlanError
from plan.stackfile import load_stack

ROOT = Path(__file__).resolve().parent.parent
PROVIDER = "awskms://alias/fastapi-fargate-dev-pulumi-secrets?region=us-east-1"
# Shapes as the CLI writes them: a base64 KMS ciphertext blob, and v1:<nonce>:<ciphertext>.
ENCRYPTED_KEY = "AQICAHhQ3Xk1mZ2x0b3JlLWtleS1ibG9iLW5vdC1yZWFsAAAAfjB8BgkqhkiG9w0BBwagbzBtAgEA"
STRIPE_CIPHERTEXT = "v1:8VbK0lXw2nQp4Rk7:Zm9vYmFyYmF6cXV4LWNpcGhlcnRleHQtb2Ytc3RyaXBl"


def moved(tmp_path: Path, **extra_config: object) -> Path:
    """Pulumi.dev.yaml as `pulumi stack change-secrets-provider` leaves it: the passphrase's
    salt gone, the KMS provider and its encrypted data key in, the settings untouched."""
    document = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    document.pop("encryptionsalt", None)
    document = {"secretsprovider": PROVIDER, "encryptedkey": ENCRYPTED_KEY, **document}
    document["config"].update(extra_config)
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def test_a_stack_moved_to_a_kms_secrets_provider_plans_exactly_as_before(tmp_path):
    before = build_plan(load_stack(ROOT, "dev"), policy=False)
    after = build_plan(load_stack(ROOT, None, moved(tmp_path)), policy=False)
    assert json.dumps(after, sort_keys=True) == json.dumps(before, sort_keys=True)


def test_secure_values_of_a_moved_stack_are_secrets_never_shown(tmp_path):
    # Another package's config: the project's own settings and app secrets take no secret.
    path = moved(tmp_path, **{"datadog:apiKey": {"secure": STRIPE_CIPHERTEXT}})
    stack = load_stack(ROOT, None, path)
    assert set(stack.encrypted_keys) == {"datadog:apiKey"}
    plan = build_plan(stack, policy=False)
    assert plan["config"]["datadog:apiKey"] == "(secret)"
    text = describe_text(plan) + json.dumps(plan)
    for ciphertext in (STRIPE_CIPHERTEXT, ENCRYPTED_KEY):
        assert ciphertext not in text
    assert "Encrypted in the stack file, so not decrypted offline" in text
    assert "datadog:apiKey" in text


def test_a_misspelled_secrets_provider_key_is_refused_not_ignored(tmp_path):
    # The CLI would ignore `secretprovider` and fall back to the passphrase: every secret
    # value in the file would then fail to decrypt on the first `pulumi up` in CI.
    path = moved(tmp_path)
    path.write_text(path.read_text().replace("secretsprovider:", "secretprovider:"))
    with pytest.raises(PlanError, match="secretprovider"):
        load_stack(ROOT, None, path)
