"""Notes API: the FastAPI service deployed to ECS Fargate.

Keep this file free of imports: ``python -m api.healthcheck`` runs every few seconds in
the container and must not pay for importing FastAPI or SQLAlchemy.
"""
