#!/usr/bin/env bash
# moto's server (the local AWS emulator the adapter, API and end-to-end tests run against), in
# .venv: .venv/bin/moto_server.
exec "$(dirname "${BASH_SOURCE[0]}")/pip-pinned" .venv moto 5.2.5 '[server]'
