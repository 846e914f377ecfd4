#!/bin/sh
# Create the project virtual environment and install credflow with its dev dependency group.
# On a bare Debian, `python3 -m venv` needs the python3-venv package: install it with apt if missing.
set -eu
venv=${1:-.venv}
py=${PYTHON:-python3}

"$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "credflow needs Python >= 3.11 (found $("$py" --version 2>&1))" >&2
    exit 1
}
if ! "$py" -m venv "$venv" 2>/dev/null; then
    echo "python3 -m venv failed; installing python3-venv with apt" >&2
    rm -rf "$venv"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
    "$py" -m venv "$venv"
fi
# pip >= 25.1 understands dependency groups (PEP 735).
"$venv/bin/python" -m pip install -q --upgrade "pip>=25.1"
"$venv/bin/python" -m pip install -q -e . --group dev
