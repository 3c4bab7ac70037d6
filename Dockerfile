# The Zupy coupon API: gunicorn serving Django, static files by WhiteNoise, no state in the container.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN useradd --system --uid 10001 --home-dir /app zupy

COPY pyproject.toml README.md manage.py gunicorn.conf.py ./
COPY zupy zupy
COPY customers customers
COPY rewards rewards
COPY coupons coupons
COPY otp otp
RUN pip install .
# The settings refuse to start without a SECRET_KEY when DEBUG is off; this one only builds assets.
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput -v 0

USER zupy
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"
# Workers, threads and the rest: gunicorn.conf.py, from WEB_CONCURRENCY and GUNICORN_THREADS.
CMD ["gunicorn", "zupy.wsgi:application"]
