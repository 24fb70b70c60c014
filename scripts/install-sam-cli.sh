#!/usr/bin/env bash
# The pinned SAM CLI, in .venv/sam: an environment of its own, because it pins boto3 differently
# from checkov (in .venv).
exec "$(dirname "${BASH_SOURCE[0]}")/pip-pinned" .venv/sam aws-sam-cli 1.170.0
