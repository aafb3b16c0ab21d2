"""The stack settings: every rule a user relies on before anything is created.

Settings reach the program as the Pulumi CLI hands them over: each test's settings are applied
to a stack file as `pulumi config set --path KEY VALUE` would write them (`service.cpu` is the
member `cpu` of the object `fastapi-fargate:service`), then merged with Pulumi.yaml's
declarations and type-checked as the CLI does (plan/engine_config.py).
"""

from __future__ import annotations

import json

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components import settings_reference
from components.settings import (
    FARGATE_SIZES,
    GROUPS,
    PROJECT,
    Settings,
    SettingsError,
    parse_settings,
)
from plan.engine_config import Base64Crypter, ConfigError
from pulumi_harness import ROOT, AwsMocks, handed_over, render, stack_config


def settings_of(edits: dict | None = None, **kwargs) -> Settings:
    config, secret = handed_over(edits, **kwargs)
    return parse_settings(config, secret)


def problems_of(edits: dict, **kwargs) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        settings_of(edits, **kwargs)
    return caught.value.problems


def only_problem(edits: dict, **kwargs) -> str:
    problems = problems_of(edits, **kwargs)
    assert len(problems) == 1, problems
    return problems[0]


DOMAIN = {"https.domain": "api.example.com", "https.hostedZone": "example.com"}


class TestDefaults:
    def test_no_settings_at_all_is_a_valid_stack(self):
        s = settings_of()
        assert (s.service.cpu, s.service.memory, s.service.worker_count) == (256, 512, 1)
        assert s.scaling.cpu_target == 70
        assert s.https.ssl_policy == "ELBSecurityPolicy-TLS13-1-2-2021-06"
        assert s.migration.timeout == 900

    def test_values_arrive_as_strings_like_the_cli_stores_them(self):
        s = settings_of(
            {"service.cpu": "1024", "service.memory": "2048", "scaling.enabled": "false"}
        )
        assert (s.service.cpu, s.service.memory, s.scaling.enabled) == (1024, 2048, False)

    def test_lists_arrive_as_json_inside_their_groups_object(self):
        stack = {f"{PROJECT}:migration": {"command": ["alembic", "upgrade", "head"]}}
        config, _ = handed_over(stack=stack)
        assert '"command":["alembic","upgrade","head"]' in config["migration"]
        assert settings_of(stack=stack).migration.command == ["alembic", "upgrade", "head"]

    def test_workers_default_to_one_per_vcpu(self):
        s = settings_of({"service.cpu": "4096", "service.memory": "8192"})
        assert s.service.worker_count == 4

    def test_deletion_protection_is_always_on_for_production(self):
        s = settings_of({"production": "true", **DOMAIN})
        assert s.deletion_protection is True
        assert settings_of().deletion_protection is False


class TestFargateSizes:
    @pytest.mark.parametrize(
        ("cpu", "memory"), [(c, m) for c, ms in FARGATE_SIZES.items() for m in (ms[0], ms[-1])]
    )
    def test_every_valid_combination_is_accepted(self, cpu, memory):
        service = settings_of({"service.cpu": str(cpu), "service.memory": str(memory)}).service
        assert (service.cpu, service.memory) == (cpu, memory)

    def test_memory_that_cpu_does_not_offer_names_the_key_and_the_allowed_values(self):
        message = only_problem({"service.cpu": 1024, "service.memory": 1024})
        assert message.startswith("fastapi-fargate:service.memory = 1024:")
        assert "2048..8192 in steps of 1024" in message

    def test_a_cpu_size_fargate_does_not_have(self):
        message = only_problem({"service.cpu": 300})
        assert message.startswith("fastapi-fargate:service.cpu = 300:")
        assert "256, 512, 1024" in message

    def test_a_memory_size_no_cpu_offers(self):
        assert only_problem({"service.memory": 700}).startswith(
            "fastapi-fargate:service.memory = 700:"
        )


class TestMemoryBudget:
    def test_workers_times_memory_per_worker_plus_overhead_must_fit(self):
        message = only_problem(
            {"service.workers": 2, "service.memoryPerWorker": 256, "service.memory": 512}
        )
        assert message.startswith("fastapi-fargate:service.memory = 512:")
        assert "2 workers x 256 MiB" in message and "= 576 MiB" in message

    def test_a_budget_that_fits_exactly_is_accepted(self):
        service = settings_of(
            {"service.workers": "2", "service.memoryPerWorker": "224", "service.memory": "512"}
        ).service
        assert (service.workers, service.memory_per_worker, service.memory) == (2, 224, 512)


class TestScaling:
    def test_min_above_max(self):
        message = only_problem(
            {"scaling.minCount": 5, "scaling.maxCount": 3, "service.desiredCount": 4}
        )
        assert message.startswith("fastapi-fargate:scaling.minCount = 5:")

    @pytest.mark.parametrize("desired", [1, 5])
    def test_desired_count_outside_min_max(self, desired):
        message = only_problem({"service.desiredCount": desired})
        assert message.startswith(f"fastapi-fargate:service.desiredCount = {desired}:")
        assert "2..4" in message

    def test_desired_count_is_free_when_autoscaling_is_off(self):
        settings = settings_of({"scaling.enabled": "false", "service.desiredCount": "7"})
        assert (settings.scaling.enabled, settings.service.desired_count) == (False, 7)

    @pytest.mark.parametrize("target", [49, 91, 0])
    def test_cpu_target_outside_the_50_to_90_band(self, target):
        message = only_problem({"scaling.cpuTarget": target})
        assert message.startswith(f"fastapi-fargate:scaling.cpuTarget = {target}:")

    @pytest.mark.parametrize("target", [50, 70, 90])
    def test_cpu_target_inside_the_band(self, target):
        assert settings_of({"scaling.cpuTarget": str(target)}).scaling.cpu_target == target

    def test_memory_target_is_off_or_in_the_band(self):
        assert settings_of({"scaling.memoryTarget": "0"}).scaling.memory_target == 0
        assert only_problem({"scaling.memoryTarget": 40}).startswith(
            "fastapi-fargate:scaling.memoryTarget = 40:"
        )


class TestServiceValues:
    @pytest.mark.parametrize("path", ["healthz", "", "/with space"])
    def test_health_path_must_start_with_a_slash(self, path):
        assert only_problem({"service.healthCheckPath": path}).startswith(
            f"fastapi-fargate:service.healthCheckPath = {path}:"
        )

    @pytest.mark.parametrize("port", [0, 80, 1023, 65536])
    def test_container_port_out_of_range(self, port):
        assert only_problem({"service.containerPort": port}).startswith(
            f"fastapi-fargate:service.containerPort = {port}:"
        )

    def test_a_port_that_is_not_a_number(self):
        # The CLI's own type check refuses it first, in its words...
        with pytest.raises(ConfigError) as caught:
            settings_of({"service.containerPort": "eighty"})
        assert str(caught.value) == (
            "Stack 'dev' with configuration key 'service.containerPort' must be of type 'integer'"
        )
        # ...and the program, should that check be skipped.
        message = only_problem({"service.containerPort": "eighty"}, validate=False)
        assert message.startswith("fastapi-fargate:service.containerPort = eighty:")
        assert "`pulumi config set --path service.containerPort 8000` (the default)" in message

    @pytest.mark.parametrize(("key", "value"), [("migration.timeout", 0), ("migration.timeout", 7201), ("service.stopTimeout", 121), ("service.stopTimeout", 5)])  # fmt: skip
    def test_timeouts_are_positive_and_bounded(self, key, value):
        assert only_problem({key: value}).startswith(f"fastapi-fargate:{key} = {value}:")

    def test_secrets_must_be_arns(self):
        message = only_problem({"service.secrets": ["API_KEY=hunter2"]})
        assert message.startswith("fastapi-fargate:service.secrets")

    def test_environment_may_not_override_what_the_stack_derives(self):
        message = only_problem({"service.environment": ["WEB_CONCURRENCY=8"]})
        assert "WEB_CONCURRENCY" in message and "reserved" in message

    def test_log_retention_must_be_a_cloudwatch_period(self):
        assert only_problem({"service.logRetentionDays": 10}).startswith(
            "fastapi-fargate:service.logRetentionDays = 10:"
        )

    def test_fargate_spot_runs_arm64_too(self):
        # ECS API reference (CapacityProviderStrategyItem): FARGATE_SPOT supports ARM64 tasks
        # on platform version 1.4.0 or later, which LATEST is.
        s = settings_of({"image.platform": "linux/arm64", "service.fargateSpotPercent": "50"})
        assert (s.image.platform, s.service.fargate_spot_percent) == ("linux/arm64", 50)

    def test_a_list_setting_fix_names_the_first_index_with_path(self):
        with pytest.raises(
            ConfigError, match=r"'service\.environment' must be of type 'array<string>'"
        ):
            settings_of({"service.environment": "LOG_LEVEL=info"})
        message = only_problem({"service.environment": "LOG_LEVEL=info"}, validate=False)
        assert (
            "`pulumi config rm --path service.environment`, then "
            "`pulumi config set --path 'service.environment[0]' LOG_LEVEL=info`" in message
        )

    def test_an_unsupported_platform(self):
        assert only_problem({"image.platform": "linux/386"}).startswith(
            "fastapi-fargate:image.platform = linux/386:"
        )

    def test_migration_command_must_not_be_empty(self):
        assert only_problem({"migration.command": []}).startswith(
            "fastapi-fargate:migration.command = []:"
        )

    def test_a_list_setting_given_as_a_plain_string(self):
        with pytest.raises(
            ConfigError, match=r"'migration\.command' must be of type 'array<string>'"
        ):
            settings_of({"migration.command": "python -m api.migrate"})
        message = only_problem({"migration.command": "python -m api.migrate"}, validate=False)
        assert "must be a list" in message and "--path" in message

    def test_a_command_string_with_an_unpaired_quote_is_a_problem_not_a_traceback(self):
        # Found by the property test below: shlex refuses the quote with a ValueError.
        message = only_problem({"migration.command": 'python -c "print(1)'}, validate=False)
        assert message.startswith('fastapi-fargate:migration.command = python -c "print(1): ')
        assert "must be a list" in message
        assert message.endswith("`pulumi config set --path 'migration.command[2]' '\"print(1)'`")

    def test_a_list_is_set_one_index_at_a_time_like_the_cli_does(self):
        s = settings_of({"service.environment[0]": "A=1", "service.environment[1]": "B=2"})
        assert s.service.environment == ["A=1", "B=2"]

    def test_a_number_the_cli_coerced_is_accepted_as_a_string_setting(self):
        # `pulumi config set --path database.engineVersion 15` stores the number 15, and the
        # declared default "16" arrives as 16 too (object.go, coerce).
        assert settings_of().database.engine_version == "16"
        assert settings_of({"database.engineVersion": 15}).database.engine_version == "15"
        assert settings_of({"migration.nonce": "0042"}).migration.nonce == "0042"
        # Not so inside a list: the CLI's check reads the list as JSON, where 7 is a number.
        stack = {f"{PROJECT}:migration": {"command": ["python", "-m", "api.migrate"]}}
        edit = {"migration.command[2]": 7}
        with pytest.raises(
            ConfigError, match=r"'migration\.command' must be of type 'array<string>'"
        ):
            settings_of(edit, stack=stack)
        assert settings_of(edit, stack=stack, validate=False).migration.command[2] == "7"

    def test_a_float_for_a_string_setting_is_not_guessed(self):
        message = only_problem({}, stack={f"{PROJECT}:database": {"name": 1.5}}, validate=False)
        assert message.startswith("fastapi-fargate:database.name = 1.5:")


class TestHttps:
    @pytest.mark.parametrize("domain", ["not a domain", "-bad.example.com", "localhost", "a_b.com"])
    def test_domain_must_be_a_dns_name(self, domain):
        assert problems_of({**DOMAIN, "https.domain": domain})[0].startswith(
            f"fastapi-fargate:https.domain = {domain}:"
        )

    def test_domain_is_normalized(self):
        s = settings_of({**DOMAIN, "https.domain": "API.Example.com."})
        assert s.https.domain == "api.example.com"

    def test_domain_outside_the_hosted_zone(self):
        message = only_problem({**DOMAIN, "https.domain": "api.example.org"})
        assert message.startswith("fastapi-fargate:https.domain = api.example.org:")
        assert "example.com" in message

    def test_extra_name_outside_the_hosted_zone(self):
        message = only_problem({**DOMAIN, "https.extraNames": ["www.other.net"]})
        assert message.startswith("fastapi-fargate:https.extraNames = www.other.net:")

    def test_a_domain_needs_a_hosted_zone(self):
        message = only_problem({"https.domain": "api.example.com"})
        assert message.startswith("fastapi-fargate:https.hostedZone:")
        assert "example.com" in message

    def test_an_ssl_policy_that_allows_tls_1_0(self):
        message = only_problem({**DOMAIN, "https.sslPolicy": "ELBSecurityPolicy-2016-08"})
        assert message.startswith("fastapi-fargate:https.sslPolicy = ELBSecurityPolicy-2016-08:")
        assert "TLS 1.2" in message

    def test_an_unknown_ssl_policy(self):
        assert only_problem({**DOMAIN, "https.sslPolicy": "Strong"}).startswith(
            "fastapi-fargate:https.sslPolicy = Strong:"
        )

    def test_production_refuses_the_http_only_mode(self):
        message = only_problem({"production": True})
        assert message.startswith("fastapi-fargate:https.domain:")
        assert "production" in message

    def test_zone_settings_without_a_domain(self):
        assert only_problem({"https.hostedZone": "example.com"}).startswith(
            "fastapi-fargate:https.hostedZone = example.com: needs https.domain"
        )


class TestNetwork:
    def test_nat_none_with_private_only_subnets(self):
        problems = problems_of(
            {
                "network.vpcId": "vpc-0123456789abcdef0",
                "network.nat": "none",
                "network.privateSubnetIds": [
                    "subnet-0123456789abcdef0",
                    "subnet-0123456789abcdef1",
                ],
            }
        )
        assert any(p.startswith("fastapi-fargate:network.nat = none:") for p in problems)

    def test_existing_vpc_needs_two_public_subnets(self):
        message = only_problem(
            {
                "network.vpcId": "vpc-0123456789abcdef0",
                "network.publicSubnetIds": ["subnet-0123456789abcdef0"],
                "network.nat": "none",
                # Without private subnets a managed database would be a second problem.
                "database.mode": "off",
            }
        )
        assert message.startswith("fastapi-fargate:network.publicSubnetIds")

    def test_subnets_without_a_vpc(self):
        assert only_problem({"network.publicSubnetIds": ["subnet-0123456789abcdef0"]}).startswith(
            "fastapi-fargate:network.publicSubnetIds"
        )

    @pytest.mark.parametrize("cidr", ["10.0.0.0/8", "10.0.0.1/16", "banana"])
    def test_vpc_cidr(self, cidr):
        assert only_problem({"network.cidr": cidr}).startswith(
            f"fastapi-fargate:network.cidr = {cidr}:"
        )


class TestReporting:
    def test_a_misspelled_key_is_an_error_with_a_suggestion(self):
        # The CLI passes an undeclared member through without a word; the program refuses it.
        message = only_problem({"service.memroy": 1024})
        assert message.startswith("fastapi-fargate:service.memroy: is not a setting")
        assert "Did you mean fastapi-fargate:service.memory?" in message
        assert "`pulumi config rm --path service.memroy`" in message

    def test_an_undeclared_top_level_key_is_refused_too(self):
        message = only_problem({"servce": 1})
        assert message.startswith("fastapi-fargate:servce: is not a setting")
        assert "`pulumi config rm servce`" in message

    def test_a_misplaced_key_suggests_where_it_belongs(self):
        assert "Did you mean fastapi-fargate:service.cpu?" in only_problem({"scaling.cpu": 512})

    def test_a_flat_dotted_key_is_refused_naming_the_path_fix_and_the_conversion(self):
        # What `pulumi config set service.cpu 512` writes without --path: a key the CLI never
        # merges into the object, so the value would be silently ignored.
        with pytest.raises(SettingsError) as caught:
            settings_of({}, stack={f"{PROJECT}:service.cpu": "512"})
        (flat,) = caught.value.problems  # the conversion is a hint, not a second problem
        assert flat.startswith("fastapi-fargate:service.cpu = 512: a flat key")
        assert (
            "`pulumi config rm service.cpu`, then `pulumi config set --path service.cpu 512`"
            in flat
        )
        (conversion,) = caught.value.hints
        assert "`.venv/bin/python -m plan.convert_stack Pulumi.<stack>.yaml`" in conversion
        assert str(caught.value).startswith("The stack settings have 1 problem;")

    def test_a_flat_list_key_names_the_index_path(self):
        (flat,) = problems_of({}, stack={f"{PROJECT}:service.environment": ["A=1", "B=2"]})
        assert (
            "`pulumi config set --path 'service.environment[0]' A=1`, then "
            "`pulumi config set --path 'service.environment[1]' B=2`" in flat
        )

    def test_a_group_that_is_not_an_object_is_refused(self):
        # The CLI's merge replaces a scalar with an object of defaults (COMPAT in object.go
        # Set), so only config that skipped the merge can hold one.
        with pytest.raises(SettingsError) as caught:
            parse_settings({"service": "small"})
        (message,) = caught.value.problems
        assert message.startswith("fastapi-fargate:service = small: must be an object")
        assert "`pulumi config set --path service.containerPort 8000` (the default)" in message

    def test_every_problem_is_reported_at_once(self):
        problems = problems_of(
            {"service.cpu": 300, "network.nat": "some", "https.domain": "x y", "oops": 1}
        )
        keys = sorted(p.split(" ")[0].rstrip(":") for p in problems)
        assert keys == [
            "fastapi-fargate:https.domain",
            "fastapi-fargate:network.nat",
            "fastapi-fargate:oops",
            "fastapi-fargate:service.cpu",
        ]

    def test_the_error_is_a_pulumi_run_error_without_traceback_noise(self):
        import pulumi

        with pytest.raises(pulumi.RunError) as caught:
            settings_of({"service.cpu": "300"})
        assert str(caught.value).startswith(
            "The stack settings have 1 problem; nothing was created"
        )

    def test_a_project_setting_set_as_a_secret_is_refused_without_showing_it(self):
        # `pulumi config set --secret --path 'service.environment[0]' API_KEY=hunter2`: the whole
        # object becomes a secret key, and the program gets its plaintext.
        crypter = Base64Crypter()
        secure = {"secure": crypter.encrypt("API_KEY=hunter2")}
        stack = {f"{PROJECT}:service": {"environment": [secure]}}
        config, secret = handed_over(stack=stack, decrypter=crypter)
        assert "hunter2" in config["service"] and secret == {"service"}
        with pytest.raises(SettingsError) as caught:
            parse_settings(config, secret)
        assert "hunter2" not in str(caught.value)
        (problem,) = caught.value.problems
        assert problem.startswith("fastapi-fargate:service = [secret]:")
        assert "`pulumi config rm service`" in problem
        assert (
            "service.appSecrets" in problem
            and "`.venv/bin/python -m ops STACK secrets set NAME`" in problem
        )

    def test_a_flat_key_set_as_a_secret_is_removed_without_path(self):
        # With --path, `pulumi config rm service.cpu` would remove the member cpu of the object
        # fastapi-fargate:service and leave the flat secret key in place.
        with pytest.raises(SettingsError) as caught:
            parse_settings({"service.cpu": "512"}, {"service.cpu"})
        (problem,) = caught.value.problems
        assert "`pulumi config rm service.cpu`" in problem

    def test_a_member_name_that_needs_brackets_is_quoted_for_the_shell(self):
        # Unquoted, a shell drops the double quotes and the CLI reads `service[odd.name]` as a
        # bad array index (properties_path.go, parsePropertyPath).
        message = only_problem({'service["odd.name"]': 1})
        assert """`pulumi config rm --path 'service["odd.name"]'`""" in message

    def test_a_value_with_a_space_is_quoted_for_the_shell(self):
        (flat,) = problems_of({}, stack={f"{PROJECT}:https.domain": "a b"})
        assert "`pulumi config set --path https.domain 'a b'`" in flat


class TestProgram:
    def test_an_invalid_setting_registers_no_resource_at_all(self):
        mocks = AwsMocks()
        with pytest.raises(SettingsError):
            render({"service.memory": 700, "https.domain": "x y"}, mocks=mocks)
        assert mocks.registered == []

    @pytest.mark.parametrize("stack", ["dev", "prod"])
    def test_committed_stack_files_are_valid_structured_settings(self, stack):
        committed = stack_config(stack)
        assert not [k for k in committed if "." in k.split(":", 1)[-1]], "flat keys"
        settings_of(stack=committed)


class TestReference:
    def test_pulumi_yaml_declares_every_setting_with_type_default_and_description(self):
        declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
        assert declared == settings_reference.pulumi_yaml_config()

    def test_the_settings_reference_table_matches_the_model(self):
        readme = settings_reference.TABLE_PAGE.read_text()
        begin = readme.index(settings_reference.README_BEGIN) + len(settings_reference.README_BEGIN)
        end = readme.index(settings_reference.README_END)
        assert readme[begin:end].strip() == settings_reference.render_readme_table().strip()

    def test_every_group_is_in_the_reference(self):
        keys = {k for k, *_ in settings_reference.declarations()}
        for group in GROUPS:
            assert any(k.startswith(group + ".") for k in keys), group
        assert len(keys) == 1 + sum(len(m.model_fields) for m in GROUPS.values())

    def test_pulumi_yaml_defaults_are_what_the_model_uses(self):
        # The CLI merges these defaults into every group (coerced: "16" arrives as 16): on an
        # empty stack they must mean "the default".
        config, _ = handed_over()
        assert set(config) == {"production", *GROUPS}
        assert parse_settings(config) == Settings()


def _raw_values() -> st.SearchStrategy:
    scalar = st.one_of(
        st.integers(min_value=-10, max_value=70000).map(str),
        st.sampled_from(
            ["true", "false", "", "none", "single", "per-az", "/healthz", "linux/arm64"]
        ),
        st.text(max_size=12),
        st.sampled_from(["api.example.com", "example.com", "vpc-0123456789abcdef0"]),
    )
    listy = st.lists(st.text(max_size=8), max_size=3).map(json.dumps)
    return st.one_of(scalar, listy, st.just("[not json"))


_KEYS = [k for k, *_ in settings_reference.declarations()] + ["service.nope", "nope", "https"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(_KEYS), _raw_values(), max_size=8))
def test_any_raw_settings_are_accepted_or_refused_with_the_settings_error(raw):
    # Set with `pulumi config set --path`, then: the CLI refuses in its words, or the program
    # accepts or refuses naming the settings; and without the CLI's check, the program alone.
    for validate in (True, False):
        try:
            config, secret = handed_over(raw, validate=validate)
        except ConfigError as error:
            assert str(error).startswith(("Stack 'dev' with configuration key", "could not set"))
            continue
        try:
            result = parse_settings(config, secret)
        except SettingsError as error:
            assert error.problems
            assert all(p.startswith(("fastapi-fargate:", "Settings are")) for p in error.problems)
        else:
            assert isinstance(result, Settings)


class TestTaskPolicies:
    """service.taskPolicyArns is judged like the policy pack judges attachments, up front."""

    @pytest.mark.parametrize(
        ("arn", "why"),
        [
            ("arn:aws:iam::aws:policy/AdministratorAccess", "allows * on every resource"),
            ("arn:aws:iam::aws:policy/IAMFullAccess", "allows iam:*"),
            ("arn:aws:iam::aws:policy/AmazonS3FullAccess", "allows s3:*"),
        ],
    )
    def test_a_dangerous_managed_policy_is_refused_naming_the_arn_and_why(self, arn, why):
        problem = only_problem({"service.taskPolicyArns": [arn]})
        assert "service.taskPolicyArns" in problem
        assert arn in problem and why in problem
        assert "customer-managed policy listing the actions" in problem

    def test_the_refusal_stops_the_program_before_anything_is_created(self):
        mocks = AwsMocks()
        with pytest.raises(Exception, match="IAMFullAccess"):
            render(
                {"service.taskPolicyArns": ["arn:aws:iam::aws:policy/IAMFullAccess"]}, mocks=mocks
            )
        assert mocks.registered == []

    def test_narrow_policies_pass(self):
        arns = [
            "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
            "arn:aws:iam::123456789012:policy/read-bucket",
        ]
        assert settings_of({"service.taskPolicyArns": arns}).service.task_policy_arns == arns
