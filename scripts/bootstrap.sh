#!/usr/bin/env bash
# Prepare this machine for `make demo` / `make test`: Debian packages, then .venv with the project installed.
#
# Idempotent and quick when everything is there: packages are checked with dpkg-query (apt only runs when
# something is missing) and pip only runs when pyproject.toml or requirements-dev.lock changed since the last
# successful install. Python packages come exactly as locked (versions and hashes, requirements-dev.lock).
#
#   scripts/bootstrap.sh           install what is missing
#   scripts/bootstrap.sh --check   only report what is missing (exit 1 if anything is), change nothing
#
# Environment: VENV (default .venv), BOOTSTRAP_EXTRA_PACKAGES (more Debian packages, space separated).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
VENV=${VENV:-.venv}
# The venv must come from Debian's interpreter: GStreamer's Python bindings (camera simulator) and the
# packaged libraries belong to it, not to a pyenv/conda python that may be first on PATH.
SYSTEM_PYTHON=/usr/bin/python3
STAMP="$VENV/.bootstrap-stamp"
LOCK=requirements-dev.lock

# What each package is for, so a failing install can be judged: services (mosquitto, influxdb), media
# (ffmpeg, GStreamer RTSP server for the camera simulator), browser tests (chromium + fonts that carry
# Vietnamese diacritics: DejaVu covers Latin Extended Additional), audio tools for broadcasts.
PACKAGES=(
  mosquitto mosquitto-clients influxdb ffmpeg
  python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-ugly gstreamer1.0-rtsp gstreamer1.0-tools
  chromium fonts-dejavu-core
  python3-venv espeak-ng sox
  poppler-utils
  postgresql
  faketime  # the receiver-clock drill runs a receiver on a shifted clock (devtools/drills)
  snapserver snapclient
  make git
)
# shellcheck disable=SC2206
PACKAGES+=(${BOOTSTRAP_EXTRA_PACKAGES:-})

CHECK_ONLY=0
case "${1:-}" in
  --check) CHECK_ONLY=1 ;;
  "") ;;
  -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
  *) echo "bootstrap: unknown option '$1' (use --check or nothing)" >&2; exit 2 ;;
esac

say() { printf 'bootstrap: %s\n' "$*"; }
die() { printf 'bootstrap: ERROR: %s\n' "$*" >&2; exit 1; }

if ! command -v dpkg-query >/dev/null 2>&1; then
  die "dpkg-query not found: this script expects Debian 12 (bookworm). Install the equivalents of: ${PACKAGES[*]}"
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

venv_problem=""
if [[ ! -x "$VENV/bin/python" ]]; then
  venv_problem="$VENV does not exist"
elif ! grep -qx 'home = /usr/bin' "$VENV/pyvenv.cfg" 2>/dev/null; then
  venv_problem="$VENV was not made from $SYSTEM_PYTHON ($(grep '^home' "$VENV/pyvenv.cfg" 2>/dev/null || echo 'no pyvenv.cfg'))"
fi
want_stamp=$( { sha256sum pyproject.toml "$LOCK" | cut -d' ' -f1; echo "locked compat"; } | sha256sum | cut -d' ' -f1)
have_stamp=$(cat "$STAMP" 2>/dev/null || true)

if (( CHECK_ONLY )); then
  rc=0
  if (( ${#missing[@]} )); then say "missing Debian packages: ${missing[*]}"; rc=1; fi
  if [[ -n "$venv_problem" ]]; then say "$venv_problem"; rc=1
  elif [[ "$want_stamp" != "$have_stamp" ]]; then say "$VENV needs the project (re)installed: pyproject.toml or $LOCK changed"; rc=1; fi
  (( rc )) || say "everything is in place"
  exit "$rc"
fi

if (( ${#missing[@]} )); then
  if [[ $(id -u) -eq 0 ]]; then
    SUDO=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    cat >&2 <<MSG
bootstrap: these Debian packages are missing: ${missing[*]}
bootstrap: installing them needs root, and this user ($(id -un)) is not root and has no password-less sudo.
bootstrap: ask an administrator to run, then run this script again:
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}
MSG
    exit 1
  fi
  say "installing Debian packages: ${missing[*]}"
  # Installing mosquitto/influxdb may start their system services on 1883/8086 where systemd runs; the demo
  # and tests never use those: they start their own instances with their own configs on other ports.
  "${SUDO[@]}" apt-get update -q
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

[[ -x "$SYSTEM_PYTHON" ]] || die "$SYSTEM_PYTHON not found (Debian package python3)"

if [[ -n "$venv_problem" ]]; then
  if [[ -e "$VENV" ]]; then
    say "$venv_problem: recreating it"
    rm -rf "$VENV"
  fi
  say "creating $VENV with $SYSTEM_PYTHON"
  "$SYSTEM_PYTHON" -m venv "$VENV"
  # Debian's bundled pip is old; a current one resolves faster and handles editable config settings well.
  "$VENV/bin/python" -m pip install -q --upgrade pip || say "could not upgrade pip; going on with $("$VENV/bin/pip" --version)"
  have_stamp=""
fi

if [[ "$want_stamp" != "$have_stamp" ]]; then
  say "installing the locked dependencies ($LOCK) and the project into $VENV (editable, compat mode)"
  "$VENV/bin/python" -m pip install -q --require-hashes -r "$LOCK"
  # Compat mode puts the repository root on sys.path, so new top-level modules import without reinstalling.
  "$VENV/bin/python" -m pip install -q --no-deps -e . --config-settings editable_mode=compat
  echo "$want_stamp" > "$STAMP"
else
  say "$VENV is up to date"
fi

say "ready ($ROOT)"
