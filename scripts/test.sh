#!/usr/bin/env bash
# The README's test command: installs the servers and tools the tests run against when this machine lacks
# them (Debian packages; root or sudo), then runs every test of the workspace.
#
# Building needs no system package (serialport without libudev, SQLite and libdbus compiled in). The tests
# start their own servers from these packages:
#   postgresql               the provisioning ledger's PostgreSQL tests (tests/support/postgres.rs)
#   mosquitto(-clients)      the MQTT tests' broker and its mosquitto_sub/mosquitto_pub peers
#   dbus, python3-dbusmock   a BlueZ stand-in on a private D-Bus for the BLE tests (tests/support/ble_mock.py)
#   aiocoap, cbor2 (PyPI)    the CoAP tests' server (tests/support/coap_server.py), for the `python3` on PATH
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1; }
missing=()
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
[ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
need mosquitto_sub || missing+=(mosquitto-clients)
need dbus-daemon || missing+=(dbus)
/usr/bin/python3 -c 'import dbusmock' 2>/dev/null || missing+=(python3-dbusmock)
python3 -c 'import aiocoap, cbor2' 2>/dev/null || python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing ${missing[*]} (servers and tools the tests run against)"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update
  $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi

if ! python3 -c 'import aiocoap, cbor2' 2>/dev/null; then
  echo "== installing aiocoap and cbor2 (the CoAP tests' server)"
  pip=(python3 -m pip install --quiet --disable-pip-version-check aiocoap==0.4.14 cbor2==6.3.0)
  # Debian's own python3 refuses pip installs outside a virtual environment unless told (PEP 668).
  "${pip[@]}" 2>/dev/null || "${pip[@]}" --break-system-packages
fi

cargo test --workspace --locked
