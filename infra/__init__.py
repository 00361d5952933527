"""Infrastructure, the bottom layer: models, the database, settings, the clock, logs, the
Flask context accessors. It imports the pure core (scheduler/) and nothing above it
(docs/architecture.md)."""
