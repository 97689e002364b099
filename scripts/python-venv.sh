#!/usr/bin/env bash
# Create the virtualenv with Python >= 3.11, installing Debian's python3-venv when it is missing.
set -euo pipefail
venv="${1:-.venv}"
[ -x "$venv/bin/python" ] && exit 0
py="$(command -v python3.11 || command -v python3)"
"$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || {
  echo "error: Python >= 3.11 is required ($py is $("$py" --version))" >&2; exit 1; }
if ! "$py" -m venv "$venv" 2>/dev/null; then
  rm -rf "$venv"
  scripts/apt-install.sh python3-venv
  "$py" -m venv "$venv"
fi
