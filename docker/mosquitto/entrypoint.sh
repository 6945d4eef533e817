#!/bin/sh
# Build Mosquitto's password file from the environment at every start, so no password (not even a hash)
# lives in the repository. HUB_MQTT_PASSWORD: the hub's account. EDGE_ACCOUNTS: "name:password name:password"
# for edge boxes and loudspeaker receivers (names are their ids in the topics; see acl).
set -eu
umask 077
: "${HUB_MQTT_PASSWORD:?HUB_MQTT_PASSWORD must be set (see docker/env.example)}"
mkdir -p /mosquitto/run
passwd=/mosquitto/run/passwd
: > "$passwd"
mosquitto_passwd -b "$passwd" hub "$HUB_MQTT_PASSWORD"
for pair in ${EDGE_ACCOUNTS:-}; do
  name=${pair%%:*}
  secret=${pair#*:}
  if [ -z "$name" ] || [ "$name" = "$pair" ] || [ -z "$secret" ]; then
    echo "EDGE_ACCOUNTS: entry '$name' is not name:password" >&2
    exit 1
  fi
  mosquitto_passwd -b "$passwd" "$name" "$secret"
done
# Mosquitto drops root privileges to its own user, which must read the password file and write its data.
if [ "$(id -u)" = 0 ]; then
  chown -R mosquitto:mosquitto /mosquitto/run /mosquitto/data
fi
exec /usr/sbin/mosquitto -c /mosquitto/config/mosquitto.conf
