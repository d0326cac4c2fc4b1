"""Realtime voice-agent runtime for phone calls.

The package is import-light on purpose: importing it never loads livekit or a model.
"""

__version__ = "0.1.0"
