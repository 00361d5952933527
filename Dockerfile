# syntax=docker/dockerfile:1
# The callback scheduler's image: one image for every role (web, worker, migrate), run as
# a non-root user. docs/deployment.md shows it in compose.yaml; deploy/container/README.md
# how it was verified.
#
#   docker build -t callbacks .
#   docker run --rm -p 8000:8000 callbacks              # web, SQLite in the volume, simulator
#   docker run --rm callbacks worker                    # the worker
#   docker run --rm callbacks migrate                   # migrations (init-db), then exit
#
# Debian's own Python (bookworm: 3.11), so that the base is one image everyone mirrors.
ARG BASE=debian:bookworm-slim

# Stage 1: the virtualenv, from the hashed lock (pip refuses anything not in it).
FROM ${BASE} AS build
# Only for a build behind a mirror or a TLS-inspecting proxy (pip reads them from the
# environment); unset, pip asks PyPI and checks the hashes either way:
#   --build-arg PIP_INDEX_URL=https://mirror/simple
#   --build-arg PIP_CERT=/run/ca.crt -v /path/to/ca-bundle.crt:/run/ca.crt:ro   (podman)
ARG PIP_INDEX_URL
ARG PIP_CERT
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
COPY requirements.txt /tmp/requirements.txt
RUN python3 -m venv /opt/callbacks/venv \
 && /opt/callbacks/venv/bin/pip install --no-cache-dir --disable-pip-version-check --require-hashes \
      -r /tmp/requirements.txt \
 && find /opt/callbacks/venv -name __pycache__ -prune -exec rm -rf {} +

# Stage 2: the runtime: Python, time zones, CA certificates, the venv and the code; no
# compiler, no pip cache, no tests.
FROM ${BASE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 tzdata ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 callbacks \
 && useradd --system --uid 10001 --gid callbacks --home-dir /var/lib/callbacks --create-home \
      --shell /usr/sbin/nologin callbacks
COPY --from=build /opt/callbacks/venv /opt/callbacks/venv
WORKDIR /opt/callbacks/app
COPY --chown=root:root . .
RUN chmod 0755 deploy/container/entrypoint.sh \
 && /opt/callbacks/venv/bin/python -m compileall -q app infra services console events ivr_flows scheduler sms telephony web_widget
ENV PATH=/opt/callbacks/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    INSTANCE_PATH=/var/lib/callbacks \
    PORT=8000
USER callbacks:callbacks
VOLUME ["/var/lib/callbacks"]
EXPOSE 8000
# The web's /healthz (this process answers); the worker's service overrides it with its
# own /healthz on WORKER_METRICS_PORT (compose.yaml).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "deploy/container/healthcheck.py"]
ENTRYPOINT ["deploy/container/entrypoint.sh"]
CMD ["web"]
