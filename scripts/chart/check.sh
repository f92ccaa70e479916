#!/usr/bin/env bash
# Real `helm lint` and `helm template` of charts/palisade, without a helm binary: Helm's official Go SDK
# (v4.2.3) through helm-python-sdk (libhelm_c, a C ABI over it), installed with pip into a cached venv.
#
#   scripts/chart/check.sh [--self-test] [--out DIR]
#                                          lint and render every documented value variant (scripts/chart/check.py);
#                                          with --out, write the renders to DIR/<variant>.json|.yaml;
#                                          --self-test first checks that broken copies of the chart fail
#
# Environment:
#   PALISADE_HELM_VENV  the venv (default ~/.cache/palisade-helm/venv); created and filled with pip when missing
# Exits non-zero on any lint error or failed render check; lint warnings are printed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
venv=${PALISADE_HELM_VENV:-$HOME/.cache/palisade-helm/venv}
# Pinned: check.py uses helm_render's api_versions option, which the SDK's public render does not expose.
requirements=(helm-python-sdk==0.2.2 PyYAML==6.0.2)

if ! "$venv/bin/python" -c 'import helm_python, yaml; assert helm_python.__version__ == "0.2.2"' 2>/dev/null; then
  echo "chart: installing ${requirements[*]} into $venv" >&2
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
    sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq python3-venv >/dev/null
  fi
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${requirements[@]}"
fi

exec "$venv/bin/python" "$here/check.py" "$repo/charts/palisade" "$@"
