"""Call guards: one small unit per way a call is ended or steered.

Each guard waits for its condition (the caller hung up, the time is up, the session failed...)
and returns the ``Ending`` it calls for; the runner composes them and carries endings out.
"""
