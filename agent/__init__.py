"""trustrec agent: LLM backends, prompts, tools, the agent graph and the public API."""
