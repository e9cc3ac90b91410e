# Sourced by scripts/demo and scripts/test: make .venv (once) and install the pinned requirements
# whenever they change. Usage: source scripts/_venv.sh requirements.txt|requirements-dev.txt
set -euo pipefail
requirements="$1"
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv with $($python --version)..."
  "$python" -m venv .venv
fi
stamp=".venv/.installed-$(cat requirements.txt "$requirements" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "Installing $requirements into .venv..."
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"
