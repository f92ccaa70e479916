#!/usr/bin/env bash
# Measures `palisade serve` with palisade-loadgen on loopback, in three scenarios:
# no policies, the pod-security baseline+restricted set (Enforce) and 100 assorted ClusterPolicies.
# Prints one Markdown row per run for docs/performance.md, then the closed-loop ratios to the no-policy baseline.
# Usage: scripts/bench-webhook.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
K=../shared/conformance/kyverno-policies
T=${CARGO_TARGET_DIR:-target}
cargo build --release -q -p palisade -p palisade-loadgen
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/none" "$WORK/pss" "$WORK/p100"
cp $K/pod-security/baseline/*/*.yaml $K/pod-security/restricted/*/*.yaml "$WORK/pss/"
sed -i 's/validationFailureAction: Audit/validationFailureAction: Enforce/' "$WORK"/pss/*.yaml
i=0
for f in $(grep -rl --include='*.yaml' '^kind: ClusterPolicy' $K | grep -vE '/\.|-(cel|vpol|gpol|mpol|ivpol)/' | sort); do
  # Keep only files that load on their own, so one unsupported policy does not void the set.
  if "$T/release/palisade" apply "$f" --resource examples/resources/pods.yaml >/dev/null 2>&1 || [ $? -eq 1 ]; then
    i=$((i+1)); cp "$f" "$WORK/p100/$i-$(basename "$f")"
  fi
  [ $i -ge 100 ] && break
done
for scenario in none pss p100; do
  "$T/release/palisade" serve --policies "$WORK/$scenario" --data-dir "$WORK/data" --log-level warn \
    --metrics-addr none --addr 127.0.0.1:18443 & PID=$!
  for _ in $(seq 50); do
    curl -sf --cacert "$WORK/data/ca.crt" https://127.0.0.1:18443/readyz >/dev/null 2>&1 && break
    sleep 0.2
  done
  LG=("$T/release/palisade-loadgen" --url "https://127.0.0.1:18443/validate?timeout=10s" --ca "$WORK/data/ca.crt"
      --body "$WORK/data/sample-review.json" --connections 64 --duration "${DURATION}s" --warmup 2s --server-pid "$PID")
  for mode in "closed" "open --rate 2000" "open --rate 5000"; do
    # shellcheck disable=SC2086
    row=$("${LG[@]}" --mode $mode 2>&1 | grep '^row:')
    echo "scenario=$scenario mode=$mode $row"
    # The closed-loop rate (fourth column) of each scenario, for the ratios below.
    if [ "$mode" = closed ]; then
      declare "rate_$scenario=$(echo "$row" | awk -F'|' '{gsub(/ /, "", $4); print $4}')"
    fi
  done
  kill -TERM $PID; wait $PID || true
done
# Issue 4's targets are ratios to the no-policy baseline of the same run.
for scenario in pss p100; do
  rate="rate_$scenario"
  awk -v s="$scenario" -v r="${!rate}" -v b="$rate_none" 'BEGIN { printf "ratio %s/none closed loop: %.1f %%\n", s, 100 * r / b }'
done
