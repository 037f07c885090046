#!/usr/bin/env bash
# Installs every Debian 12 package pfo3 needs to build, test and run (needs root or sudo).
# Skips apt entirely when everything is already there, so re-runs are fast and offline.
set -euo pipefail
packages=(build-essential cmake ninja-build pkg-config
          libboost-dev librabbitmq-dev rapidjson-dev libcli11-dev catch2 libtomlplusplus-dev
          libpq-dev libcurl4-openssl-dev libssl-dev libsystemd-dev
          libsqlite3-dev sqlite3
          rabbitmq-server amqp-tools postgresql
          python3-celery python3-pika python3-pytest systemd graphviz netcat-openbsd
          gnuplot-nox prometheus chromium
          dpkg-dev file man-db
          clang libclang-rt-14-dev)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The S3 test server (test/services/s3.sh) needs Node.js >= 20 and npm. Machine images bring
# NodeSource's nodejs 20 (npm included); Debian's own nodejs is 18 and s3.sh says if too old.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    missing+=(nodejs npm)
fi
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#packages[@]} packages already installed"
    exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "install-deps: installing ${missing[*]}"
# apt on these machines must not try to start services (there is no systemd): policy-rc.d
# makes that explicit instead of relying on invoke-rc.d failing.
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" > /tmp/pfo3-apt.log 2>&1 || {
    tail -n 30 /tmp/pfo3-apt.log >&2
    exit 1
}
echo "install-deps: done"
