# The worker image: slim, non-root, everything installed at build time. The offline VAD and
# end-of-turn model ship inside the livekit-local-inference wheel, so nothing is downloaded when
# a call starts.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 agent
WORKDIR /app

COPY pyproject.toml README.md ./
COPY agent_runtime ./agent_runtime
COPY plugins ./plugins
COPY audio ./audio
RUN pip install . \
    && python -c "from livekit.local_inference import init_eot, init_vad; init_vad(); init_eot()"

USER agent
WORKDIR /home/agent
ENV AGENT_REPORT_DIR=/home/agent/reports
# LiveKit health checks reach the worker on this port.
EXPOSE 8081
CMD ["agent-runtime", "start"]
