#!/bin/sh
# One-shot setup of a deployment: docker-compose.yml's `init` service runs it as root before the broker and the
# web proxy start. Idempotent: what exists is kept (the CA, certificates, the broker's account file).
#  - the deployment's CA and the certificates of the broker and the web proxy (`python -m hub ca`);
#  - the broker's dynamic-security file with the hub's administrative account and its own account
#    (`python -m hub broker init`); their passwords go to 0600 files under /data/secrets, never to the env;
#  - each file handed to the service that reads it, owned by that service's user.
set -eu
umask 077
: "${MQTT_PUBLIC_HOST:?MQTT_PUBLIC_HOST must be set (see docker/env.example)}"
: "${HUB_PUBLIC_HOST:?HUB_PUBLIC_HOST must be set (see docker/env.example)}"
hub() { python -m hub --config /etc/ops/hub.yaml "$@"; }

hub ca init --name "commune-ops CA"
[ -f /data/ca/issued/broker.crt ] || hub ca issue-server --name mosquitto --name "$MQTT_PUBLIC_HOST" --file-name broker
[ -f /data/ca/issued/web.crt ] || hub ca issue-server --name "$HUB_PUBLIC_HOST" --name hub --file-name web
hub broker init --hub main --password-file /data/secrets/hub.main.password

cp /data/ca/issued/broker.crt /data/ca/issued/broker.key /data/ca/ca.crt /broker/
chown -R 1883:1883 /broker          # the mosquitto user of the eclipse-mosquitto image
cp /data/ca/issued/web.crt /data/ca/issued/web.key /web-certs/
chown -R 10001:10001 /data          # the ops user of docker/app.Dockerfile
echo "init: CA, certificates and broker accounts ready"
