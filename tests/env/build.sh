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
#   build.sh --preflight     check Go, the cache directories and free disk as a build would,
#                            say whether a build is needed, and exit; creates and downloads nothing
set -euo pipefail

RECIPE_VERSION=2

mode=build
case ${1:-} in
  "") ;;
  --cached-only) mode=cached-only ;;
  --preflight) mode=preflight ;;
  *) echo "usage: $0 [--cached-only | --preflight]" >&2; exit 2 ;;
esac

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"

fail() { echo "build.sh: $*" >&2; exit 1; }
say() { echo "build.sh: $*" >&2; }

export GOTOOLCHAIN=local CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:-} -mod=mod"

if ! command -v go >/dev/null 2>&1; then
  for candidate in /usr/local/go/bin /usr/lib/go/bin; do
    [ -x "$candidate/go" ] && export PATH="$candidate:$PATH" && break
  done
fi
go_needed=$(awk '$1=="go" {print $2; exit}' go.mod)
command -v go >/dev/null 2>&1 ||
  fail "Go is not installed (looked on PATH, in /usr/local/go/bin and /usr/lib/go/bin); the Kubernetes binaries need Go >= $go_needed"
go_version=$(go env GOVERSION) || fail "\`go env\` failed with $(command -v go) (tests/env/go.mod needs Go >= $go_needed)"
# GOTOOLCHAIN=local: an older Go must not quietly download a newer toolchain, so say it here.
if [ "$(printf '%s\n%s\n' "$go_needed" "${go_version#go}" | sort -V | head -n 1)" != "$go_needed" ]; then
  fail "$(command -v go) is $go_version; tests/env/go.mod needs Go >= $go_needed"
fi

key=$( { cat go.sum; echo "$go_version"; echo "recipe $RECIPE_VERSION"; } | sha256sum | cut -c1-16)
if [ -z "${K8S_BIN_DIR:-}" ] && [ -z "${HOME:-}" ]; then
  fail "neither K8S_BIN_DIR nor HOME is set: nowhere to cache the binaries"
fi
out=${K8S_BIN_DIR:-$HOME/.cache/kcm-rs/k8s-bin/$key}

binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl)

if [ -f "$out/.complete" ]; then
  [ "$mode" = preflight ] && say "ok: Go $go_version; Kubernetes binaries cached in $out"
  echo "$out"
  exit 0
fi
if [ "$mode" = cached-only ]; then
  say "no finished build in $out"
  exit 1
fi

# On a fresh machine none of ~/.cache, ~/go or Go's cache directories exist yet: check the
# nearest directory that does, for both write access and free space.
existing_ancestor() {
  local dir=$1
  while [ ! -d "$dir" ]; do dir=$(dirname "$dir"); done
  echo "$dir"
}
gocache=$(go env GOCACHE)
gomodcache=$(go env GOMODCACHE)
[ -n "$gocache" ] && [ "$gocache" != off ] ||
  fail "Go has no build cache (GOCACHE='$gocache'; set HOME, XDG_CACHE_HOME or GOCACHE)"
[ -n "$gomodcache" ] || fail "Go has no module cache (set HOME, GOPATH or GOMODCACHE)"

# What a cold build writes (measured on Kubernetes v1.37.1): module cache about 1.1 GB (skipped
# when the modules are already there), build cache 3.6 GB, binaries 330 MB; with some margin.
declare -A need_mib=() where=()
k8s_version=$(awk '$1=="k8s.io/kubernetes" {print $2}' go.mod)
needs() { # needs DIR MIB WHAT: DIR must be creatable, and its filesystem gets MIB more to hold
  local anchor mount
  anchor=$(existing_ancestor "$1")
  [ -w "$anchor" ] || fail "cannot create $1 ($3): $anchor is not writable"
  mount=$(df -P "$anchor" | awk 'NR==2 {print $6}')
  need_mib[$mount]=$(( ${need_mib[$mount]:-0} + $2 ))
  where[$mount]="${where[$mount]:+${where[$mount]}, }$3"
}
needs "$out" 400 "the binaries in $out"
needs "$gocache" 4200 "Go's build cache $gocache"
if [ ! -d "$gomodcache/k8s.io/kubernetes@$k8s_version" ]; then
  needs "$gomodcache" 1400 "Go's module cache $gomodcache"
fi
for mount in "${!need_mib[@]}"; do
  avail=$(df -Pm "$mount" | awk 'NR==2 {print $4}')
  if [ "${avail:-0}" -lt "${need_mib[$mount]}" ]; then
    fail "only ${avail} MiB free on $mount; building the Kubernetes binaries needs about ${need_mib[$mount]} MiB there (${where[$mount]})"
  fi
done

if [ "$mode" = preflight ]; then
  say "ok: Go $go_version; no cached build, so the first run builds into $out (about 12 min on 2 cores, downloading modules from $(go env GOPROXY) unless they are in $gomodcache)"
  exit 0
fi

mkdir -p "$out"
etcd_version=$(awk '$1=="go.etcd.io/etcd/server/v3" && $2 ~ /^v/ {print $2}' go.mod)
major=$(echo "$k8s_version" | sed -E 's/^v([0-9]+)\..*/\1/')
minor=$(echo "$k8s_version" | sed -E 's/^v[0-9]+\.([0-9]+)\..*/\1/')
stamp="-X k8s.io/component-base/version.gitVersion=$k8s_version -X k8s.io/component-base/version.gitMajor=$major"
stamp+=" -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
stamp+=" -X k8s.io/client-go/pkg/version.gitVersion=$k8s_version -X k8s.io/client-go/pkg/version.gitMajor=$major"
stamp+=" -X k8s.io/client-go/pkg/version.gitMinor=$minor"
etcd_stamp="-X go.etcd.io/etcd/api/v3/version.Version=${etcd_version#v}"

say "building Kubernetes $k8s_version and etcd $etcd_version into $out (cold builds take a while)"
start=$(date +%s)
go mod download ||
  fail "could not download the Go modules (GOPROXY=$(go env GOPROXY)); the first build needs the Go module proxy"
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
