"""How a fleet watches the runtime: Prometheus metrics, OpenTelemetry traces, log fields.

``metrics`` counts calls from their reports, ``collectors`` and ``server`` serve them (and the
outbox and process figures read at scrape time), ``traces`` sets up the framework's tracer, and
``call`` ties them and the log fields (``agent_runtime.log``) to one call.
"""
