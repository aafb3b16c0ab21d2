"""An AWS WAF web ACL in front of the load balancer (``loadBalancer.waf``; on in production).

``WebFirewall`` creates a REGIONAL ``aws.wafv2.WebAcl`` and its association with the load
balancer. Requests pass unless a rule blocks them; the rules, in the order WAF runs them:

1. ``rate-limit-per-ip``: an address that sends more than ``loadBalancer.rateLimit`` requests in
   any 5 minutes is blocked until its rate falls below the limit again (WAF's rate-based rule,
   aggregated by source IP: the load balancer's client, since WAF sits in front of it);
2. ``aws-common``: AWS's managed core rule set (``AWSManagedRulesCommonRuleSet``: OWASP-style
   cross-site scripting, local and remote file inclusion, bad user agents, oversized parts);
3. ``aws-known-bad-inputs``: ``AWSManagedRulesKnownBadInputsRuleSet`` (Log4j/Spring4Shell
   patterns, Java deserialization, localhost Host headers).

Both rule groups are free AWS managed rule groups (no subscription); together they use 900 of
the 1,500 WCUs a web ACL gets at its base price (AWS WAF developer guide, "AWS Managed Rules
rule groups list": CRS 700, known bad inputs 200; a rate-based rule 2).

The core rule set's ``SizeRestrictions_BODY`` blocks any body larger than 8 KB. The app
already refuses bodies above ``service.maxBodyBytes`` (1 MiB by default) with a 413, so with a
larger limit that one rule only counts (it is still seen in the metrics); with a limit of 8 KB
or less it blocks, as AWS ships it.

Cost (us-east-1, March 2026, aws.amazon.com/waf/pricing): 5 USD a month per web ACL, 1 USD a
month per rule or rule group (3 here), 0.60 USD per million requests; the offline plan adds the
first two (``plan/cost.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.settings import Settings

# The core rule set inspects the first 8 KB of an ALB request's body and its
# SizeRestrictions_BODY rule blocks anything larger (AWS WAF developer guide, "Core rule set
# (CRS) managed rule group").
BODY_INSPECTION_LIMIT = 8192
# Seconds of the window the rate is counted in: 300 is WAF's default (60, 120, 300 or 600).
RATE_WINDOW_SECONDS = 300
MANAGED_RULE_GROUPS = (
    ("aws-common", "AWSManagedRulesCommonRuleSet"),
    ("aws-known-bad-inputs", "AWSManagedRulesKnownBadInputsRuleSet"),
)


def _visibility(metric: str) -> aws.wafv2.WebAclRuleVisibilityConfigArgs:
    return aws.wafv2.WebAclRuleVisibilityConfigArgs(
        cloudwatch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )


def web_acl_rules(settings: Settings) -> list[aws.wafv2.WebAclRuleArgs]:
    """The rate limit, then AWS's two managed rule groups; see the module docstring."""
    rules = [
        aws.wafv2.WebAclRuleArgs(
            name="rate-limit-per-ip",
            priority=0,
            action=aws.wafv2.WebAclRuleActionArgs(block=aws.wafv2.WebAclRuleActionBlockArgs()),
            statement=aws.wafv2.WebAclRuleStatementArgs(
                rate_based_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementArgs(
                    limit=settings.load_balancer.rate_limit,
                    aggregate_key_type="IP",
                    evaluation_window_sec=RATE_WINDOW_SECONDS,
                )
            ),
            visibility_config=_visibility("rate-limit-per-ip"),
        )
    ]
    for priority, (rule_name, group) in enumerate(MANAGED_RULE_GROUPS, start=1):
        overrides = []
        if group == "AWSManagedRulesCommonRuleSet" and (
            settings.service.max_body_bytes > BODY_INSPECTION_LIMIT
        ):
            overrides.append(
                aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideArgs(
                    name="SizeRestrictions_BODY",
                    action_to_use=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseArgs(
                        count=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseCountArgs()
                    ),
                )
            )
        rules.append(
            aws.wafv2.WebAclRuleArgs(
                name=rule_name,
                priority=priority,
                # The group's own actions apply (block); "none" overrides nothing.
                override_action=aws.wafv2.WebAclRuleOverrideActionArgs(
                    none=aws.wafv2.WebAclRuleOverrideActionNoneArgs()
                ),
                statement=aws.wafv2.WebAclRuleStatementArgs(
                    managed_rule_group_statement=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgs(
                        name=group, vendor_name="AWS", rule_action_overrides=overrides or None
                    )
                ),
                visibility_config=_visibility(rule_name),
            )
        )
    return rules


@dataclass(frozen=True)
class WebFirewallArgs:
    settings: Settings
    load_balancer_arn: pulumi.Input[str]


class WebFirewall(pulumi.ComponentResource):
    """The web ACL and its association with the load balancer; see the module docstring."""

    web_acl_arn: pulumi.Output[str]

    def __init__(
        self, name: str, args: WebFirewallArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("fastapi-fargate:waf:WebFirewall", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        acl = aws.wafv2.WebAcl(
            f"{name}-acl",
            aws.wafv2.WebAclArgs(
                scope="REGIONAL",
                description="Load balancer of the app: AWS managed rules, a per-IP rate limit",
                default_action=aws.wafv2.WebAclDefaultActionArgs(
                    allow=aws.wafv2.WebAclDefaultActionAllowArgs()
                ),
                rules=web_acl_rules(args.settings),
                visibility_config=aws.wafv2.WebAclVisibilityConfigArgs(
                    cloudwatch_metrics_enabled=True,
                    metric_name=f"{pulumi.get_project()}-{pulumi.get_stack()}-waf",
                    sampled_requests_enabled=True,
                ),
            ),
            child,
        )
        aws.wafv2.WebAclAssociation(
            f"{name}-association",
            aws.wafv2.WebAclAssociationArgs(
                resource_arn=args.load_balancer_arn, web_acl_arn=acl.arn
            ),
            child,
        )
        self.web_acl_arn = acl.arn
        self.register_outputs({"web_acl_arn": self.web_acl_arn})
