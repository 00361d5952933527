"""Services, the middle layer: one module per use case, each owning its transaction. Used by
the entry points; imports the adapters, infrastructure and the core (docs/architecture.md)."""
