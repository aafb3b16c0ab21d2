"""The public edge: the Application Load Balancer, its listeners, security groups and DNS names.

``LoadBalancer`` creates:

* the load balancer's security group: 80 and 443 in from anywhere on IPv4, out only to the
  tasks' security group on the container port. No ``::/0`` rules: the ALB is IPv4-only (its
  ``ip_address_type`` default) in a VPC without an IPv6 range, so they would admit nothing and
  only suggest an IPv6 entrance that does not exist. Dual-stack would need an IPv6 range on the
  VPC and subnets, ``ip_address_type="dualstack"`` and AAAA records, as one change;
* the tasks' security group: in only from the load balancer's group on the container port, out
  to anywhere (the tasks pull their image from ECR and call AWS APIs, through a NAT gateway or
  their public IP, and neither has a fixed address to allow). The rules are separate resources,
  not inline blocks, so each group can name the other without a dependency cycle;
* an internet-facing ALB in the public subnets that drops requests with invalid header fields
  (a request-smuggling defence), with the idle timeout and deletion protection of the settings;
* with ``loadBalancer.accessLogs``, an S3 bucket for its access logs: public access blocked,
  SSE-S3 (the only encryption ALB log delivery supports), and a policy letting the load
  balancing service of this region write to it;
* the target group the ECS service registers its tasks in (by IP, as Fargate requires) with
  a quick health check and the settings' deregistration delay, instead of AWS's slow defaults;
* with a domain: an HTTPS listener on 443 with the settings' TLS policy, the validated
  certificate and an HSTS header, forwarding to the target group; an HTTP listener on 80 whose
  only action is a permanent redirect to HTTPS; and an alias A record per name to the ALB;
* in production, the ALB and its DNS records are ``protect``ed: ``pulumi destroy`` or a
  replacement stops before removing the entrance users reach (lifted for one update by
  ``protection.allowReplacing``; a deliberate teardown: ``pulumi destroy --ignore-protect``);
* without a domain (a first try): only the HTTP listener, forwarding to the target group, and
  a warning on every preview and update.

``build_edge`` (in :mod:`components.edge`) runs the AWS lookups that can refuse the settings,
then builds the network, the certificate and this component in order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.certificate import HostedZone
from components.security_groups import connect, rule, security_group
from components.settings import Settings

HTTP_PORT = 80
HTTPS_PORT = 443

# Regions opened before August 2022, where ALB log delivery writes as a per-region Elastic
# Load Balancing account (aws.elb.get_service_account knows only these). Newer regions accept
# only the service principal LOG_DELIVERY_PRINCIPAL. (AWS: "Enable access logs for your
# Application Load Balancer", step 2.)
ELB_ACCOUNT_REGIONS = frozenset(
    {
        "us-east-1", "us-east-2", "us-west-1", "us-west-2", "af-south-1", "ap-east-1",
        "ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-southeast-1",
        "ap-southeast-2", "ap-southeast-3", "ca-central-1", "eu-central-1", "eu-west-1",
        "eu-west-2", "eu-west-3", "eu-south-1", "eu-north-1", "me-south-1", "sa-east-1",
        "us-gov-west-1", "us-gov-east-1", "cn-north-1", "cn-northwest-1",
    }
)  # fmt: skip
LOG_DELIVERY_PRINCIPAL = "logdelivery.elasticloadbalancing.amazonaws.com"


def hsts_header(max_age: int) -> str | None:
    """The Strict-Transport-Security value for ``https.hstsMaxAge``; None (no header) for 0."""
    return f"max-age={max_age}; includeSubDomains" if max_age > 0 else None


def no_domain_warning() -> str:
    return (
        "HTTP only: https.domain is not set, so the load balancer serves plain HTTP on its own "
        "DNS name, without TLS. This is for a first try, never for real traffic. To serve HTTPS: "
        "`pulumi config set --path https.domain api.example.com` and `pulumi config set --path "
        "https.hostedZone example.com` (a Route 53 public hosted zone you own), then `pulumi up`."
    )


@dataclass(frozen=True)
class LoadBalancerArgs:
    """What ``LoadBalancer`` needs. ``certificate_arn`` and ``zone`` are required with a domain."""

    settings: Settings
    vpc_id: pulumi.Input[str]
    public_subnet_ids: pulumi.Input[Sequence[str]]
    certificate_arn: pulumi.Input[str] | None = None
    zone: HostedZone | None = None


class LoadBalancer(pulumi.ComponentResource):
    """The ALB and everything around it; see the module docstring for what is created and why."""

    alb_security_group_id: pulumi.Output[str]
    task_security_group_id: pulumi.Output[str]
    """The group the ECS tasks must use: reachable only from the load balancer."""
    task_egress_rule: aws.vpc.SecurityGroupEgressRule
    """The tasks' only way out (their group has no default egress): a task must not start
    before it exists, or it cannot pull its image, write logs or read its secrets."""
    task_traffic_rules: list[aws.vpc.SecurityGroupIngressRule | aws.vpc.SecurityGroupEgressRule]
    """The load balancer's way to the tasks and the tasks' way in from it: a rollout's new
    tasks fail their health checks until both exist."""
    target_group_arn: pulumi.Output[str]
    target_group_arn_suffix: pulumi.Output[str]
    load_balancer_arn_suffix: pulumi.Output[str]
    dns_name: pulumi.Output[str]
    url: pulumi.Output[str]
    """Public URL of the API: https://domain, or http://<ALB DNS name> without a domain."""
    serving_listener: aws.lb.Listener
    """The listener forwarding to the target group; the ECS service must depend on it."""
    certificate_arn: pulumi.Output[str] | None

    def __init__(
        self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("fastapi-fargate:load_balancer:LoadBalancer", name, None, opts)
        settings = args.settings
        https = settings.https
        if https.enabled and (args.certificate_arn is None or args.zone is None):
            raise ValueError("LoadBalancerArgs needs certificate_arn and zone with https.domain")
        child = pulumi.ResourceOptions(parent=self)
        port = settings.service.container_port

        alb_sg, task_sg = self._security_groups(name, args.vpc_id, port)

        # What users reach: in production it survives a `pulumi destroy` or a replacement
        # until someone lifts the protection on purpose.
        kept = pulumi.ResourceOptions(parent=self, protect=settings.protects("loadBalancer"))
        alb_opts = kept
        access_logs = None
        if settings.load_balancer.access_logs:
            bucket, policy = self._log_bucket(name, settings)
            access_logs = aws.lb.LoadBalancerAccessLogsArgs(bucket=bucket.id, enabled=True)
            # ELB checks that it may write to the bucket when logging is turned on.
            alb_opts = pulumi.ResourceOptions(
                parent=self, depends_on=[policy], protect=settings.protects("loadBalancer")
            )

        alb = aws.lb.LoadBalancer(
            f"{name}-alb",
            aws.lb.LoadBalancerArgs(
                load_balancer_type="application",
                internal=False,
                security_groups=[alb_sg.id],
                subnets=args.public_subnet_ids,
                drop_invalid_header_fields=True,
                idle_timeout=settings.load_balancer.idle_timeout,
                enable_deletion_protection=settings.deletion_protection,
                access_logs=access_logs,
            ),
            opts=alb_opts,
        )

        target_group_args = aws.lb.TargetGroupArgs(
            target_type="ip",
            protocol="HTTP",
            port=port,
            vpc_id=args.vpc_id,
            deregistration_delay=settings.load_balancer.deregistration_delay,
            # AWS's defaults (every 30 s, healthy after 5) keep a new task out of service
            # for about 2.5 minutes on every rollout; this admits it after about 20 s.
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                enabled=True,
                protocol="HTTP",
                path=settings.service.health_check_path,
                port="traffic-port",
                interval=10,
                healthy_threshold=2,
                unhealthy_threshold=3,
                timeout=5,
                matcher="200",
            ),
        )
        target_group = aws.lb.TargetGroup(f"{name}-tg", target_group_args, opts=child)
        # Blue-green deployments start the new tasks in a second, identical target group.
        alternate = None
        if settings.service.deployment_strategy == "blue-green":
            alternate = aws.lb.TargetGroup(f"{name}-tg-green", target_group_args, opts=child)
        forward = aws.lb.ListenerDefaultActionArgs(
            type="forward", target_group_arn=target_group.arn
        )

        if https.enabled:
            serving = aws.lb.Listener(
                f"{name}-https",
                aws.lb.ListenerArgs(
                    load_balancer_arn=alb.arn,
                    port=HTTPS_PORT,
                    protocol="HTTPS",
                    ssl_policy=https.ssl_policy,
                    certificate_arn=args.certificate_arn,
                    default_actions=[forward],
                    routing_http_response_strict_transport_security_header_value=hsts_header(
                        https.hsts_max_age
                    ),
                ),
                opts=child,
            )
            aws.lb.Listener(
                f"{name}-http",
                aws.lb.ListenerArgs(
                    load_balancer_arn=alb.arn,
                    port=HTTP_PORT,
                    protocol="HTTP",
                    # Host, path and query keep their defaults (#{host}, /#{path}, #{query}):
                    # the client lands on the same URL over HTTPS.
                    default_actions=[
                        aws.lb.ListenerDefaultActionArgs(
                            type="redirect",
                            redirect=aws.lb.ListenerDefaultActionRedirectArgs(
                                protocol="HTTPS", port=str(HTTPS_PORT), status_code="HTTP_301"
                            ),
                        )
                    ],
                ),
                opts=child,
            )
            for domain in https.names:
                aws.route53.Record(
                    f"{name}-alias-{domain}",
                    aws.route53.RecordArgs(
                        zone_id=args.zone.id,  # type: ignore[union-attr]
                        name=domain,
                        type="A",
                        aliases=[
                            aws.route53.RecordAliasArgs(
                                name=alb.dns_name,
                                zone_id=alb.zone_id,
                                evaluate_target_health=True,
                            )
                        ],
                        # No allow_overwrite: an existing record for the name is someone else's
                        # traffic, and taking it over silently would be a surprise outage.
                    ),
                    opts=pulumi.ResourceOptions(parent=self, protect=settings.protects("dns")),
                )
            self.url = pulumi.Output.from_input(f"https://{https.domain}")
            self.certificate_arn = pulumi.Output.from_input(args.certificate_arn)  # type: ignore[arg-type]
        else:
            serving = aws.lb.Listener(
                f"{name}-http",
                aws.lb.ListenerArgs(
                    load_balancer_arn=alb.arn,
                    port=HTTP_PORT,
                    protocol="HTTP",
                    default_actions=[forward],
                ),
                opts=child,
            )
            # Not attached to this resource: that path logs asynchronously and can be lost if
            # the program fails right after; a stack-level warning is sent at once.
            pulumi.log.warn(no_domain_warning())
            self.url = pulumi.Output.concat("http://", alb.dns_name)
            self.certificate_arn = None

        self.alb_security_group_id = alb_sg.id
        self.task_security_group_id = task_sg.id
        self.target_group_arn = target_group.arn
        self.target_group_arn_suffix = target_group.arn_suffix
        self.load_balancer_arn_suffix = alb.arn_suffix
        self.alternate_target_group_arn = alternate.arn if alternate else None
        self.alternate_target_group_arn_suffix = alternate.arn_suffix if alternate else None
        self.dns_name = alb.dns_name
        self.serving_listener = serving
        self.register_outputs(
            {
                "alb_security_group_id": self.alb_security_group_id,
                "task_security_group_id": self.task_security_group_id,
                "target_group_arn": self.target_group_arn,
                "target_group_arn_suffix": self.target_group_arn_suffix,
                "load_balancer_arn_suffix": self.load_balancer_arn_suffix,
                "dns_name": self.dns_name,
                "url": self.url,
                "serving_listener_arn": serving.arn,
                "certificate_arn": self.certificate_arn,
            }
        )

    def _security_groups(
        self, name: str, vpc_id: pulumi.Input[str], port: int
    ) -> tuple[aws.ec2.SecurityGroup, aws.ec2.SecurityGroup]:
        child = pulumi.ResourceOptions(parent=self)
        # No inline rules (see components/security_groups.py).
        alb_sg = security_group(
            f"{name}-alb",
            vpc_id,
            "Load balancer: HTTP/HTTPS from the internet, out to the tasks only",
            child,
        )
        task_sg = security_group(
            f"{name}-tasks", vpc_id, "App tasks: in only from the load balancer", child
        )
        # IPv4 only: the ALB has no IPv6 address (see the module docstring).
        for listen_port in (HTTP_PORT, HTTPS_PORT):
            rule(
                "in",
                f"{name}-alb-in-{listen_port}-ipv4",
                alb_sg.id,
                f"Clients on port {listen_port}",
                child,
                port=listen_port,
                cidr_ipv4="0.0.0.0/0",
            )
        alb_to_tasks, tasks_from_alb = connect(
            (f"{name}-alb-out-tasks", alb_sg.id, "To the app tasks on the container port"),
            (f"{name}-tasks-in-alb", task_sg.id, "From the load balancer on the container port"),
            port,
            child,
        )
        # Out to anywhere: ECR, CloudWatch Logs, Secrets Manager and the app's own upstreams
        # have no fixed addresses. IPv4 only: the VPC has no IPv6 range.
        self.task_egress_rule = rule(  # type: ignore[assignment]
            "out",
            f"{name}-tasks-out",
            task_sg.id,
            "Image pulls, AWS APIs and the app upstreams",
            child,
            cidr_ipv4="0.0.0.0/0",
        )
        self.task_traffic_rules = [alb_to_tasks, tasks_from_alb]
        return alb_sg, task_sg

    def _log_bucket(
        self, name: str, settings: Settings
    ) -> tuple[aws.s3.Bucket, aws.s3.BucketPolicy]:
        child = pulumi.ResourceOptions(parent=self)
        bucket = aws.s3.Bucket(
            f"{name}-access-logs",
            aws.s3.BucketArgs(
                # A production stack keeps its logs when the stack is destroyed: deleting the
                # bucket then fails until someone empties it on purpose.
                force_destroy=not settings.production,
            ),
            opts=child,
        )
        aws.s3.BucketPublicAccessBlock(
            f"{name}-access-logs",
            aws.s3.BucketPublicAccessBlockArgs(
                bucket=bucket.id,
                block_public_acls=True,
                block_public_policy=True,
                ignore_public_acls=True,
                restrict_public_buckets=True,
            ),
            opts=child,
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-access-logs",
            aws.s3.BucketServerSideEncryptionConfigurationInitArgs(
                bucket=bucket.id,
                rules=[
                    aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                        apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                            sse_algorithm="AES256"
                        )
                    )
                ],
            ),
            opts=child,
        )
        region = aws.get_region().region
        account = aws.get_caller_identity().account_id
        if region in ELB_ACCOUNT_REGIONS:
            principal = {"AWS": aws.elb.get_service_account().arn}
        else:
            principal = {"Service": LOG_DELIVERY_PRINCIPAL}
        policy = aws.s3.BucketPolicy(
            f"{name}-access-logs",
            aws.s3.BucketPolicyArgs(
                bucket=bucket.id,
                policy=bucket.arn.apply(lambda arn: access_log_policy(arn, account, principal)),
            ),
            opts=child,
        )
        return bucket, policy


def access_log_policy(bucket_arn: str, account_id: str, principal: dict[str, str]) -> str:
    """The bucket policy: log delivery may write this account's logs; nobody may use plain HTTP."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AlbAccessLogDelivery",
                    "Effect": "Allow",
                    "Principal": principal,
                    "Action": "s3:PutObject",
                    "Resource": f"{bucket_arn}/AWSLogs/{account_id}/*",
                },
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [bucket_arn, f"{bucket_arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ],
        }
    )
