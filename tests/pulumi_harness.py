"""The tests' name for the mock renderer, which lives in ``plan.render`` (the offline plan uses it too).

Every test of the infrastructure goes through ``render``: it runs the whole ``__main__.py`` (or
one function) under the SDK's mocks and returns every registered resource with its inputs,
parent, dependencies and options, plus the stack outputs. See ``plan.render`` for the details.
"""

from plan.render import (
    ACCOUNT,
    PROJECT,
    REGION,
    ROOT,
    ZONE_ID,
    AwsMocks,
    RecordingMonitor,
    Rendered,
    Resource,
    render,
    stack_config,
)

__all__ = [
    "ACCOUNT",
    "PROJECT",
    "REGION",
    "ROOT",
    "ZONE_ID",
    "AwsMocks",
    "RecordingMonitor",
    "Rendered",
    "Resource",
    "render",
    "stack_config",
]
