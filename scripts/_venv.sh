# Sourced by scripts/demo and scripts/test: make .venv (once) and install the pinned requirements
# whenever they change. Usage: source scripts/_venv.sh requirements.txt|requirements-dev.txt
# requirements-dev.txt includes requirements.txt, so once it is installed the demo needs nothing more:
# switching between scripts/test and scripts/demo installs nothing.
set -euo pipefail
requirements="$1"
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "Creating .venv with $($python --version)..."
  "$python" -m venv .venv
fi
runtime_stamp=".venv/.installed-runtime-$(sha256sum requirements.txt | cut -c1-16)"
dev_stamp=".venv/.installed-dev-$(cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-16)"
if [ "$requirements" = requirements-dev.txt ]; then
  satisfied() { [ -f "$dev_stamp" ]; }
else
  satisfied() { [ -f "$runtime_stamp" ] || [ -f "$dev_stamp" ]; }
fi
if ! satisfied; then
  echo "Installing $requirements into .venv..."
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$requirements"
  rm -f .venv/.installed-*
  touch "$runtime_stamp"
  if [ "$requirements" = requirements-dev.txt ]; then touch "$dev_stamp"; fi
fi
export PATH="$PWD/.venv/bin:$PATH"
