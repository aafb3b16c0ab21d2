"""The network the load balancer and the tasks run in: a new VPC, or subnets the user already has.

``Network`` creates, for a new VPC:

* the VPC, with DNS support and DNS hostnames on (tasks resolve AWS endpoints and the ECR
  registry by name);
* one public and one private subnet in each of ``network.availabilityZones`` zones of the
  region (``network.zoneNames``, or the first regional zones by name, never a Local Zone), so
  the load balancer and the tasks survive the loss of a zone;
* an internet gateway and one public route table sending 0.0.0.0/0 to it (the load balancer's
  subnets, and the tasks' too when ``network.nat`` is ``none``);
* a private route table per zone and, per ``network.nat``: no NAT gateway (``none``: nothing in
  the private subnets can reach the internet, so the tasks run in the public subnets with a
  public IP, still reachable only through the load balancer's security group), one NAT
  gateway with its Elastic IP in the first public subnet shared by every zone (``single``), or
  one per zone (``per-az``: losing a zone does not cut the others off).

With ``network.vpcId`` nothing is created: the component passes the given ids on.
``check_existing_network`` looks those subnets up before any resource is registered, since the
load balancer needs public subnets in two distinct zones of that VPC and only AWS knows where
a subnet is.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.settings import PROJECT, NetworkSettings, SettingsError

# Every zone's subnets come from a fixed grid of 8 equal blocks (/19s of a /16): blocks 0-2 are
# the public subnets, 4-6 the private ones. Sized for three zones even when two are used, so
# changing network.availabilityZones adds or removes subnets without renumbering (replacing)
# the others.
_GRID_BITS = 3
_PRIVATE_OFFSET = 4


def subnet_cidrs(cidr: str, zones: int) -> tuple[list[str], list[str]]:
    """The public and private subnet CIDRs of each zone, carved from the VPC's ``cidr``."""
    network = ipaddress.IPv4Network(cidr)
    blocks = list(network.subnets(prefixlen_diff=_GRID_BITS))
    public = [str(blocks[i]) for i in range(zones)]
    private = [str(blocks[_PRIVATE_OFFSET + i]) for i in range(zones)]
    return public, private


# Regional availability zones only. Without this filter AWS also lists the Local Zones the
# account opted in to (pulumi_aws get_availability_zones docstring, "Only Availability Zones
# (no Local Zones)"), and us-east-1-bos-1a sorts before us-east-1a; Local Zones offer no NAT
# gateway and no Application Load Balancer.
REGIONAL_ZONES = aws.GetAvailabilityZonesFilterArgs(
    name="opt-in-status", values=["opt-in-not-required"]
)


def availability_zones(settings: NetworkSettings) -> list[str]:
    """The zones a new VPC spans: ``network.zoneNames``, or the region's first
    ``network.availabilityZones`` regional zones by name.

    No ``state`` filter: a zone that is impaired or unavailable for a while stays in the list,
    so an existing stack's zones, and so its subnets, never change with the zones' health.
    Raises ``SettingsError`` when the region has too few zones or a pinned name is not one of
    them; returns [] for an existing VPC.
    """
    if settings.existing:
        return []
    region = pulumi.Config("aws").get("region") or "the stack's region"
    names = sorted(aws.get_availability_zones(filters=[REGIONAL_ZONES]).names)
    if settings.zone_names:
        unknown = [z for z in settings.zone_names if z not in names]
        if unknown:
            raise SettingsError(
                [
                    f"{PROJECT}:network.zoneNames = {json.dumps(list(settings.zone_names))}: "
                    f"{', '.join(unknown)} is not an availability zone of {region} (its zones: "
                    f"{', '.join(names)}). Fix: `pulumi config set --path "
                    f"'network.zoneNames[0]' {names[0] if names else '<zone>'}` and so on, with "
                    f"zones of {region}, or check aws:region."
                ]
            )
        return list(settings.zone_names)
    if len(names) < settings.availability_zones:
        raise SettingsError(
            [
                f"{PROJECT}:network.availabilityZones = {settings.availability_zones}: "
                f"{region} has only {len(names)} availability zones ({', '.join(names)}). Fix: "
                f"`pulumi config set --path network.availabilityZones {len(names)}`, or another "
                f"region."
            ]
        )
    return names[: settings.availability_zones]


def check_existing_network(settings: NetworkSettings) -> None:
    """Check the subnets of an existing VPC with AWS; raise ``SettingsError`` if unusable.

    Call it before registering any resource: the load balancer needs public subnets in at least
    two distinct availability zones, and every subnet must belong to ``network.vpcId``.
    Does nothing for a new VPC.
    """
    if not settings.existing:
        return
    problems: list[str] = []
    zones: set[str] = set()
    for field, ids in (
        ("publicSubnetIds", settings.public_subnet_ids),
        ("privateSubnetIds", settings.private_subnet_ids),
    ):
        for subnet_id in ids:
            try:
                subnet = aws.ec2.get_subnet(id=subnet_id)
            except Exception as exc:  # the invoke's own error says why (not found, no access)
                problems.append(
                    f"{PROJECT}:network.{field} = {subnet_id}: AWS could not find this subnet "
                    f"({exc}). Fix: list subnets of network.vpcId = {settings.vpc_id} in this "
                    f"stack's region (aws:region)."
                )
                continue
            if subnet.vpc_id != settings.vpc_id:
                problems.append(
                    f"{PROJECT}:network.{field} = {subnet_id}: belongs to {subnet.vpc_id}, not "
                    f"to network.vpcId = {settings.vpc_id}. Fix: list only subnets of that VPC."
                )
            elif field == "publicSubnetIds":
                zones.add(subnet.availability_zone)
    if not problems and len(zones) < 2:
        problems.append(
            f"{PROJECT}:network.publicSubnetIds = {json.dumps(settings.public_subnet_ids)}: all in "
            f"{', '.join(sorted(zones))}; an Application Load Balancer needs subnets in at least 2 "
            f"distinct availability zones. Fix: add a public subnet of another zone, like "
            f"`pulumi config set --path 'network.publicSubnetIds[{len(settings.public_subnet_ids)}]' "
            f"subnet-...`."
        )
    if problems:
        raise SettingsError(problems)


@dataclass(frozen=True)
class NetworkArgs:
    """What ``Network`` needs: the stack's network settings, and the zones if already known."""

    settings: NetworkSettings
    zones: tuple[str, ...] | None = None
    """From ``availability_zones``; looked up by the component when None."""


class Network(pulumi.ComponentResource):
    """The VPC and subnets; see the module docstring for what is created and why."""

    vpc_id: pulumi.Output[str]
    public_subnet_ids: pulumi.Output[list[str]]
    private_subnet_ids: pulumi.Output[list[str]]
    task_subnet_ids: pulumi.Output[list[str]]
    """Where the tasks run: the private subnets, or the public ones when there is no NAT."""
    assign_public_ip: bool
    """Whether tasks need a public IP: only without NAT, to pull images and reach AWS APIs."""
    egress_ready: list[pulumi.Resource]
    """What a task needs before it can reach ECR, CloudWatch Logs and Secrets Manager: every
    route table association and internet route (the NAT routes and the internet gateway route
    the NAT gateways use). Subnet ids alone do not wait for them: a task started too early
    fails with CannotPullContainerError. Empty for an existing VPC, whose routes exist."""

    def __init__(
        self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("fastapi-fargate:network:Network", name, None, opts)
        settings = args.settings
        self.assign_public_ip = settings.nat == "none"
        self.egress_ready = []

        if settings.existing:
            self.vpc_id = pulumi.Output.from_input(settings.vpc_id)  # type: ignore[arg-type]
            self.public_subnet_ids = pulumi.Output.from_input(list(settings.public_subnet_ids))
            self.private_subnet_ids = pulumi.Output.from_input(list(settings.private_subnet_ids))
        else:
            zones = args.zones if args.zones is not None else availability_zones(settings)
            self._create(name, settings, list(zones))

        self.task_subnet_ids = (
            self.public_subnet_ids if self.assign_public_ip else self.private_subnet_ids
        )
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
                "task_subnet_ids": self.task_subnet_ids,
                "assign_public_ip": self.assign_public_ip,
            }
        )

    def _create(self, name: str, settings: NetworkSettings, zones: list[str]) -> None:
        child = pulumi.ResourceOptions(parent=self)
        public_cidrs, private_cidrs = subnet_cidrs(settings.cidr, len(zones))

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            aws.ec2.VpcArgs(
                cidr_block=settings.cidr,
                enable_dns_support=True,
                enable_dns_hostnames=True,
                tags={"Name": name},
            ),
            opts=child,
        )
        gateway = aws.ec2.InternetGateway(
            f"{name}-igw",
            aws.ec2.InternetGatewayArgs(vpc_id=vpc.id, tags={"Name": name}),
            opts=child,
        )
        public_table = aws.ec2.RouteTable(
            f"{name}-public",
            aws.ec2.RouteTableArgs(vpc_id=vpc.id, tags={"Name": f"{name}-public"}),
            opts=child,
        )
        public_route = self._internet_route(
            f"{name}-public-internet", public_table, gateway_id=gateway.id
        )

        subnets: dict[str, list[aws.ec2.Subnet]] = {"public": [], "private": []}
        nats: list[aws.ec2.NatGateway] = []
        # Public subnets first: their NAT gateways are the private tables' default routes.
        for tier, cidrs in (("public", public_cidrs), ("private", private_cidrs)):
            for i, zone in enumerate(zones):
                suffix = zone[-1]
                subnet_name = f"{name}-{tier}-{suffix}"
                subnet = aws.ec2.Subnet(
                    subnet_name,
                    aws.ec2.SubnetArgs(
                        vpc_id=vpc.id,
                        availability_zone=zone,
                        cidr_block=cidrs[i],
                        # No automatic public IPs, in public subnets either: a task gets one
                        # only when ECS is told to (network.nat = none), and nothing else
                        # should run here.
                        map_public_ip_on_launch=False,
                        tags={"Name": subnet_name},
                    ),
                    opts=child,
                )
                table = public_table
                if tier == "private":
                    # A table per zone in every NAT mode, so switching modes only adds or
                    # removes the default route instead of replacing tables and associations.
                    table = aws.ec2.RouteTable(
                        subnet_name,
                        aws.ec2.RouteTableArgs(vpc_id=vpc.id, tags={"Name": subnet_name}),
                        opts=child,
                    )
                association = aws.ec2.RouteTableAssociation(
                    subnet_name,
                    aws.ec2.RouteTableAssociationArgs(subnet_id=subnet.id, route_table_id=table.id),
                    opts=child,
                )
                self.egress_ready.append(association)
                subnets[tier].append(subnet)
                if tier == "public" and (
                    settings.nat == "per-az" or (settings.nat == "single" and i == 0)
                ):
                    nats.append(self._nat(f"{name}-nat-{suffix}", subnet, gateway))
                if tier == "private" and nats:
                    nat = nats[i] if settings.nat == "per-az" else nats[0]
                    self._internet_route(f"{subnet_name}-internet", table, nat_gateway_id=nat.id)
        public, private = subnets["public"], subnets["private"]

        self.vpc_id = vpc.id
        # The ids carry a dependency on the internet route: AWS refuses an internet-facing
        # load balancer in subnets of a VPC without an internet gateway.
        self.public_subnet_ids = pulumi.Output.all(public_route.id, *[s.id for s in public]).apply(
            lambda ids: list(ids[1:])
        )
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private]).apply(list)

    def _internet_route(
        self, name: str, table: aws.ec2.RouteTable, **gateway: pulumi.Input[str]
    ) -> aws.ec2.Route:
        """The table's default route through ``gateway`` (``gateway_id`` or ``nat_gateway_id``),
        which egress waits for. A resource of its own: inline routes and Route resources fight
        each other."""
        route = aws.ec2.Route(
            name,
            aws.ec2.RouteArgs(
                route_table_id=table.id, destination_cidr_block="0.0.0.0/0", **gateway
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.egress_ready.append(route)
        return route

    def _nat(
        self, name: str, subnet: aws.ec2.Subnet, gateway: aws.ec2.InternetGateway
    ) -> aws.ec2.NatGateway:
        eip = aws.ec2.Eip(
            name,
            aws.ec2.EipArgs(domain="vpc", tags={"Name": name}),
            # AWS refuses a public IP for a VPC without an attached internet gateway.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[gateway]),
        )
        return aws.ec2.NatGateway(
            name,
            aws.ec2.NatGatewayArgs(allocation_id=eip.id, subnet_id=subnet.id, tags={"Name": name}),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[gateway]),
        )
