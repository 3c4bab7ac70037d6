# The Zupy coupon API: gunicorn serving Django, static files by WhiteNoise, no state in the container.
# tests/test_image.py replays this file without Docker (COPY honouring .dockerignore, pip install, RUN,
# migrate, CMD, HEALTHCHECK): it supports FROM ENV WORKDIR RUN COPY USER EXPOSE HEALTHCHECK CMD only.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN useradd --system --uid 10001 --home-dir /app zupy

# The whole build context minus .dockerignore: a new app is in the image without an edit here.
COPY . .
RUN pip install .
# The settings refuse to start without a SECRET_KEY when DEBUG is off; this one only builds assets.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput -v 0

USER zupy
EXPOSE 8000
# core.probe asks gunicorn's own address (GUNICORN_BIND) for /healthz; the worker services override this.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 CMD ["python", "-m", "core.probe", "/healthz"]
# Workers, threads, limits: gunicorn.conf.py, from WEB_CONCURRENCY, GUNICORN_THREADS and GUNICORN_BIND.
CMD ["gunicorn", "zupy.wsgi:application"]
