#!/bin/sh
# Patroni's post_bootstrap hook: runs once, on the node that initialised the cluster, with a
# connection string to it as $1. Creates the application's role and database.
set -eu
psql "$1" -v ON_ERROR_STOP=1 -v password="$ZUPY_DB_PASSWORD" <<'SQL'
CREATE ROLE zupy LOGIN PASSWORD :'password';
CREATE DATABASE zupy OWNER zupy;
SQL
