# The worker image: slim, non-root, everything installed at build time. The offline VAD and
# end-of-turn model ship inside the livekit-local-inference wheel, so nothing is downloaded when
# a call starts. Checked by tests/test_deploy.py (hadolint, the image's rules, and its install
# step run into a fresh virtual environment). Kubernetes manifests: deploy/kubernetes/.
#
# The base image is pinned to a patch release; pin its digest too where builds must be
# reproducible (python:3.11.14-slim-bookworm@sha256:...).
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# Build the runtime's wheel (the sources are copied before the step that builds them).
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY agent_runtime ./agent_runtime
COPY plugins ./plugins
COPY audio ./audio
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

# The image: the wheel and its dependencies in a virtual environment, owned by root, run as a
# user without a shell login or write access to it.
FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/agent-runtime/bin:$PATH

# espeak-ng: the last-resort voice when every provider voice fails (TTS_LAST_RESORT).
RUN apt-get update \
    && apt-get install -y --no-install-recommends espeak-ng=1.51+dfsg-10+deb12u2 \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --gid 10001 agent \
    && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin agent \
    && mkdir /data \
    && chown 10001:10001 /data

COPY --from=build /wheels /wheels
RUN python -m venv /opt/agent-runtime \
    && /opt/agent-runtime/bin/pip install --no-cache-dir /wheels/*.whl \
    && rm -rf /wheels \
    && /opt/agent-runtime/bin/python -c "from livekit.local_inference import init_eot, init_vad; init_vad(); init_eot()"

USER 10001:10001
WORKDIR /home/agent
# Reports, recordings, journals and the outbox: mount a volume here (deploy/kubernetes/).
ENV AGENT_REPORT_DIR=/data/reports \
    AGENT_CLIP_CACHE_DIR=/data/clips
# The framework's health check: / (alive) and /ready (registered, able to take a call).
EXPOSE 8081
# Kubernetes ignores HEALTHCHECK and uses the probes of deploy/kubernetes/deployment.yaml.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8081/', timeout=4)"]
# SIGTERM drains: no new call, the calls in progress end on their own (up to --drain-timeout).
STOPSIGNAL SIGTERM
CMD ["agent-runtime", "start"]
