#!/usr/bin/env bash
# Regenerate shared/src/features/known.rs: every feature gate upstream kube-controller-manager
# knows at the k8s.io/kubernetes version pinned in this directory's go.mod, with its default,
# stage and lock at that version, and the dependencies between gates.
#
# The table comes from upstream's own registry: featuregates/main.go builds the
# kube-controller-manager command (which registers the kube, client-go, component-base logging,
# metrics and zpages gates into one DefaultMutableFeatureGate, as the binary does) and prints it.
# Needs Go and the Go module proxy (or a warm module cache); reuses build.sh's build cache.
#
#   tests/env/gen-feature-gates.sh            rewrite the table
#   tests/env/gen-feature-gates.sh --check    exit 1 if the committed table is out of date
set -euo pipefail

mode=write
case ${1:-} in
  "") ;;
  --check) mode=check ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=$repo/shared/src/features/known.rs
cd "$here"

export GOTOOLCHAIN=local CGO_ENABLED=0
# readonly: the generator must not rewrite go.mod (build.sh's cache key stays put).
export GOFLAGS="${GOFLAGS:-} -mod=readonly"
if ! command -v go >/dev/null 2>&1; then
  for candidate in /usr/local/go/bin /usr/lib/go/bin; do
    [ -x "$candidate/go" ] && export PATH="$candidate:$PATH" && break
  done
fi
command -v go >/dev/null 2>&1 || { echo "gen-feature-gates.sh: Go is not installed (need Go >= 1.26)" >&2; exit 1; }
command -v rustfmt >/dev/null 2>&1 || { echo "gen-feature-gates.sh: rustfmt is not installed" >&2; exit 1; }

k8s_version=$(awk '$1=="k8s.io/kubernetes" {print $2}' go.mod)
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
# Same tags and -trimpath as build.sh, so the packages come from its build cache.
K8S_VERSION=$k8s_version go run -trimpath -tags=selinux,notest ./featuregates >"$tmp"
rustfmt --edition 2024 "$tmp"

if [ "$mode" = check ]; then
  if cmp -s "$tmp" "$out"; then
    echo "gen-feature-gates.sh: $out is up to date"
  else
    echo "gen-feature-gates.sh: $out is out of date; run $0" >&2
    diff -u "$out" "$tmp" | head -40 >&2 || true
    exit 1
  fi
else
  mkdir -p "$(dirname "$out")"
  cp "$tmp" "$out"
  echo "gen-feature-gates.sh: wrote $out ($(grep -c '^    gate(' "$out") gates)"
fi
