# MediaNest's container image: the same `medianest` command (serve, worker, scan, user, db...), configured
# only by MEDIANEST_* variables, running as an unprivileged user with its data in /data and media in /media.
#
#   docker build -t medianest .          (or: podman build -t medianest .)
#   docker run -p 8080:8080 -v medianest-data:/data -v /path/to/music:/media:ro medianest
#
# BASE is any Debian-based image with Python >= 3.11; deploy/container-check.sh builds it here on a Debian
# made with debootstrap (no image registry is reachable from the development machines).
ARG BASE=python:3.12-slim-bookworm

FROM ${BASE} AS build
# true: uv trusts the system's certificates (behind a TLS-inspecting proxy whose CA the base trusts).
ARG UV_SYSTEM_CERTS=false
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never UV_SYSTEM_CERTS=${UV_SYSTEM_CERTS}
# uv from PyPI in a venv of its own (Debian's python3 refuses system-wide pip installs, PEP 668).
RUN python3 -m venv /opt/uv && /opt/uv/bin/pip install --no-cache-dir --disable-pip-version-check uv==0.13.9
WORKDIR /app
# Dependencies first, from the lock file alone: this layer is reused until uv.lock changes.
COPY pyproject.toml uv.lock README.md ./
RUN /opt/uv/bin/uv sync --frozen --no-dev --no-install-project
COPY src ./src
RUN /opt/uv/bin/uv sync --frozen --no-dev --no-editable

FROM ${BASE}
# The runtime: the virtual environment (the bundled ffmpeg and deno come inside it) and nothing else.
RUN groupadd --gid 1000 medianest && useradd --uid 1000 --gid medianest --home-dir /data medianest \
    && mkdir -p /data /media && chown medianest:medianest /data /media
COPY --from=build --chown=root:root /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    MEDIANEST_DATA_DIR=/data \
    MEDIANEST_MEDIA_DIRS=/media \
    MEDIANEST_HOST=0.0.0.0 \
    MEDIANEST_PORT=8080 \
    MEDIANEST_LOG_FORMAT=json \
    PYTHONUNBUFFERED=1
USER medianest
VOLUME ["/data", "/media"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('MEDIANEST_PORT', '8080')}/health\", timeout=4)"]
ENTRYPOINT ["medianest"]
CMD ["serve"]
