"""Run a Pulumi program under the SDK's mocks and record everything it registers.

The offline plan (``python -m plan``) and the tests both go through ``render``: it runs a
function (by default a project's ``__main__.py``) against a recording mock monitor with
``preview=False``, so every ``apply`` runs and every value is known, and returns each registered
resource with its type, name, inputs, parent, dependencies and options, plus the stack outputs.
``AwsMocks`` answers like AWS would, with ids, ARNs and DNS names made up from the resources'
names; ``plan.placeholders`` swaps those made-up values for "known after apply" labels. The
program gets its config exactly as the Pulumi CLI would pass it: the stack file merged with
Pulumi.yaml's declarations by ``plan.engine_config`` (nothing renders a stack file any other way).

A library module: no test framework here, and nothing runs at import time (setting up mocks
at import breaks on newer Pythons).
"""

from __future__ import annotations

import hashlib
import json
import os
import runpy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from plan.engine_config import BlindingDecrypter, load_project, load_yaml, program_config

ROOT = Path(__file__).resolve().parent.parent
# What the program gets for a value the stack file holds encrypted: offline there is no secrets
# provider to decrypt it with.
ENCRYPTED_PLACEHOLDER = "(secret: encrypted in the stack file, not decrypted offline)"
OFFLINE_DECRYPTER = BlindingDecrypter(ENCRYPTED_PLACEHOLDER)
PROJECT = "fastapi-fargate"
ACCOUNT = "123456789012"
REGION = "us-east-1"
ZONE_ID = "Z0123456789ABCDEFGHIJ"


@dataclass
class Resource:
    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    parent: str
    dependencies: list[str]
    property_dependencies: dict[str, list[str]]
    ignore_changes: list[str]
    secret_inputs: set[str]
    delete_before_replace: bool
    protect: bool
    custom_timeouts: dict[str, str] = field(default_factory=dict)
    """``create``/``update``/``delete`` the program set (``ResourceOptions.custom_timeouts``)."""

    def __getitem__(self, key: str) -> Any:
        return self.inputs[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.inputs.get(key, default)


@dataclass
class Rendered:
    resources: list[Resource]
    outputs: dict[str, Any]
    secret_outputs: set[str]
    invokes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    states: dict[tuple[str, str], tuple[str, dict[str, Any]]] = field(default_factory=dict)

    def outputs_of(self, resource: Resource) -> dict[str, Any]:
        """What AWS would hand back for ``resource``: the mocks' state with its id."""
        rid, state = self.states.get((resource.type, resource.name), ("", resource.inputs))
        return {**state, "id": rid} if rid else dict(state)

    def all(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> Resource:
        found = [r for r in self.all(type_) if name is None or r.name == name]
        assert len(found) == 1, (
            f"expected one {type_} {name or ''}, found {[r.name for r in found]}"
        )
        return found[0]

    def by_urn(self, urn: str) -> Resource:
        return next(r for r in self.resources if r.urn == urn)

    def depends_on(self, resource: Resource, other: Resource) -> bool:
        """Whether ``resource`` waits for ``other`` (directly or through a parent component)."""
        seen: set[str] = set()
        todo = list(resource.dependencies)
        while todo:
            urn = todo.pop()
            if urn == other.urn:
                return True
            if urn in seen:
                continue
            seen.add(urn)
            # A dependency on a component covers its children.
            todo.extend(r.urn for r in self.resources if r.parent == urn)
            todo.extend(self._deps(urn))
        return False

    def _deps(self, urn: str) -> list[str]:
        return next((r.dependencies for r in self.resources if r.urn == urn), [])

    def children(self, parent: Resource) -> list[Resource]:
        return [r for r in self.resources if r.parent == parent.urn]


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, keeping what MockResourceArgs leaves out: parent, deps, options."""

    def __init__(self, mocks: pulumi_mocks.Mocks):
        super().__init__(mocks)
        self.records: list[Resource] = []
        self.stack_urn = ""

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            self.stack_urn = response.urn
            return response
        inputs = rpc.deserialize_properties(request.object)
        self.records.append(
            Resource(
                urn=response.urn,
                type=request.type,
                name=request.name,
                inputs=_unwrap(inputs),
                parent=request.parent,
                dependencies=list(request.dependencies),
                property_dependencies={
                    k: list(v.urns) for k, v in request.propertyDependencies.items()
                },
                ignore_changes=list(request.ignoreChanges),
                secret_inputs={k for k, v in inputs.items() if _holds_secret(v)},
                delete_before_replace=request.deleteBeforeReplace,
                protect=request.protect,
                custom_timeouts={
                    k: v
                    for k in ("create", "update", "delete")
                    if (v := getattr(request.customTimeouts, k))
                },
            )
        )
        return response


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig


def _holds_secret(value: Any) -> bool:
    if _is_secret(value):
        return True
    if isinstance(value, dict):
        return any(_holds_secret(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_secret(v) for v in value)
    return False


def _unwrap(value: Any) -> Any:
    if _is_secret(value):
        return _unwrap(value["value"])
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    return value


class AwsMocks(pulumi_mocks.Mocks):
    """Answers like AWS would: ids, ARNs and the computed attributes the program reads."""

    def __init__(self, account: str = ACCOUNT, region: str = REGION) -> None:
        self.account = account
        self.region = region
        self.invokes: list[tuple[str, dict[str, Any]]] = []
        # "type::name" of every resource registered (the root stack is not one).
        self.registered: list[str] = []
        self.zones: dict[str, str] = {"example.com": ZONE_ID}
        self.subnet_azs: dict[str, str] = {}
        # (type, name) -> (id, state) answered for it: what AWS would hand back as the
        # resource's outputs, which stack policies read.
        self.states: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"

    def new_resource(self, args: pulumi_mocks.MockResourceArgs):
        name, inputs = args.name, dict(args.inputs)
        self.registered.append(f"{args.typ}::{name}")
        digest = hashlib.sha256(f"{args.typ}/{name}".encode()).hexdigest()
        rid = f"{name}-{digest[:8]}"
        state: dict[str, Any] = {**inputs}
        typ = args.typ
        if typ == "aws:ec2/vpc:Vpc":
            rid = f"vpc-{digest[:17]}"
        elif typ == "aws:ec2/subnet:Subnet":
            rid = f"subnet-{digest[:17]}"
        elif typ == "aws:ec2/securityGroup:SecurityGroup":
            rid = f"sg-{digest[:17]}"
        elif typ == "aws:lb/loadBalancer:LoadBalancer":
            state |= {
                "arn": self._arn("elasticloadbalancing", f"loadbalancer/app/{name}/{digest[:16]}"),
                "arnSuffix": f"app/{name}/{digest[:16]}",
                "dnsName": f"{name}-{digest[:10]}.{self.region}.elb.amazonaws.com",
                "zoneId": "Z35SXDOTRQ7X7K",
            }
        elif typ == "aws:lb/targetGroup:TargetGroup":
            state |= {
                "arn": self._arn("elasticloadbalancing", f"targetgroup/{name}/{digest[:16]}"),
                "arnSuffix": f"targetgroup/{name}/{digest[:16]}",
            }
        elif typ == "aws:acm/certificate:Certificate":
            names = [inputs["domainName"], *inputs.get("subjectAlternativeNames", [])]
            # AWS does not promise the order of these; reversed, so matching by position fails.
            state["domainValidationOptions"] = [
                {
                    "domainName": n,
                    "resourceRecordName": f"_{hashlib.md5(n.encode()).hexdigest()}.{n}.",
                    "resourceRecordType": "CNAME",
                    "resourceRecordValue": f"_{hashlib.sha1(n.encode()).hexdigest()}.acm-validations.aws.",
                }
                for n in reversed(names)
            ]
            state["arn"] = self._arn("acm", f"certificate/{digest[:32]}")
        elif typ == "aws:ecr/repository:Repository":
            state["repositoryUrl"] = f"{self.account}.dkr.ecr.{self.region}.amazonaws.com/{name}"
        elif typ == "docker:index/image:Image":
            repo = inputs.get("imageName", name).split(":")[0]
            state["repoDigest"] = (
                f"{repo}@sha256:{hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()}"
            )
        elif typ == "aws:ecs/taskDefinition:TaskDefinition":
            state |= {
                "arn": self._arn("ecs", f"task-definition/{inputs['family']}:7"),
                "arnWithoutRevision": self._arn("ecs", f"task-definition/{inputs['family']}"),
                "revision": 7,
            }
        elif typ == "aws:ecs/cluster:Cluster":
            state |= {"arn": self._arn("ecs", f"cluster/{inputs.get('name', name)}")}
        elif typ == "aws:iam/role:Role":
            state |= {
                "arn": f"arn:aws:iam::{self.account}:role/{name}",
                "name": inputs.get("name", name),
            }
        elif typ == "aws:route53/record:Record":
            state["fqdn"] = inputs.get("name")
        elif typ == "aws:rds/instance:Instance":
            address = f"{name}.{digest[:12]}.{self.region}.rds.amazonaws.com"
            port = inputs.get("port", 5432)
            state |= {
                "address": address,
                "port": port,
                "endpoint": f"{address}:{port}",
                "arn": self._arn("rds", f"db:{name}"),
                "identifier": inputs.get("identifier") or f"{name}-{digest[:8]}",
            }
            if inputs.get("manageMasterUserPassword"):
                # RDS keeps the password in a secret it creates; the state holds only its ARN.
                state["masterUserSecrets"] = [
                    {
                        "secretArn": self._arn(
                            "secretsmanager", f"secret:rds!db-{digest[:8]}-AbCdEf"
                        ),
                        "secretStatus": "active",
                        "kmsKeyId": self._arn("kms", f"key/{digest[:8]}"),
                    }
                ]
        elif typ == "random:index/randomId:RandomId":
            # Stable for the same inputs, new when the keepers change: what the provider's
            # RandomId does across updates (it is replaced when a keeper changes).
            seed = json.dumps(inputs, sort_keys=True, default=str).encode()
            state["hex"] = hashlib.sha256(seed).hexdigest()[: 2 * int(inputs["byteLength"])]
        elif typ == "aws:cloudwatch/metricAlarm:MetricAlarm":
            # Auto-named like the provider does: the resource name and a random suffix.
            alarm = inputs.get("name") or f"{name}-{digest[:7]}"
            state |= {"name": alarm, "arn": self._arn("cloudwatch", f"alarm:{alarm}")}
        elif typ == "aws:sns/topic:Topic":
            topic = inputs.get("name") or f"{name}-{digest[:7]}"
            state |= {"name": topic, "arn": self._arn("sns", topic)}
        elif typ in ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"):
            # Without a `bucket` input, AWS's provider names the bucket `<name>-<random>`; the
            # program reads that name back (the state backend's URL).
            bucket = inputs.get("bucket") or f"{name}-{digest[:8]}"
            state |= {
                "bucket": bucket,
                "arn": f"arn:aws:s3:::{bucket}",
                "bucketDomainName": f"{bucket}.s3.amazonaws.com",
                "bucketRegionalDomainName": f"{bucket}.s3.{self.region}.amazonaws.com",
            }
        elif typ == "aws:secretsmanager/secret:Secret":
            state["arn"] = self._arn("secretsmanager", f"secret:{inputs.get('name', name)}-AbCdEf")
        state.setdefault("arn", self._arn(typ.split(":")[1].split("/")[0], f"{name}/{digest[:12]}"))
        state.setdefault("name", inputs.get("name", name))
        # The same dict: what a subclass fills in afterwards (PlanMocks' auto-names) shows too.
        self.states[(typ, name)] = (rid, state)
        return rid, state

    def call(self, args: pulumi_mocks.MockCallArgs):
        self.invokes.append((args.token, dict(args.args)))
        token, a = args.token, args.args
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return self._availability_zones(a)
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": self.account,
                "arn": f"arn:aws:iam::{self.account}:user/test",
                "userId": "AIDA",
                "id": self.account,
            }
        if token == "aws:index/getRegion:getRegion":
            return {
                "name": self.region,
                "region": self.region,
                "id": self.region,
                "description": self.region,
            }
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
        if token == "aws:route53/getZone:getZone":
            zone_id = a.get("zoneId")
            if zone_id:
                name = next((n for n, i in self.zones.items() if i == zone_id), None)
            else:
                name = str(a.get("name", "")).rstrip(".")
                zone_id = self.zones.get(name)
            if name is None or zone_id is None:
                # As a failure, like the engine reports a data source's error: the program can
                # catch it. Raising here would be an RPC crash that no `except` can stop.
                return {}, [("name", "no matching Route 53 Hosted Zone found")]
            return {"zoneId": zone_id, "name": name, "id": zone_id, "privateZone": False}
        if token == "aws:ec2/getSubnet:getSubnet":
            sid = a.get("id")
            return {
                "id": sid,
                "availabilityZone": self.subnet_azs.get(sid, f"{self.region}a"),
                "vpcId": "vpc-0123456789abcdef0",
                "cidrBlock": "10.0.0.0/24",
            }
        if token == "aws:ec2/getVpc:getVpc":
            return {
                "id": a.get("id"),
                "cidrBlock": "10.20.0.0/16",
                "cidrBlockAssociations": [
                    {
                        "associationId": "vpc-cidr-assoc-1",
                        "cidrBlock": "10.20.0.0/16",
                        "state": "associated",
                    },
                    {
                        "associationId": "vpc-cidr-assoc-2",
                        "cidrBlock": "100.64.0.0/20",
                        "state": "associated",
                    },
                ],
            }
        if token == "aws:elb/getServiceAccount:getServiceAccount":
            return {"arn": "arn:aws:iam::127311923021:root", "id": "127311923021"}
        return {}

    def availability_zone_records(self) -> list[dict[str, str]]:
        """The region's zones as DescribeAvailabilityZones describes them: six regional ones,
        and one Local Zone the account opted in to (its name sorts before the regional ones)."""
        regional = [
            {
                "zone-name": f"{self.region}{letter}",
                "zone-id": f"{self.region}-az{i}",
                "opt-in-status": "opt-in-not-required",
                "zone-type": "availability-zone",
                "state": "available",
            }
            for i, letter in enumerate("abcdef", start=1)
        ]
        local = {
            "zone-name": f"{self.region}-bos-1a",
            "zone-id": f"{self.region}-bos1-az1",
            "opt-in-status": "opted-in",
            "zone-type": "local-zone",
            "state": "available",
        }
        return [local, *regional]

    def _availability_zones(self, a: Mapping[str, Any]) -> Any:
        # As terraform-provider-aws's data source: filters and state narrow the list, which
        # comes back sorted by name.
        zones = self.availability_zone_records()
        for spec in a.get("filters") or []:
            name, values = spec.get("name"), list(spec.get("values") or [])
            if name not in ("zone-name", "zone-id", "opt-in-status", "zone-type", "state"):
                return {}, [("filters", f"InvalidParameterValue: unknown filter name {name}")]
            zones = [z for z in zones if z[name] in values]
        if a.get("state"):
            zones = [z for z in zones if z["state"] == a["state"]]
        zones.sort(key=lambda z: z["zone-name"])
        return {
            "names": [z["zone-name"] for z in zones],
            "zoneIds": [z["zone-id"] for z in zones],
            "id": self.region,
        }


def stack_config(stack: str = "dev", root: Path = ROOT) -> dict[str, Any]:
    """The ``config:`` block of Pulumi.<stack>.yaml as it is committed (read as the CLI reads
    YAML): the stack's own settings, before the CLI merges in Pulumi.yaml's defaults."""
    document = load_yaml((root / f"Pulumi.{stack}.yaml").read_text())
    return dict((document or {}).get("config") or {})


def render(
    settings_overrides: Mapping[str, Any] | None = None,
    *,
    program: Callable[[], Any] | None = None,
    stack: str = "dev",
    base: Mapping[str, Any] | None = None,
    mocks: AwsMocks | None = None,
    secret_keys: Iterable[str] = (),
    project: str | None = None,
    root: Path = ROOT,
    validate: bool = True,
) -> Rendered:
    """Run ``program`` (default: ``__main__.py``) under mocks with the config the CLI would pass.

    ``base`` is the stack file's ``config:`` block (default: that of Pulumi.<stack>.yaml).
    ``settings_overrides`` change it first as ``pulumi config set --path KEY VALUE`` would
    (``{"service.cpu": 512}`` sets the member ``cpu`` of the object ``<project>:service``;
    a value of None is ``pulumi config rm --path KEY``); keys of another namespace are given in
    full (``app-secrets:API_KEY``). Then the CLI's merge of ``root/Pulumi.yaml``'s declarations
    runs (``plan.engine_config.program_config``): defaults filled in, types checked (a
    ``ConfigError`` with the CLI's message), values handed over as strings and JSON.
    ``secret_keys`` are full keys the CLI would hand over as secrets (set with ``pulumi config
    set --secret``) besides those the stack file encrypts. ``root`` is the project directory
    whose Pulumi.yaml, stack files and ``__main__.py`` are used (bootstrap/, or a git worktree
    of another revision); its packages must be the importable ones. ``project``, if given, must
    be the name in its Pulumi.yaml. ``validate=False`` skips the CLI's type check
    (``--skip-config-validation``), so that the program's own checks run on every value.
    """
    mocks = mocks or AwsMocks()
    declared = load_project(root / "Pulumi.yaml")
    if project is not None and project != declared.name:
        raise ValueError(f"{root / 'Pulumi.yaml'} is project {declared.name}, not {project}")
    engine = program_config(
        declared,
        stack,
        stack_config(stack, root) if base is None else base,
        edits=settings_overrides,
        decrypter=OFFLINE_DECRYPTER,
        validate=validate,
    )

    monitor = RecordingMonitor(mocks)
    settings.ROOT.set(None)
    pulumi.runtime.set_mocks(
        mocks, project=declared.name, stack=stack, preview=False, monitor=monitor
    )
    pulumi.runtime.set_all_config(engine.config, sorted(engine.secret_keys | set(secret_keys)))
    settings.SETTINGS.rpc_manager.clear()

    outputs: dict[str, Any] = {}
    secret_outputs: set[str] = set()

    def run() -> Any:
        if program is None:
            runpy.run_path(str(root / "__main__.py"), run_name="__main__")
        else:
            program()
        exported = settings.get_root_resource().outputs  # type: ignore[union-attr]

        async def resolve() -> None:
            for name, value in exported.items():
                out = pulumi.Output.from_input(value)
                outputs[name] = await out.future()
                if await out.is_secret():
                    secret_outputs.add(name)

        return resolve()

    # The CLI runs the program, and starts every provider, in the project directory
    # (pulumi/pulumi pkg/engine/project.go getPwdMain, pulumi-language-python-exec
    # os.chdir(args.pwd), sdk/go/common/resource/plugin/plugin.go cmd.Dir = pwd): relative
    # paths in the program (the image's build context) mean the same here.
    previous = os.getcwd()
    os.chdir(root)
    try:
        _sync_await(run_pulumi_func(run))
    finally:
        os.chdir(previous)
    return Rendered(monitor.records, outputs, secret_outputs, mocks.invokes, mocks.states)
