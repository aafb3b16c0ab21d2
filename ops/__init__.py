"""Operate a deployed stack from the terminal: ``python -m ops STACK status|logs|exec|events``.

Reads the stack's outputs (``pulumi stack output --json`` or a saved copy) and asks AWS with
boto3, in the stack's region and with the caller's credentials. Creates nothing; ``exec`` opens
an ECS Exec session, which ECS logs like any other.
"""
