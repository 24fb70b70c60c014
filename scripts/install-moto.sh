#!/usr/bin/env bash
# Installs moto's server (the local AWS emulator the rehearsal-aws tests run against) into .venv
# at the repository root. Idempotent: returns at once when the pinned version is already there.
set -euo pipefail

MOTO_VERSION=5.2.5

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"

installed_version() {
    "$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null || true
}

if [[ -x "$venv/bin/moto_server" && "$(installed_version)" == "$MOTO_VERSION" ]]; then
    echo "moto $MOTO_VERSION is already installed in $venv"
    exit 0
fi

if [[ ! -x "$venv/bin/python" ]]; then
    "${PYTHON:-python3}" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
echo "installed moto $(installed_version) in $venv ($venv/bin/moto_server)"
