#!/usr/bin/env bash
# Build etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kubectl from the
# Go modules pinned in this directory's go.mod/go.sum, unless a cached build with
# the same inputs already exists. Prints the bin directory on its last line.
#
# Cache: ${K8S_BIN_DIR:-~/.cache/kcm-rs/k8s-bin/<key>},
# key = sha256(go.sum + go version + RECIPE_VERSION). Bump RECIPE_VERSION whenever a change
# here alters the binaries (flags, tags, the list of binaries); other edits keep the cache.
# A directory is only used once it holds a `.complete` marker, so an interrupted
# build is never mistaken for a finished one.
#
#   build.sh                 build on a cache miss; print the bin directory last
#   build.sh --cached-only   print the bin directory of a finished build, or exit 1
set -euo pipefail

RECIPE_VERSION=2

mode=build
case ${1:-} in
  "") ;;
  --cached-only) mode=cached-only ;;
  *) echo "usage: $0 [--cached-only]" >&2; exit 2 ;;
esac

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"

export GOTOOLCHAIN=local CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:-} -mod=mod"

if ! command -v go >/dev/null 2>&1; then
  for candidate in /usr/local/go/bin /usr/lib/go/bin; do
    [ -x "$candidate/go" ] && export PATH="$candidate:$PATH" && break
  done
fi
command -v go >/dev/null 2>&1 || { echo "build.sh: Go is not installed (need Go >= 1.26)" >&2; exit 1; }

go_version=$(go env GOVERSION)
key=$( { cat go.sum; echo "$go_version"; echo "recipe $RECIPE_VERSION"; } | sha256sum | cut -c1-16)
out=${K8S_BIN_DIR:-$HOME/.cache/kcm-rs/k8s-bin/$key}

binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl)

if [ -f "$out/.complete" ]; then
  echo "$out"
  exit 0
fi
if [ "$mode" = cached-only ]; then
  echo "build.sh: no finished build in $out" >&2
  exit 1
fi

# The module cache plus the build cache need a few GiB; say so before a long build fails halfway.
# On a fresh machine neither Go's cache directory nor ~/.cache exists yet: measure the nearest
# directory that does.
existing_ancestor() {
  local dir=$1
  while [ ! -d "$dir" ]; do dir=$(dirname "$dir"); done
  echo "$dir"
}
need_mb=6000
avail_mb=$(df -Pm "$(existing_ancestor "$(go env GOCACHE)")" | awk 'NR==2 {print $4}')
if [ "${avail_mb:-0}" -lt "$need_mb" ]; then
  echo "build.sh: only ${avail_mb} MiB free next to the Go build cache; building the Kubernetes binaries needs about ${need_mb} MiB" >&2
  exit 1
fi

mkdir -p "$out"
k8s_version=$(awk '$1=="k8s.io/kubernetes" {print $2}' go.mod)
etcd_version=$(awk '$1=="go.etcd.io/etcd/server/v3" && $2 ~ /^v/ {print $2}' go.mod)
major=$(echo "$k8s_version" | sed -E 's/^v([0-9]+)\..*/\1/')
minor=$(echo "$k8s_version" | sed -E 's/^v[0-9]+\.([0-9]+)\..*/\1/')
stamp="-X k8s.io/component-base/version.gitVersion=$k8s_version -X k8s.io/component-base/version.gitMajor=$major"
stamp+=" -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
stamp+=" -X k8s.io/client-go/pkg/version.gitVersion=$k8s_version -X k8s.io/client-go/pkg/version.gitMajor=$major"
stamp+=" -X k8s.io/client-go/pkg/version.gitMinor=$minor"
etcd_stamp="-X go.etcd.io/etcd/api/v3/version.Version=${etcd_version#v}"

echo "build.sh: building Kubernetes $k8s_version and etcd $etcd_version into $out (cold builds take a while)" >&2
start=$(date +%s)
go mod download
for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  echo "build.sh: go build $cmd" >&2
  go build -trimpath -tags=selinux,notest -ldflags="-s -w $stamp" -o "$out/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd"
  mv "$out/$cmd.tmp" "$out/$cmd"
done
echo "build.sh: go build etcd" >&2
go build -trimpath -ldflags="-s -w $etcd_stamp" -o "$out/etcd.tmp" go.etcd.io/etcd/server/v3
mv "$out/etcd.tmp" "$out/etcd"

for b in "${binaries[@]}"; do
  [ -x "$out/$b" ] || { echo "build.sh: $out/$b missing after build" >&2; exit 1; }
done
"$out/kube-apiserver" --version >&2
echo "build.sh: built in $(( $(date +%s) - start ))s" >&2
touch "$out/.complete"
echo "$out"
