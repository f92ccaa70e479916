#!/usr/bin/env bash
# End-to-end tests against a real kube-apiserver v1.20.2 (etcd + apiserver on loopback, no kubelet).
#
#   scripts/e2e/run.sh            build (cached) and start the API server, build palisade, run the e2e tests
#                                 (tests/e2e.rs in process, tests/e2e_binary.rs with the binary), stop it;
#                                 deploy/ and the Helm-rendered chart (scripts/chart/check.sh) get a server-side dry run
#
# Environment:
#   PALISADE_APISERVER_TOOLS  folder with build.sh/start.sh/stop.sh (default: ../shared/tools/apiserver
#                             next to the repository)
#   APISERVER_CACHE           where build.sh caches the binary (default ~/.cache/palisade-apiserver)
#   CARGO_TARGET_DIR          passed through to cargo
# An API server that was already running before this script is reused and left running.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
tools=${PALISADE_APISERVER_TOOLS:-$repo/../shared/tools/apiserver}
port=${APISERVER_PORT:-16443}

if [[ ! -x "$tools/start.sh" ]]; then
  echo "e2e: no API server tools in $tools (set PALISADE_APISERVER_TOOLS)" >&2
  exit 2
fi

# kubectl and curl: installed from Debian when missing (kubernetes-client is kubectl 1.20, the server's version).
need=()
command -v kubectl >/dev/null || need+=(kubernetes-client)
command -v curl >/dev/null || need+=(curl)
if ((${#need[@]})); then
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  echo "e2e: installing ${need[*]}" >&2
  "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v kubectl >/dev/null || { echo "e2e: kubectl is not installed and could not be installed" >&2; exit 2; }

t0=$(date +%s)
"$tools/build.sh"
t_build=$(date +%s)

already_running=false
if curl -sk --max-time 2 "https://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
  already_running=true
fi
eval "$("$tools/start.sh")"
if [[ $already_running == false ]]; then
  # Started here: stop it and wipe etcd so the next run starts from an empty cluster.
  trap '"$tools/stop.sh" --wipe >/dev/null 2>&1 || true' EXIT
fi
t_start=$(date +%s)

cd "$repo"
# The chart as Helm renders it (Helm's Go SDK, scripts/chart/check.sh) gets a server-side dry run in tests/e2e.rs.
helm_rendered=$(mktemp -d)
"$repo/scripts/chart/check.sh" --out "$helm_rendered" >/dev/null
# The binary test (e2e_binary) runs the real `palisade serve --kubeconfig`.
cargo build -p palisade --bin palisade
PALISADE_E2E_KUBECONFIG="$KUBECONFIG" PALISADE_HELM_RENDERED="$helm_rendered" PALISADE_BIN="${CARGO_TARGET_DIR:-$repo/target}/debug/palisade" \
  cargo test -p palisade-controller --test e2e --test e2e_binary --test e2e_watch_drop -- --ignored --nocapture --test-threads=1
t_end=$(date +%s)

echo "e2e: passed (build/cache $((t_build - t0))s, start $((t_start - t_build))s, tests $((t_end - t_start))s)"
