#!/usr/bin/env bash
# Seconds-long checks that `make test` can run here, before it spends minutes building.
#
#   preflight.sh               this machine, then the same checks with an empty HOME
#   preflight.sh --here        this machine only: toolchains, free disk, the Kubernetes
#                              binaries (cached, or what building them needs), testenv's tools
#   preflight.sh --fresh-home  only the empty-HOME run: a newcomer's machine, where none of
#                              ~/.cache, ~/go, ~/.cargo/registry or target/ exist yet
#
# The empty-HOME run keeps the toolchains (go on PATH, rustup's toolchains) but nothing cached,
# and fails when any step assumes a directory that only a previous build creates. No step
# builds, downloads or starts anything, and the run checks that none created a cache directory.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self="$here/$(basename "${BASH_SOURCE[0]}")"
repo=$(cd "$here/../.." && pwd)

fail() { echo "preflight: $*" >&2; exit 1; }
say() { echo "preflight: $*" >&2; }

existing_ancestor() {
  local dir=$1
  while [ ! -d "$dir" ]; do dir=$(dirname "$dir"); done
  echo "$dir"
}

# version_at_least HAVE NEED
version_at_least() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]; }

check_here() {
  export PATH="${CARGO_HOME:-${HOME:-}/.cargo}/bin:${HOME:-}/.cargo/bin:/usr/local/go/bin:$PATH"
  local rust_needed rustc_version
  rust_needed=$(awk -F'"' '/^rust-version/ {print $2; exit}' "$repo/Cargo.toml")
  command -v cargo >/dev/null 2>&1 ||
    fail "cargo is not installed (looked on PATH and in ~/.cargo/bin); kcm-rs needs Rust >= $rust_needed (rustup.rs)"
  rustc_version=$(rustc --version 2>&1) ||
    fail "rustc does not run: $rustc_version"
  rustc_version=${rustc_version#rustc }
  version_at_least "${rustc_version%% *}" "$rust_needed" ||
    fail "rustc is $rustc_version; kcm-rs needs Rust >= $rust_needed (rustup update)"
  command -v cc >/dev/null 2>&1 || fail "cc is not installed: Rust links through it (apt-get install gcc)"
  command -v git >/dev/null 2>&1 || say "note: git is not installed; kcm-rs --version will say commit unknown"

  # The Rust target directory: a debug build of the workspace with its tests takes about 6.5 GiB.
  local target=${CARGO_TARGET_DIR:-$repo/target} anchor avail
  anchor=$(existing_ancestor "$target")
  [ -w "$anchor" ] || fail "cannot create the Rust target directory $target: $anchor is not writable"
  if [ ! -d "$target/debug" ]; then
    avail=$(df -Pm "$anchor" | awk 'NR==2 {print $4}')
    [ "${avail:-0}" -ge 7000 ] ||
      fail "only ${avail} MiB free at $anchor; the first Rust build needs about 7000 MiB for $target"
  fi

  "$here/build.sh" --preflight >/dev/null
  "$here/testenv.sh" preflight "$target/testenv"
  say "ok: $(cargo --version), $(go version | awk '{print $3}'), target directory $target"
}

check_fresh_home() {
  local fresh base
  # The empty HOME sits on the real HOME's filesystem, so its free-disk figures are the ones a
  # first build would really meet.
  base=${HOME:-}
  [ -n "$base" ] && [ -d "$base" ] && [ -w "$base" ] || base=${TMPDIR:-/tmp}
  fresh=$(mktemp -d "$base/.kcm-preflight-home.XXXXXX")
  # shellcheck disable=SC2064 # expand now: the path is fixed
  trap "rm -rf '$fresh'" EXIT

  # Toolchains stay reachable as on a newcomer's machine (go in /usr/local/go, rustup's
  # proxies and toolchains); everything that caches or points at a cache is dropped.
  local path_dirs=() tool
  for tool in go cargo rustc; do
    command -v "$tool" >/dev/null 2>&1 && path_dirs+=("$(dirname "$(command -v "$tool")")")
  done
  local rustup_home=${RUSTUP_HOME:-${HOME:-}/.rustup}
  local fresh_path
  fresh_path=$(IFS=:; echo "${path_dirs[*]}"):/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
  local env_args=(-i "HOME=$fresh" "PATH=$fresh_path" "USER=${USER:-root}" "LANG=${LANG:-C.UTF-8}"
    "CARGO_HOME=$fresh/.cargo" "CARGO_TARGET_DIR=$fresh/target")
  [ -d "$rustup_home" ] && env_args+=("RUSTUP_HOME=$rustup_home")
  [ -n "${RUSTUP_TOOLCHAIN:-}" ] && env_args+=("RUSTUP_TOOLCHAIN=$RUSTUP_TOOLCHAIN")

  local out rc=0
  out=$(cd "$repo" && env "${env_args[@]}" "$self" --here 2>&1) || rc=$?
  if [ "$rc" -ne 0 ]; then
    printf '%s\n' "$out" >&2
    fail "with an empty HOME ($fresh) the set-up fails: a newcomer's first 'make test' would stop here"
  fi
  local created=() d
  for d in .cache go .cargo/registry target; do
    [ -e "$fresh/$d" ] && created+=("~/$d")
  done
  [ ${#created[@]} -eq 0 ] ||
    fail "preflight created ${created[*]} in an empty HOME; it must only check, or it hides what a fresh machine lacks"
  say "ok with an empty HOME: $(printf '%s\n' "$out" | grep -o 'no cached build.*' | head -n 1 | cut -c1-60)..."
}

case ${1:-} in
  "") check_here; check_fresh_home ;;
  --here) check_here ;;
  --fresh-home) check_fresh_home ;;
  *) sed -n '2,9p' "$self" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
