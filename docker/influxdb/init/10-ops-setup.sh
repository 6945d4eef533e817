#!/bin/bash
# Runs once, after the InfluxDB 2.x image's own setup (DOCKER_INFLUXDB_INIT_MODE=setup) created the org, the
# bucket and the admin token. It maps the v1 database name to the bucket (DBRP) so InfluxQL dashboards work, and
# gives Grafana a read-only v1 account instead of the admin token.
set -euo pipefail
: "${INFLUX_V1_DB:=ops}"
: "${GRAFANA_INFLUX_PASSWORD:?GRAFANA_INFLUX_PASSWORD must be set (see docker/env.example)}"

influx v1 dbrp create \
  --org "$DOCKER_INFLUXDB_INIT_ORG" \
  --bucket-id "$DOCKER_INFLUXDB_INIT_BUCKET_ID" \
  --db "$INFLUX_V1_DB" \
  --rp autogen \
  --default

influx v1 auth create \
  --org "$DOCKER_INFLUXDB_INIT_ORG" \
  --username grafana \
  --password "$GRAFANA_INFLUX_PASSWORD" \
  --read-bucket "$DOCKER_INFLUXDB_INIT_BUCKET_ID" \
  --description "Grafana (read only)"

# The hub's own tokens: one that may only write the bucket (its points), one that may only read it (the camera
# page's charts). The admin token stays with the administrator. They go to a volume only the hub mounts besides
# this container (read-only there), readable by the hub's user.
token() {
  influx auth create --org "$DOCKER_INFLUXDB_INIT_ORG" "$@" --json \
    | sed -n 's/^[[:space:]]*"token":[[:space:]]*"\([^"]*\)".*/\1/p'
}
umask 022
token --write-bucket "$DOCKER_INFLUXDB_INIT_BUCKET_ID" --description "hub (write only)" > /var/lib/ops-tokens/hub-write.token
token --read-bucket "$DOCKER_INFLUXDB_INIT_BUCKET_ID" --description "hub (read only)" > /var/lib/ops-tokens/hub-read.token
for f in hub-write hub-read; do
  [ -s "/var/lib/ops-tokens/$f.token" ] || { echo "10-ops-setup: no $f token" >&2; exit 1; }
done
