#!/usr/bin/env bash
# The pinned cargo-lambda, with zig (its linker), in .venv: `cargo lambda` and SAM's
# rust-cargolambda builder find both with .venv/bin on PATH.
exec "$(dirname "${BASH_SOURCE[0]}")/pip-pinned" .venv cargo-lambda 1.9.2
