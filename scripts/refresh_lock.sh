#!/usr/bin/env bash
# Refresh requirements.lock: the newest versions that pyproject.toml allows, resolved in a fresh virtual
# environment, written as pip constraints (one pinned line per package). Then run `bash .ci/run`, which
# installs with the new lock and runs the tests, and commit the lock only if it passes.
# Schedule: the first working day of each quarter, and whenever a dependency's release is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet --upgrade pip
"$tmp/venv/bin/pip" install --quiet -e ".[dev]"  # no -c: resolve afresh within pyproject.toml's ranges
{
    echo "# Versions tested by .ci/run; installed with: pip install -c requirements.lock -e \".[dev]\""
    echo "# Resolved with $("$tmp/venv/bin/python" -V) on $(date -u +%Y-%m-%d) by scripts/refresh_lock.sh; do not edit by hand."
    "$tmp/venv/bin/pip" freeze --exclude-editable | grep -v '^hmsim'
} > requirements.lock.new
mv requirements.lock.new requirements.lock
echo "wrote requirements.lock ($(grep -vc '^#' requirements.lock) packages); now run: bash .ci/run"
