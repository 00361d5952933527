"""The entry points: the application factory (factory.py), the CLI and the worker; and,
until they move to their own packages, services (docs/architecture.md)."""
