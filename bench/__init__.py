"""Benchmarks that print figures (``make bench``). Never timed assertions: see bench/README.md."""
