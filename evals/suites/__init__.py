"""Built-in evaluation suites (package data): smoke.yaml, full.yaml."""
