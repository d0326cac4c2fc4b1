"""The call report: one ``call_attempts[]`` item of the API, plus the runtime's own section."""
