"""Voice flows: what callers hear and can press, as provider-neutral scripts."""
