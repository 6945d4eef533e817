#!/bin/bash
# Runs once, after the InfluxDB 2.x image's own setup (DOCKER_INFLUXDB_INIT_MODE=setup) created the org, the
# bucket and the admin token. It creates the hub's other buckets (5-minute and 1-hour aggregates, and `_meta`
# for Grafana's choice of resolution), maps each to the v1 database name with its tier as retention policy
# (raw, m5, h1, forever) so the InfluxQL dashboards and the camera page read them, and gives Grafana a
# read-only v1 account on all four instead of the admin token. The hub then keeps their retention at
# influx.retention's horizons and adds the downsampling tasks (docs/INFLUX.md); it would create anything
# missing here itself, but only this script can grant Grafana read access before Grafana starts.
set -euo pipefail
: "${INFLUX_V1_DB:=ops}"
: "${GRAFANA_INFLUX_PASSWORD:?GRAFANA_INFLUX_PASSWORD must be set (see docker/env.example)}"
org="$DOCKER_INFLUXDB_INIT_ORG"
raw="$DOCKER_INFLUXDB_INIT_BUCKET"

bucket() {  # name, retention → the bucket's id
  influx bucket create --org "$org" --name "$1" --retention "$2" --hide-headers | awk '{print $1}'
}

map() {  # bucket id, retention-policy name, default?
  influx v1 dbrp create --org "$org" --bucket-id "$1" --db "$INFLUX_V1_DB" --rp "$2" ${3:+--default}
}

m5_id=$(bucket "${raw}_5m" 30d)
h1_id=$(bucket "${raw}_1h" 400d)
meta_id=$(bucket "${raw}_meta" 0)

map "$DOCKER_INFLUXDB_INIT_BUCKET_ID" raw default
map "$m5_id" m5
map "$h1_id" h1
map "$meta_id" forever

influx v1 auth create \
  --org "$org" \
  --username grafana \
  --password "$GRAFANA_INFLUX_PASSWORD" \
  --read-bucket "$DOCKER_INFLUXDB_INIT_BUCKET_ID" \
  --read-bucket "$m5_id" \
  --read-bucket "$h1_id" \
  --read-bucket "$meta_id" \
  --description "Grafana (read only)"

# The hub's own tokens: one that writes its buckets and keeps their downsampling tasks (points, the retention
# layout of influx.retention; no other org rights), one that may only read them (the camera page's charts). The admin token stays with the administrator. They go to a volume only the hub mounts besides
# this container (read-only there), readable by the hub's user.
token() {
  influx auth create --org "$DOCKER_INFLUXDB_INIT_ORG" "$@" --json \
    | sed -n 's/^[[:space:]]*"token":[[:space:]]*"\([^"]*\)".*/\1/p'
}
umask 022
token --write-bucket "$DOCKER_INFLUXDB_INIT_BUCKET_ID" --write-bucket "$m5_id" --write-bucket "$h1_id" \
  --write-bucket "$meta_id" --read-bucket "$DOCKER_INFLUXDB_INIT_BUCKET_ID" --read-bucket "$m5_id" \
  --read-bucket "$h1_id" --read-bucket "$meta_id" --read-tasks --write-tasks \
  --description "hub (points and downsampling tasks)" > /var/lib/ops-tokens/hub-write.token
token --read-bucket "$DOCKER_INFLUXDB_INIT_BUCKET_ID" --read-bucket "$m5_id" --read-bucket "$h1_id" \
  --read-bucket "$meta_id" --description "hub (read only)" > /var/lib/ops-tokens/hub-read.token
for f in hub-write hub-read; do
  [ -s "/var/lib/ops-tokens/$f.token" ] || { echo "10-ops-setup: no $f token" >&2; exit 1; }
done
