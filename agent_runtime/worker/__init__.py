"""The LiveKit worker: one job per phone call.

- ``settings``: what the worker reads from its environment.
- ``job``: a job's call from start to report (``run_call_job``), whatever its media.
- ``room``: the production line: the room's SIP participant and its audio.
- ``server``: the agent server, its process warm-up and the job entrypoint.
- ``agent_server``: the framework's agent server with readiness (``/ready``), a registration
  deadline and its failure kept for the exit code.
- ``startup``: the checks made before the worker registers, and the exit codes.
"""
