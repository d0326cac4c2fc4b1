"""Audio in and out of a call: the ports the runner talks to and the paced output stream."""
