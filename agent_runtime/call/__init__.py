"""One call from first word to call report: the runner, the agent and its policies."""
