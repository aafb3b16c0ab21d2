"""The policy pack's entry point: serves the guardrails to the Pulumi engine.

``PolicyPack`` starts a gRPC server and never returns, so nothing else lives here: the policies
are in the importable package ``guardrails``, where the tests call them directly. The engine
runs this file with this directory on ``sys.path``.
"""

from guardrails import PACK_NAME, POLICIES
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name=PACK_NAME,
    policies=POLICIES,
    # Every policy sets its own level; a new one without a level blocks until decided.
    enforcement_level=EnforcementLevel.MANDATORY,
)
