"""The network: a new VPC across zones with the chosen NAT mode, or an existing VPC's subnets."""

from __future__ import annotations

import ipaddress

import pulumi
import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.edge import build_edge
from components.network import subnet_cidrs
from components.settings import SettingsError, load_settings
from pulumi_harness import REGION, AwsMocks, Rendered, render

VPC = "aws:ec2/vpc:Vpc"
SUBNET = "aws:ec2/subnet:Subnet"
NAT = "aws:ec2/natGateway:NatGateway"
EIP = "aws:ec2/eip:Eip"
IGW = "aws:ec2/internetGateway:InternetGateway"
ROUTE = "aws:ec2/route:Route"
TABLE = "aws:ec2/routeTable:RouteTable"
ASSOCIATION = "aws:ec2/routeTableAssociation:RouteTableAssociation"
NETWORK = "fastapi-fargate:network:Network"

EXISTING_VPC = "vpc-0123456789abcdef0"  # the VPC AwsMocks puts every looked-up subnet in
PUBLIC_A, PUBLIC_B = "subnet-0aaaaaaaaaaaaaaa1", "subnet-0bbbbbbbbbbbbbbb2"
PRIVATE_A, PRIVATE_B = "subnet-0ccccccccccccccc3", "subnet-0ddddddddddddddd4"
EXISTING = {
    "network.vpcId": EXISTING_VPC,
    "network.publicSubnetIds": [PUBLIC_A, PUBLIC_B],
    "network.privateSubnetIds": [PRIVATE_A, PRIVATE_B],
}


def render_edge(overrides: dict | None = None, mocks: AwsMocks | None = None) -> Rendered:
    def program() -> None:
        network = build_edge(load_settings()).network
        pulumi.export("vpc_id", network.vpc_id)
        pulumi.export("public_subnet_ids", network.public_subnet_ids)
        pulumi.export("private_subnet_ids", network.private_subnet_ids)
        pulumi.export("task_subnet_ids", network.task_subnet_ids)
        pulumi.export("assign_public_ip", network.assign_public_ip)

    return render(overrides or {}, base={"aws:region": REGION}, program=program, mocks=mocks)


# --- a new VPC ----------------------------------------------------------------------------


def test_a_new_vpc_uses_the_cidr_setting_with_dns_support_and_hostnames_on():
    vpc = render_edge({"network.cidr": "10.20.0.0/16"}).one(VPC)
    assert vpc["cidrBlock"] == "10.20.0.0/16"
    assert vpc["enableDnsSupport"] is True
    assert vpc["enableDnsHostnames"] is True


@pytest.mark.parametrize("zones", [2, 3])
def test_each_zone_gets_one_public_and_one_private_subnet(zones):
    r = render_edge({"network.availabilityZones": zones})
    expected = [f"{REGION}{s}" for s in "abc"[:zones]]  # the first available zones, in order
    subnets = r.all(SUBNET)
    public = [s for s in subnets if "-public-" in s.name]
    private = [s for s in subnets if "-private-" in s.name]
    assert sorted(s["availabilityZone"] for s in public) == expected
    assert sorted(s["availabilityZone"] for s in private) == expected
    assert len(subnets) == 2 * zones
    assert not any(s.get("mapPublicIpOnLaunch") for s in subnets)


@given(
    prefix=st.integers(16, 24),
    network_bits=st.integers(0, 2**24 - 1),
    zones=st.sampled_from([2, 3]),
)
def test_subnet_cidrs_are_disjoint_inside_the_vpc_and_stable_when_a_zone_is_added(
    prefix, network_bits, zones
):
    vpc = ipaddress.IPv4Network((network_bits << 8, prefix), strict=False)
    public, private = subnet_cidrs(str(vpc), zones)
    nets = [ipaddress.IPv4Network(c) for c in public + private]
    assert len(nets) == 2 * zones
    assert all(n.subnet_of(vpc) for n in nets)
    assert all(not a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :])
    # Going from 2 to 3 zones only adds subnets: the existing ones keep their ranges.
    three_public, three_private = subnet_cidrs(str(vpc), 3)
    assert three_public[:zones] == public
    assert three_private[:zones] == private


def test_public_subnets_route_the_internet_through_the_internet_gateway():
    r = render_edge()
    igw = r.one(IGW)
    route = r.one(ROUTE, "edge-public-internet")
    table = r.by_urn(route.property_dependencies["routeTableId"][0])
    assert route["destinationCidrBlock"] == "0.0.0.0/0"
    assert route.property_dependencies["gatewayId"] == [igw.urn]
    public = {s.urn for s in r.all(SUBNET) if "-public-" in s.name}
    associated = {
        a.property_dependencies["subnetId"][0]
        for a in r.all(ASSOCIATION)
        if a.property_dependencies["routeTableId"] == [table.urn]
    }
    assert associated == public


def private_routes(r: Rendered) -> dict[str, str | None]:
    """Each private subnet's zone -> the NAT gateway's zone its 0.0.0.0/0 goes to (or None)."""
    nat_zone = {}
    for nat in r.all(NAT):
        subnet = r.by_urn(nat.property_dependencies["subnetId"][0])
        nat_zone[nat.urn] = subnet["availabilityZone"]
    result: dict[str, str | None] = {}
    for subnet in (s for s in r.all(SUBNET) if "-private-" in s.name):
        association = next(
            a for a in r.all(ASSOCIATION) if a.property_dependencies["subnetId"] == [subnet.urn]
        )
        table_urn = association.property_dependencies["routeTableId"][0]
        routes = [x for x in r.all(ROUTE) if x.property_dependencies["routeTableId"] == [table_urn]]
        assert all(x["destinationCidrBlock"] == "0.0.0.0/0" for x in routes)
        assert len(routes) <= 1
        assert not any(x.get("gatewayId") for x in routes)  # never the internet gateway
        result[subnet["availabilityZone"]] = (
            nat_zone[routes[0].property_dependencies["natGatewayId"][0]] if routes else None
        )
    return result


def test_nat_none_creates_no_nat_gateway_and_no_route_out_of_the_private_subnets():
    r = render_edge({"network.nat": "none", "network.availabilityZones": 3})
    assert r.all(NAT) == [] and r.all(EIP) == []
    assert private_routes(r) == {f"{REGION}a": None, f"{REGION}b": None, f"{REGION}c": None}


def test_nat_single_is_one_gateway_in_the_first_public_subnet_shared_by_every_zone():
    r = render_edge({"network.nat": "single", "network.availabilityZones": 3})
    assert len(r.all(NAT)) == 1 and len(r.all(EIP)) == 1
    nat_subnet = r.by_urn(r.one(NAT).property_dependencies["subnetId"][0])
    assert "-public-" in nat_subnet.name
    first = f"{REGION}a"
    assert private_routes(r) == {f"{REGION}{z}": first for z in "abc"}


def test_nat_per_az_gives_every_zone_its_own_gateway():
    r = render_edge({"network.nat": "per-az", "network.availabilityZones": 3})
    assert len(r.all(NAT)) == 3 and len(r.all(EIP)) == 3
    assert private_routes(r) == {f"{REGION}{z}": f"{REGION}{z}" for z in "abc"}
    for nat in r.all(NAT):
        assert "-public-" in r.by_urn(nat.property_dependencies["subnetId"][0]).name


def test_nat_gateways_use_a_vpc_elastic_ip_and_wait_for_the_internet_gateway():
    r = render_edge({"network.nat": "single"})
    nat, eip, igw = r.one(NAT), r.one(EIP), r.one(IGW)
    assert eip["domain"] == "vpc"
    assert nat.property_dependencies["allocationId"] == [eip.urn]
    assert igw.urn in nat.dependencies and igw.urn in eip.dependencies


def test_tasks_run_in_private_subnets_without_public_ip_behind_nat():
    r = render_edge({"network.nat": "single"})
    assert r.outputs["task_subnet_ids"] == r.outputs["private_subnet_ids"]
    assert r.outputs["assign_public_ip"] is False


def test_without_nat_tasks_run_in_public_subnets_with_a_public_ip():
    r = render_edge({"network.nat": "none"})
    assert r.outputs["task_subnet_ids"] == r.outputs["public_subnet_ids"]
    assert r.outputs["assign_public_ip"] is True


def test_the_load_balancer_waits_for_the_public_subnets_internet_route():
    # AWS refuses an internet-facing load balancer in a VPC without an internet gateway.
    r = render_edge()
    alb = r.one("aws:lb/loadBalancer:LoadBalancer")
    assert r.one(ROUTE, "edge-public-internet").urn in alb.property_dependencies["subnets"]


def test_a_region_with_too_few_zones_is_refused_naming_the_key():
    class TwoZones(AwsMocks):
        def call(self, args):
            if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
                return {"names": [f"{REGION}a", f"{REGION}b"], "id": REGION}
            return super().call(args)

    mocks = TwoZones()
    with pytest.raises(SettingsError) as error:
        render_edge({"network.availabilityZones": 3}, mocks=mocks)
    assert "fastapi-fargate:network.availabilityZones = 3" in str(error.value)
    assert mocks.registered == []


def test_every_network_resource_is_a_child_of_the_network_component():
    r = render_edge({"network.nat": "per-az"})
    network = r.one(NETWORK)
    children = r.children(network)
    assert {c.type for c in children} == {VPC, SUBNET, NAT, EIP, IGW, ROUTE, TABLE, ASSOCIATION}
    for type_ in (VPC, SUBNET, NAT, EIP, IGW, ROUTE, TABLE, ASSOCIATION):
        assert all(x.parent == network.urn for x in r.all(type_))


# --- an existing VPC ----------------------------------------------------------------------


def distinct_zone_mocks() -> AwsMocks:
    mocks = AwsMocks()
    mocks.subnet_azs = {PUBLIC_A: f"{REGION}a", PUBLIC_B: f"{REGION}b"}
    return mocks


def test_an_existing_vpc_creates_no_network_resources_and_passes_the_ids_on():
    r = render_edge(EXISTING, mocks=distinct_zone_mocks())
    for type_ in (VPC, SUBNET, NAT, EIP, IGW, ROUTE, TABLE, ASSOCIATION):
        assert r.all(type_) == []
    assert r.children(r.one(NETWORK)) == []
    assert r.outputs["vpc_id"] == EXISTING_VPC
    assert r.outputs["public_subnet_ids"] == [PUBLIC_A, PUBLIC_B]
    assert r.outputs["task_subnet_ids"] == [PRIVATE_A, PRIVATE_B]
    assert r.one("aws:lb/loadBalancer:LoadBalancer")["subnets"] == [PUBLIC_A, PUBLIC_B]
    assert r.one("aws:lb/targetGroup:TargetGroup")["vpcId"] == EXISTING_VPC


def test_existing_public_subnets_in_one_zone_are_refused_before_anything_is_created():
    mocks = AwsMocks()
    mocks.subnet_azs = {PUBLIC_A: f"{REGION}a", PUBLIC_B: f"{REGION}a"}
    with pytest.raises(SettingsError) as error:
        render_edge(EXISTING, mocks=mocks)
    message = str(error.value)
    assert "fastapi-fargate:network.publicSubnetIds" in message
    assert "2 distinct availability zones" in message
    assert mocks.registered == []


def test_existing_subnets_of_another_vpc_are_refused_naming_the_key():
    mocks = distinct_zone_mocks()
    with pytest.raises(SettingsError) as error:
        render_edge({**EXISTING, "network.vpcId": "vpc-0fffffffffffffff0"}, mocks=mocks)
    message = str(error.value)
    assert f"fastapi-fargate:network.publicSubnetIds = {PUBLIC_A}: belongs to" in message
    assert f"fastapi-fargate:network.privateSubnetIds = {PRIVATE_A}: belongs to" in message
    assert mocks.registered == []


def test_an_existing_subnet_aws_cannot_find_is_refused_naming_the_key():
    class Missing(AwsMocks):
        def call(self, args):
            if args.token == "aws:ec2/getSubnet:getSubnet" and args.args["id"] == PUBLIC_B:
                return {}, [("id", "no matching EC2 Subnet found")]
            return super().call(args)

    mocks = Missing()
    with pytest.raises(SettingsError) as error:
        render_edge(EXISTING, mocks=mocks)
    assert f"fastapi-fargate:network.publicSubnetIds = {PUBLIC_B}: AWS could not find" in str(
        error.value
    )
    assert mocks.registered == []


def test_nat_none_with_only_private_existing_subnets_is_a_settings_error():
    mocks = AwsMocks()
    with pytest.raises(SettingsError) as error:
        render_edge(
            {
                "network.vpcId": EXISTING_VPC,
                "network.nat": "none",
                "network.privateSubnetIds": [PRIVATE_A, PRIVATE_B],
            },
            mocks=mocks,
        )
    assert "fastapi-fargate:network.nat = none" in str(error.value)
    assert mocks.registered == []


def test_an_existing_vpc_with_one_public_subnet_is_a_settings_error():
    with pytest.raises(SettingsError) as error:
        render_edge({**EXISTING, "network.publicSubnetIds": [PUBLIC_A]})
    assert "fastapi-fargate:network.publicSubnetIds" in str(error.value)
    assert "at least 2 public subnets in distinct availability zones" in str(error.value)


# --- which zones ------------------------------------------------------------------------------

LOCAL_ZONE = f"{REGION}-bos-1a"
AZ_LOOKUP = "aws:index/getAvailabilityZones:getAvailabilityZones"


def subnet_zones(r: Rendered) -> list[str]:
    return sorted({s["availabilityZone"] for s in r.all(SUBNET)})


def test_the_mock_lists_an_opted_in_local_zone_first_unless_filtered_out():
    """The realism the next tests rely on: AWS lists opted-in Local Zones with the regional
    zones, sorted by name, so us-east-1-bos-1a comes before us-east-1a."""
    everything = AwsMocks()._availability_zones({"state": "available"})
    assert everything["names"][:2] == [LOCAL_ZONE, f"{REGION}a"]
    regional = AwsMocks()._availability_zones(
        {"filters": [{"name": "opt-in-status", "values": ["opt-in-not-required"]}]}
    )
    assert LOCAL_ZONE not in regional["names"] and len(regional["names"]) == 6


@pytest.mark.parametrize("zones", [2, 3])
def test_a_local_zone_is_never_chosen(zones):
    r = render_edge({"network.availabilityZones": zones, "network.nat": "per-az"})
    assert subnet_zones(r) == [f"{REGION}{c}" for c in "abc"[:zones]]
    assert all(LOCAL_ZONE not in str(x.inputs) for x in r.resources)


def test_the_lookup_asks_for_regional_zones_with_a_typed_filter_and_no_state():
    r = render_edge()
    (call,) = [args for token, args in r.invokes if token == AZ_LOOKUP]
    assert call["filters"] == [{"name": "opt-in-status", "values": ["opt-in-not-required"]}]
    # No state filter: a zone's health must not decide which zones an existing stack has.
    assert not call.get("state")


class _ZoneAImpaired(AwsMocks):
    def availability_zone_records(self):
        return [
            z | {"state": "impaired"} if z["zone-name"] == f"{REGION}a" else z
            for z in super().availability_zone_records()
        ]


def test_a_zone_that_becomes_impaired_moves_no_subnet():
    before = render_edge({"network.nat": "per-az"})
    after = render_edge({"network.nat": "per-az"}, mocks=_ZoneAImpaired())
    assert subnet_zones(after) == subnet_zones(before) == [f"{REGION}a", f"{REGION}b"]
    inputs = lambda r: {(s.name, s["cidrBlock"], s["availabilityZone"]) for s in r.all(SUBNET)}  # noqa: E731
    assert inputs(after) == inputs(before)


def test_pinned_zone_names_are_used_in_name_order():
    r = render_edge({"network.zoneNames": [f"{REGION}c", f"{REGION}b"]})
    public = {s.name: (s["availabilityZone"], s["cidrBlock"]) for s in r.all(SUBNET)}
    assert public["edge-public-b"] == (f"{REGION}b", "10.0.0.0/19")
    assert public["edge-public-c"] == (f"{REGION}c", "10.0.32.0/19")


def test_pinning_the_zones_a_stack_already_uses_changes_nothing():
    default = render_edge({"network.nat": "single"})
    pinned = render_edge(
        {"network.nat": "single", "network.zoneNames": [f"{REGION}b", f"{REGION}a"]}
    )
    assert {(x.type, x.name): x.inputs for x in pinned.resources} == {
        (x.type, x.name): x.inputs for x in default.resources
    }


def test_a_pinned_zone_of_another_region_is_refused_before_anything_is_created():
    mocks = AwsMocks()
    with pytest.raises(SettingsError) as error:
        render_edge({"network.zoneNames": ["eu-west-1a", "eu-west-1b"]}, mocks=mocks)
    message = str(error.value)
    assert "fastapi-fargate:network.zoneNames" in message
    assert f"eu-west-1a, eu-west-1b is not an availability zone of {REGION}" in message
    assert f"its zones: {REGION}a, {REGION}b" in message and LOCAL_ZONE not in message
    assert mocks.registered == []


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"network.zoneNames": [LOCAL_ZONE, f"{REGION}a"]},
            "Local Zones and Wavelength Zones (like us-east-1-bos-1a) offer no NAT gateway",
        ),
        ({"network.zoneNames": [f"{REGION}a", f"{REGION}a"]}, "names a zone twice"),
        (
            {"network.zoneNames": [f"{REGION}a", "us-west-2b"]},
            "names zones of more than one region",
        ),
        (
            {"network.zoneNames": [f"{REGION}a", f"{REGION}b", f"{REGION}c"]},
            "names 3 zones, but network.availabilityZones = 2. Fix: `pulumi config set --path "
            "network.availabilityZones 3`",
        ),
        (
            {**EXISTING, "network.zoneNames": [f"{REGION}a", f"{REGION}b"]},
            "an existing VPC's zones are those of its subnets",
        ),
    ],
    ids=["local zone", "twice", "two regions", "count", "existing VPC"],
)
def test_bad_zone_names_are_refused_naming_the_setting(overrides, expected):
    mocks = AwsMocks()
    mocks.subnet_azs = {PUBLIC_A: f"{REGION}a", PUBLIC_B: f"{REGION}b"}
    with pytest.raises(SettingsError) as error:
        render_edge(overrides, mocks=mocks)
    assert "fastapi-fargate:network.zoneNames" in str(error.value)
    assert expected in str(error.value)
    assert mocks.registered == []
