"""Who answered an outbound call: a person, a voicemail, a phone menu or a call screener."""
