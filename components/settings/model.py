"""The whole model: ``Settings``, one field per group, and ``GROUPS``, each group's config
object name and model (what reading, the rules and the settings reference walk).

No resource is created here.
"""

from __future__ import annotations

from pydantic import Field
from pydantic.alias_generators import to_camel

from components.settings.base import _Group
from components.settings.data import DatabaseSettings, MigrationSettings
from components.settings.edge import HttpsSettings, LoadBalancerSettings, NetworkSettings
from components.settings.facts import GENERATED_APP_SECRETS
from components.settings.safety import PROTECTED_PARTS, AlarmsSettings, ProtectionSettings
from components.settings.service import ImageSettings, ScalingSettings, ServiceSettings


class Settings(_Group):
    """All settings of a stack, one group per deployment concept."""

    production: bool = Field(
        False,
        description="Mark a production stack: stricter checks and protective defaults.",
    )
    https: HttpsSettings = HttpsSettings()
    network: NetworkSettings = NetworkSettings()
    load_balancer: LoadBalancerSettings = LoadBalancerSettings()
    image: ImageSettings = ImageSettings()
    service: ServiceSettings = ServiceSettings()
    scaling: ScalingSettings = ScalingSettings()
    migration: MigrationSettings = MigrationSettings()
    database: DatabaseSettings = DatabaseSettings()
    protection: ProtectionSettings = ProtectionSettings()
    alarms: AlarmsSettings = AlarmsSettings()

    @property
    def app_secret_names(self) -> tuple[str, ...]:
        """The app's own secrets, names only (values live in Secrets Manager and never pass
        through config, settings or state): service.appSecrets and the ones the stack
        generates (API_TOKEN, the sample API's bearer token), unless service.publicApi says the
        API takes no token."""
        generated = frozenset() if self.service.public_api else GENERATED_APP_SECRETS
        return tuple(sorted(set(self.service.app_secrets) | generated))

    @property
    def app_role(self) -> bool:
        """Whether the app connects as the role the release phase creates (database.appRole)."""
        return self.database.enabled and self.database.app_role and self.migration.enabled

    @property
    def deletion_protection(self) -> bool:
        return self.production or self.load_balancer.deletion_protection

    def protects(self, part: str) -> bool:
        """Whether Pulumi's ``protect`` keeps ``part`` (one of PROTECTED_PARTS): production
        data and entrances, unless ``protection.allowReplacing`` names it for this update."""
        assert part in PROTECTED_PARTS, part
        return self.production and part not in self.protection.allow_replacing

    @property
    def flow_logs(self) -> bool:
        """VPC flow logs: network.flowLogs, always on for production."""
        return self.production or self.network.flow_logs

    @property
    def waf_enabled(self) -> bool:
        """The WAF web ACL: as loadBalancer.waf says; auto is on in production only."""
        if self.load_balancer.waf == "auto":
            return self.production
        return self.load_balancer.waf == "on"

    @property
    def exec_enabled(self) -> bool:
        """ECS Exec: as service.exec says; auto is on outside production only."""
        if self.service.exec == "auto":
            return not self.production
        return self.service.exec == "on"

    @property
    def api_docs_enabled(self) -> bool:
        """The app's interactive docs: as service.apiDocs says; auto is on outside production."""
        if self.service.api_docs == "auto":
            return not self.production
        return self.service.api_docs == "on"


GROUPS: dict[str, type[_Group]] = {
    to_camel(name): field.annotation  # type: ignore[misc]
    for name, field in Settings.model_fields.items()
    if isinstance(field.annotation, type) and issubclass(field.annotation, _Group)
}
