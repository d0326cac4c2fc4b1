"""After the call: extracted data, outcome, follow-ups and deliveries that are never lost."""
