"""Turn-taking: when the caller's turn is over, backchannels, and a caller gone silent.

``decision`` weighs the caller's words (``words``), what the agent asked (``expectation``),
the caller's own pauses (``rhythm``) and the audio model's probability into an endpointing
delay; ``detector`` plugs that into the framework as its turn detector.
"""
