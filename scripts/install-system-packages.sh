#!/usr/bin/env bash
# Installs the system programs irtoy's drawings, report tests and Fashion-MNIST need:
# graphviz (`dot`), Chromium (the report is checked in a real browser), Debian's
# Fashion-MNIST files, and python3-venv where Debian's Python lacks venv.
# Uses apt-get when run as root; otherwise prints the command to run.
set -euo pipefail

missing=()
command -v dot >/dev/null 2>&1 || missing+=(graphviz)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -d /usr/share/datasets/fashion-mnist ] || missing+=(dataset-fashion-mnist)
"${PYTHON:-python3}" -c "import ensurepip, venv" 2>/dev/null || missing+=(python3-venv)   # Debian splits venv out

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing system packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
    echo "irtoy would like these system packages: ${missing[*]}" >&2
    echo "  Debian/Ubuntu: sudo apt-get install ${missing[*]}" >&2
    echo "  (drawings need graphviz; the browser tests need chromium; the Fashion-MNIST demo needs the dataset)" >&2
fi
