"""The TLS certificate of the HTTPS listener, validated through DNS in the user's hosted zone.

``Certificate`` creates, unless ``https.certificateArn`` names an existing certificate:

* an ACM certificate for ``https.domain`` plus ``https.extraNames``, validated by DNS, so ACM
  renews it by itself for as long as the records stay;
* one Route 53 CNAME validation record per name, in the hosted zone (a wildcard and its apex
  share a record, so they get one); each record is matched to its name by ``domain_name``,
  because ACM does not keep the order of the names in ``domain_validation_options``;
* an ``acm.CertificateValidation`` that waits until ACM has issued the certificate, whose
  ``certificate_arn`` is what the component hands on, so the listener never gets a certificate
  that is still pending.

With ``https.certificateArn`` nothing is created and that ARN is handed on.

``resolve_hosted_zone`` looks the hosted zone up before any resource is registered: a zone that
does not exist or does not hold the names is a settings error, not a failed deployment.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.settings import PROJECT, HttpsSettings, SettingsError, inside_zone


@dataclass(frozen=True)
class HostedZone:
    """A public Route 53 hosted zone, as looked up in AWS."""

    id: str
    name: str


def resolve_hosted_zone(https: HttpsSettings) -> HostedZone:
    """Find the public hosted zone of ``https.hostedZone``/``https.hostedZoneId`` in AWS.

    Raises ``SettingsError`` if there is no such public zone or, for a zone given by id, if
    the domain or an extra name is outside it. Call it before registering any resource.
    """
    by_id = https.hosted_zone_id is not None
    key = f"{PROJECT}:https.hostedZoneId" if by_id else f"{PROJECT}:https.hostedZone"
    given = https.hosted_zone_id if by_id else https.hosted_zone
    try:
        if by_id:
            found = aws.route53.get_zone(zone_id=https.hosted_zone_id)
        else:
            found = aws.route53.get_zone(name=https.hosted_zone, private_zone=False)
    except Exception as exc:  # the invoke's own error says why (not found, no access)
        raise SettingsError(
            [
                f"{key} = {given}: no public Route 53 hosted zone found ({exc}). Fix: create "
                f"the zone and delegate the domain to it, or set {key.split(':')[1]} to a zone "
                f"of this AWS account (`aws route53 list-hosted-zones`)."
            ]
        ) from None

    zone = HostedZone(id=found.zone_id, name=found.name.rstrip(".").lower())
    problems = []
    if found.private_zone:
        problems.append(
            f"{key} = {given}: is a private hosted zone; ACM validates certificates and clients "
            f"resolve the domain through public DNS. Fix: use the public zone of {zone.name}."
        )
    if by_id and https.hosted_zone is not None and https.hosted_zone != zone.name:
        problems.append(
            f"{key} = {given}: is the zone {zone.name}, not https.hostedZone = "
            f"{https.hosted_zone}. Fix: set only one of the two, or make them agree."
        )
    for field, name in [("domain", https.domain)] + [("extraNames", n) for n in https.extra_names]:
        if name is not None and not inside_zone(name, zone.name):
            problems.append(
                f"{PROJECT}:https.{field} = {name}: is not inside the hosted zone {zone.name} "
                f"({key} = {given}), so no record can be made for it. Fix: use a name ending in "
                f".{zone.name}, or the zone that holds it."
            )
    if problems:
        raise SettingsError(problems)
    return zone


def validation_record_key(name: str) -> str:
    """Names that share a DNS validation record: a wildcard and its apex."""
    return name.removeprefix("*.")


@dataclass(frozen=True)
class CertificateArgs:
    """What ``Certificate`` needs: the HTTPS settings and the zone that holds their names."""

    https: HttpsSettings
    zone: HostedZone
    protect: bool = False
    """Pulumi ``protect`` on the certificate, its validation and validation records
    (production): a replacement or a destroy is refused until lifted on purpose."""


class Certificate(pulumi.ComponentResource):
    """The listener's certificate; see the module docstring for what is created and why."""

    certificate_arn: pulumi.Output[str]
    """ARN of an issued certificate: known only once validation has succeeded."""

    def __init__(
        self, name: str, args: CertificateArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("fastapi-fargate:certificate:Certificate", name, None, opts)
        https = args.https
        if https.certificate_arn is not None:
            self.certificate_arn = pulumi.Output.from_input(https.certificate_arn)
        else:
            self.certificate_arn = self._create(name, https, args.zone, args.protect)
        self.register_outputs({"certificate_arn": self.certificate_arn})

    def _create(
        self, name: str, https: HttpsSettings, zone: HostedZone, protect: bool
    ) -> pulumi.Output[str]:
        child = pulumi.ResourceOptions(parent=self, protect=protect)
        names = https.names
        certificate = aws.acm.Certificate(
            f"{name}-certificate",
            aws.acm.CertificateArgs(
                domain_name=names[0],
                subject_alternative_names=names[1:],
                validation_method="DNS",
                tags={"Name": names[0]},
            ),
            # Pulumi's default create-before-replace matters here: a certificate for new names
            # is issued and on the listener before the old one is deleted.
            opts=child,
        )

        records: list[aws.route53.Record] = []
        for record_key in dict.fromkeys(validation_record_key(n) for n in names):
            option = certificate.domain_validation_options.apply(
                lambda options, k=record_key: _option_for(options, k)
            )
            records.append(
                aws.route53.Record(
                    f"{name}-validation-{record_key}",
                    aws.route53.RecordArgs(
                        zone_id=zone.id,
                        name=option.apply(lambda o: o.resource_record_name),
                        type=option.apply(lambda o: o.resource_record_type),
                        records=[option.apply(lambda o: o.resource_record_value)],
                        ttl=60,
                        # The record may be left from an earlier certificate for the same name
                        # (ACM reuses the token); taking it over is what validation needs.
                        allow_overwrite=True,
                    ),
                    opts=child,
                )
            )

        validation = aws.acm.CertificateValidation(
            f"{name}-validation",
            aws.acm.CertificateValidationArgs(
                certificate_arn=certificate.arn,
                validation_record_fqdns=[r.fqdn for r in records],
            ),
            opts=child,
        )
        return validation.certificate_arn


def _option_for(
    options: list[aws.acm.outputs.CertificateDomainValidationOption], record_key: str
) -> aws.acm.outputs.CertificateDomainValidationOption:
    """The validation option of ``record_key``'s name, whatever the order ACM returned."""
    for option in options:
        if validation_record_key(option.domain_name) == record_key:
            return option
    raise ValueError(f"ACM returned no DNS validation option for {record_key}")
