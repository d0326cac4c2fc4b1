"""Telephony ports: call control on the phone line (LiveKit SIP)."""
