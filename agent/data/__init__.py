"""Data files shipped with the agent (prompt-injection payloads for robustness tests)."""
