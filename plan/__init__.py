"""The offline plan: render, describe, diff and cost a stack without cloud credentials.

``python -m plan STACK`` runs ``__main__.py`` under the Pulumi SDK's mocks with the config of
``Pulumi.STACK.yaml`` (merged with ``Pulumi.yaml`` as the Pulumi CLI merges it) and prints what the program would create, with every value AWS would
compute shown as "known after apply". See ``plan.cli`` for the command line; each module does
one part:

* ``render``: the mock monitor and mock AWS answers (shared with the tests);
* ``stackfile``: reading ``Pulumi.yaml`` and a stack file, encrypted values included;
* ``engine_config``: the Pulumi CLI's config merge, ported: what the program gets from a stack;
* ``convert_stack``: rewrites an old stack file's flat settings into structured objects;
* ``placeholders``: mocks that remember their made-up values, and the swap for labels;
* ``document``: the plan as a plain, ordered, JSON-ready document, secrets masked;
* ``regions``: the AWS regions botocore knows, to refuse a stack's unknown region;
* ``policies``: the policy pack (``policy/``) run in-process, as ``pulumi preview`` runs it;
* ``describe``: the plan as text and Markdown;
* ``provider_rules``: the AWS provider's diff rules, ported and cited: what ``pulumi up`` asks
  AWS to do with each changed resource (nothing, update, replace, refused);
* ``changes``: the shape of a diff, shared by ``diff`` and ``motion``;
* ``diff``: what changed between two plans, as text, Markdown or JSON;
* ``motion``: what a change sets in motion (revision, migration, rollout), what it replaces
  and what it will not do on AWS;
* ``cost``: an estimated monthly cost from the dated price table ``prices.json``;
* ``rollout``: how long a rollout takes, step by step, next to AWS's defaults;
* ``mermaid``: the components and what waits for what, as a Mermaid flowchart;
* ``base``: the plan of the program at another git revision, in a temporary worktree.
"""
