"""Replay mode: play a recorded call through the runtime, with no network and no keys."""
