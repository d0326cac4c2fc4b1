"""One module per ``agent-runtime`` sub-command."""
