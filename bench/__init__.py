"""The benchmark: the API under gunicorn against PostgreSQL's own ceiling (pgbench). See README."""
