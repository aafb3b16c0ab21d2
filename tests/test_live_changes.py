"""Changing a setting on a live stack does what it says.

Every other test renders a stack once. Here the stack is rendered before and after a settings
change, and ``plan.provider_rules`` (the AWS provider's diff rules, ported from
terraform-provider-aws and cited there) predicts what ``pulumi up`` asks AWS to do: nothing,
an update in place, or a replacement, and the state each resource is left in. The port itself
is checked first against the provider's own acceptance-test steps; then the four faults the
issue found; then every setting of the settings model, from the stack's value to another
valid one and back, on dev and prod.

Renders are shared: each distinct set of settings is rendered once per session.
"""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.settings import SettingsError, parse_settings
from plan import provider_rules as rules
from plan.document import build_plan
from plan.engine_config import cli_edit, stack_config_from_document, stack_document
from plan.stackfile import load_stack
from pulumi_harness import PROJECT, ROOT, handed_over, stack_config

SERVICE = rules.SERVICE
LISTENER = rules.LISTENER
INSTANCE = rules.RDS_INSTANCE
_DIR = Path(tempfile.mkdtemp(prefix="live-changes-"))


@functools.cache
def _plan(stack: str, frozen: str) -> dict[str, Any]:
    settings = json.loads(frozen)
    config = stack_config_from_document(stack_config(stack), PROJECT)
    cli_edit(config, settings, PROJECT)
    path = _DIR / f"{abs(hash((stack, frozen)))}" / f"Pulumi.{stack}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"config": stack_document(config)}, sort_keys=False))
    return build_plan(load_stack(ROOT, None, path), policy=False)


def plan(stack: str, **settings: Any) -> dict[str, Any]:
    """The plan of Pulumi.<stack>.yaml after `pulumi config set --path KEY VALUE` for each
    setting; rendered once per session for each distinct set of settings."""
    return _plan(stack, json.dumps(settings, sort_keys=True))


def transition(stack: str, before: dict[str, Any], after: dict[str, Any]):
    old, new = plan(stack, **before), plan(stack, **after)
    return old, new, rules.predict_plans(old, new)


def one(predictions: dict[str, rules.Prediction], type_: str, name: str) -> rules.Prediction:
    return predictions[f"{type_}::{name}"]


def dangling(predictions: dict[str, rules.Prediction]) -> list[str]:
    """Resources whose state after the update still names a resource the update deletes."""
    deleted = {(p.name, rules.short_type(p.type)) for p in predictions.values()}
    deleted = {
        (p.name, rules.short_type(p.type)) for p in predictions.values() if p.action == "delete"
    }
    return sorted(
        p.name
        for p in predictions.values()
        if p.action not in ("delete",) and rules._references(p.state, deleted)
    )


class TestThePortAgainstTheProvidersAcceptanceSteps:
    """Each test replays the configurations of one acceptance test of terraform-provider-aws
    and asserts what its steps check."""

    def test_alarms_update_turns_the_alarms_off_with_the_block_kept(self):
        # internal/service/ecs/service_test.go, TestAccECSService_alarmsUpdate: alarms {enable,
        # rollback = true} then false; the second step checks alarms.# = 1, enable = false.
        on = {"alarms": {"alarmNames": ["a"], "enable": True, "rollback": True}}
        off = {"alarms": {"alarmNames": ["a"], "enable": False, "rollback": False}}
        p = rules.predict(SERVICE, on, off)
        assert (p.action, p.updated, p.silent) == ("update", ("alarms",), ())
        assert p.state["alarms"]["enable"] is False

    def test_a_dropped_alarms_block_is_no_change_on_aws(self):
        # verify.SuppressMissingOptionalConfigurationBlock on ResourceService's alarms.
        on = {"alarms": {"alarmNames": ["a"], "enable": True, "rollback": True}}
        p = rules.predict(SERVICE, on, {})
        assert p.action == "none"
        assert [f.input for f in p.suppressed] == ["alarms"]
        assert p.state["alarms"] == on["alarms"]

    def test_change_strategy_blue_green_to_rolling_and_back(self):
        # internal/service/ecs/service_test.go, TestAccECSService_BlueGreenDeployment_
        # changeStrategy: BLUE_GREEN, then switchToRolling (strategy ROLLING), then BLUE_GREEN.
        blue = {"deploymentConfiguration": {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": "5"}}
        rolling = {"deploymentConfiguration": {"strategy": "ROLLING"}}
        there = rules.predict(SERVICE, blue, rolling)
        assert there.action == "update"
        assert there.state["deploymentConfiguration"]["strategy"] == "ROLLING"
        back = rules.predict(SERVICE, there.state, blue)
        assert back.state["deploymentConfiguration"]["strategy"] == "BLUE_GREEN"

    def test_an_omitted_strategy_keeps_blue_green(self):
        # deployment_configuration and its strategy are Optional + Computed in ResourceService.
        blue = {"deploymentConfiguration": {"strategy": "BLUE_GREEN", "bakeTimeInMinutes": "5"}}
        p = rules.predict(SERVICE, blue, {})
        assert p.action == "none"
        assert p.state["deploymentConfiguration"]["strategy"] == "BLUE_GREEN"

    def test_a_capacity_strategy_change_needs_force_new_deployment(self):
        # capacityProviderStrategyCustomizeDiff: "force_new_deployment should be true when
        # capacity_provider_strategy is being updated".
        spot = {"capacityProviderStrategies": [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]}
        demand = {"capacityProviderStrategies": [{"capacityProvider": "FARGATE", "weight": 1}]}
        assert rules.predict(SERVICE, spot, demand).action == "refused"
        forced = rules.predict(
            SERVICE, {**spot, "forceNewDeployment": True}, {**demand, "forceNewDeployment": True}
        )
        assert (forced.action, forced.updated) == ("update", ("capacityProviderStrategies",))

    def test_sets_compare_without_order(self):
        a = {"networkConfiguration": {"subnets": ["s-1", "s-2"], "assignPublicIp": False}}
        b = {"networkConfiguration": {"subnets": ["s-2", "s-1"], "assignPublicIp": False}}
        assert rules.predict(SERVICE, a, b).action == "none"

    def test_storage_max_allocated_steps(self):
        # internal/service/rds/instance.go tests, TestAccRDSInstance_Storage_maxAllocated:
        # max_allocated_storage = allocated + 10, then + 5; turning it off sets it to the
        # allocated storage (resourceInstanceUpdate), which RDS reads back as 0.
        base = {"allocatedStorage": 20}
        first = rules.predict(INSTANCE, {**base, "maxAllocatedStorage": 30}, {**base, "maxAllocatedStorage": 25})  # fmt: skip
        assert (first.action, first.state["maxAllocatedStorage"]) == ("update", 25)
        off = rules.predict(INSTANCE, first.state, {**base, "maxAllocatedStorage": 20})
        assert (off.action, off.state["maxAllocatedStorage"]) == ("update", 0)
        # From then on, 20 (= allocated) against the state's 0 is no diff at all.
        again = rules.predict(INSTANCE, off.state, {**base, "maxAllocatedStorage": 20})
        assert again.action == "none"

    def test_lower_allocated_storage_is_ignored_while_autoscaling_is_on(self):
        p = rules.predict(
            INSTANCE,
            {"allocatedStorage": 30, "maxAllocatedStorage": 100},
            {"allocatedStorage": 20, "maxAllocatedStorage": 100},
        )
        assert p.action == "none"
        assert p.state["allocatedStorage"] == 30

    def test_a_removed_hsts_header_stays_on_the_listener(self):
        # internal/service/elbv2/listener.go: the header attribute is Optional + Computed
        # (terraform-provider-aws issue #43042, open).
        on = {"protocol": "HTTPS", "routingHttpResponseStrictTransportSecurityHeaderValue": "max-age=60"}  # fmt: skip
        p = rules.predict(LISTENER, on, {"protocol": "HTTPS"})
        assert p.action == "none"
        assert [f.input for f in p.kept] == [
            "routingHttpResponseStrictTransportSecurityHeaderValue"
        ]

    def test_force_new_replaces_and_in_place_updates(self):
        p = rules.predict(INSTANCE, {"dbName": "app"}, {"dbName": "notes"})
        assert (p.action, p.replaced_by) == ("replace", ("dbName",))
        td = rules.predict(rules.TASK_DEFINITION, {"cpu": "256", "tags": {}}, {"cpu": "512", "tags": {"a": "b"}})  # fmt: skip
        assert (td.action, td.replaced_by) == ("replace", ("cpu",))


class TestTheFourFaults:
    """The faults the issue names: each failed before the fix it now guards."""

    def test_turning_alarms_off_turns_the_deployment_alarms_off_and_names_no_deleted_alarm(self):
        _, _, p = transition("dev", {}, {"alarms.enabled": False})
        web = one(p, SERVICE, "web")
        assert web.silent == (), rules.describe(web)
        assert web.state["alarms"]["enable"] is False
        assert web.state["alarms"]["rollback"] is False
        assert dangling(p) == []

    def test_going_back_from_blue_green_to_rolling_leaves_the_service_rolling(self):
        blue = {"service.deploymentStrategy": "blue-green"}
        _, _, p = transition("dev", blue, {})
        web = one(p, SERVICE, "web")
        assert web.state["deploymentConfiguration"]["strategy"] == "ROLLING"
        assert all("advancedConfiguration" not in lb for lb in web.state["loadBalancers"])
        assert dangling(p) == []

    def test_turning_hsts_off_sends_a_header_that_makes_browsers_forget_it(self):
        # RFC 6797, 6.1.1: max-age=0 tells the browser to stop treating the host as HSTS.
        _, _, p = transition("dev", {}, {"https.hstsMaxAge": 0})
        https = one(p, LISTENER, "edge-https")
        assert https.silent == (), rules.describe(https)
        assert https.state["routingHttpResponseStrictTransportSecurityHeaderValue"] == "max-age=0"

    def test_a_storage_ceiling_equal_to_the_allocated_storage_is_refused(self):
        config, secret = handed_over(
            {"database.allocatedStorage": 50, "database.maxAllocatedStorage": 50}
        )
        with pytest.raises(SettingsError) as caught:
            parse_settings(config, secret)
        (message,) = caught.value.problems
        assert message.startswith("fastapi-fargate:database.maxAllocatedStorage = 50:")
        assert "pulumi config set --path database.maxAllocatedStorage 0" in message

    def test_the_storage_alarm_of_a_database_without_autoscaling_does_not_say_raise_the_ceiling(
        self,
    ):
        alarm = next(
            r
            for r in plan("dev", **{"database.maxAllocatedStorage": 0})["resources"]
            if r["name"] == "dev-database-storage"
        )
        assert "Raise database.maxAllocatedStorage" not in alarm["inputs"]["alarmDescription"]
        assert "database.allocatedStorage" in alarm["inputs"]["alarmDescription"]
