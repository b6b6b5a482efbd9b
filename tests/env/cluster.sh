#!/usr/bin/env bash
# A long-lived local cluster to try kcm-rs for real (`make up` / `make down`):
#
#   etcd + kube-apiserver     from testenv.sh (RBAC, token and certificate authentication)
#   kube-scheduler            upstream, same tag; identity system:kube-scheduler (client cert)
#   kcm-rs                    every controller it implements, leader election on Lease kcm-rs
#   kube-controller-manager   upstream, only the controllers kcm-rs does not implement
#                             (`*,-<each kcm-rs controller>`), on its own Lease; UPSTREAM_REST=0
#                             leaves it out
#   kcm-virtual-node          VIRTUAL_NODES (3) simulated nodes that run the pods
#
#   cluster.sh up [DIR]       start everything; exits 0 once all of it is ready
#   cluster.sh down [DIR]     stop what `up` started in DIR, and nothing else
#   cluster.sh status [DIR]   exit 0 when every process is running, 3 when none is
#
# DIR defaults to <repo>/target/cluster; logs of every process go to DIR/logs, "PID STARTTIME"
# records to DIR/run (a recycled PID is never signalled). Binaries: K8S_BIN_DIR (else
# build.sh), KCM_RS_BINARY and KCM_VIRTUAL_NODE_BINARY (else the release builds in target/).
# Knobs: VIRTUAL_NODES, VIRTUAL_NODE_ARGS, KCM_RS_ARGS, UPSTREAM_ARGS (extra flags, word-split),
# CLUSTER_START_TIMEOUT (seconds, default 120).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self="$here/$(basename "${BASH_SOURCE[0]}")"
repo=$(cd "$here/../.." && pwd)
testenv="$here/testenv.sh"

# Started after the control plane, stopped before it, in reverse order.
processes=(kube-scheduler kcm-rs kube-controller-manager kcm-virtual-node)

log() { echo "cluster: $*" >&2; }
die() { log "error: $*"; exit 1; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

usage() {
  sed -n '2,17p' "$self" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# --- process bookkeeping (the same records as testenv.sh keeps) ----------------------------

proc_start_time() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  # shellcheck disable=SC2206 # deliberate word splitting of the stat fields
  local fields=($stat)
  [ "${fields[0]}" != Z ] || return 1
  echo "${fields[19]}"
}

pidfile_alive() {
  local pid start
  [ -f "$1" ] || return 1
  read -r pid start <"$1" || return 1
  [ "$(proc_start_time "$pid" 2>/dev/null)" = "$start" ]
}

start_process() {
  local name=$1
  shift
  setsid "$@" </dev/null >"$dir/logs/$name.log" 2>&1 9>&- &
  local pid=$!
  echo "$pid $(proc_start_time "$pid" || echo unknown)" >"$dir/run/$name.pid"
}

# SIGTERM, then SIGKILL after $2 seconds.
stop_pidfile() {
  local file=$1 grace=$2 pid start
  [ -f "$file" ] || return 0
  read -r pid start <"$file" || { rm -f "$file"; return 0; }
  if pidfile_alive "$file"; then
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$(( $(now_ms) + grace * 1000 ))
    while pidfile_alive "$file" && [ "$(now_ms)" -lt "$deadline" ]; do sleep 0.1; done
    if pidfile_alive "$file"; then
      log "$(basename "$file" .pid) (pid $pid) ignored SIGTERM for ${grace}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      while pidfile_alive "$file"; do sleep 0.1; done
    fi
  fi
  rm -f "$file"
}

resolve_dir() {
  local d=${1:-$repo/target/cluster}
  case $d in *[[:space:]]*) die "DIR must not contain whitespace: '$d'" ;; esac
  mkdir -p "$d"
  dir=$(cd "$d" && pwd)
}

lock_dir() {
  exec 9>"$dir/.cluster.lock"
  flock -w 60 9 || die "another cluster.sh is working on $dir"
}

running_summary() {
  local f name pid start out=""
  for f in "$dir"/run/*.pid; do
    [ -f "$f" ] || continue
    name=$(basename "$f" .pid)
    [ "$name" = watcher ] && continue
    if pidfile_alive "$f"; then
      read -r pid start <"$f"
      out+=" $name (pid $pid)"
    fi
  done
  echo "${out# }"
}

stop_all() {
  local i
  for (( i = ${#processes[@]} - 1; i >= 0; i-- )); do
    stop_pidfile "$dir/run/${processes[$i]}.pid" 20
  done
  if [ -d "$dir/run" ]; then
    "$testenv" down "$dir" >/dev/null 2>&1 || log "testenv.sh down $dir failed"
  fi
  rm -f "$dir/cluster.env"
}

print_log_tails() {
  local f
  for f in "$dir"/logs/*.log; do
    [ -f "$f" ] || continue
    echo "----- last 30 lines of $f -----" >&2
    tail -n 30 "$f" >&2 || true
  done
}

# --- start-up ------------------------------------------------------------------------------

resolve_binaries() {
  if [ -z "${K8S_BIN_DIR:-}" ]; then
    K8S_BIN_DIR=$("$here/build.sh" | tail -n 1)
  fi
  export K8S_BIN_DIR
  local b
  for b in etcd kube-apiserver kube-scheduler kube-controller-manager kubectl; do
    [ -x "$K8S_BIN_DIR/$b" ] || die "$K8S_BIN_DIR/$b is missing; run tests/env/build.sh"
  done
  kcm_rs=${KCM_RS_BINARY:-$repo/target/release/kcm-rs}
  virtual_node=${KCM_VIRTUAL_NODE_BINARY:-$repo/target/release/kcm-virtual-node}
  [ -x "$kcm_rs" ] || die "$kcm_rs is missing; run cargo build --release -p kcm-rs (make up does)"
  [ -x "$virtual_node" ] ||
    die "$virtual_node is missing; run cargo build --release -p kcm-virtual-node (make up does)"
  kubectl="$K8S_BIN_DIR/kubectl"
}

# A client certificate for CN=$1 (O=$2 when given), signed by the apiserver's client CA, and a
# kubeconfig using it.
client_cert_kubeconfig() {
  local user=$1 group=${2:-} file=$3 pki="$dir/pki" name subject
  name=$(echo "$user" | tr ':' '-')
  subject="/CN=$user"
  [ -n "$group" ] && subject="/O=$group/CN=$user"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$pki/$name.key" 2>/dev/null
  openssl req -new -key "$pki/$name.key" -out "$pki/$name.csr" -subj "$subject" 2>/dev/null
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
    "extendedKeyUsage=clientAuth" >"$pki/$name.ext"
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/client-ca.crt" -CAkey "$pki/client-ca.key" \
    -CAcreateserial -out "$pki/$name.crt" -days 3650 -extfile "$pki/$name.ext" 2>/dev/null
  rm -f "$pki/$name.csr" "$pki/$name.ext" "$pki"/*.srl
  chmod 600 "$pki/$name.key"
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: $APISERVER_URL
    certificate-authority: $pki/ca.crt
users:
- name: $user
  user:
    client-certificate: $pki/$name.crt
    client-key: $pki/$name.key
contexts:
- name: $user
  context: {cluster: local, user: $user}
current-context: $user
EOF
  chmod 600 "$file"
}

lease_holder() {
  "$kubectl" --kubeconfig "$dir/admin.kubeconfig" -n kube-system get lease "$1" \
    -o 'jsonpath={.spec.holderIdentity}' 2>/dev/null || true
}

ready_virtual_nodes() {
  "$kubectl" --kubeconfig "$dir/admin.kubeconfig" get nodes -l kcm-virtual-node.io/managed=true \
    -o 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' \
    2>/dev/null | grep -c '^True$' || true
}

# wait_for WHAT PROCESS PROBE...: polls PROBE every 200 ms; fails early if PROCESS exited.
wait_for() {
  local what=$1 process=$2
  shift 2
  until "$@"; do
    pidfile_alive "$dir/run/$process.pid" || { log "$process exited while waiting for $what"; return 1; }
    [ "$(now_ms)" -lt "$deadline" ] || { log "timed out waiting for $what"; return 1; }
    sleep 0.2
  done
}

holds_lease() { [ -n "$(lease_holder "$1")" ]; }
nodes_ready() { [ "$(ready_virtual_nodes)" -ge "$nodes" ]; }

start_components() {
  # shellcheck disable=SC1091 # written by testenv.sh up
  . "$dir/env"
  client_cert_kubeconfig system:kube-scheduler "" "$dir/scheduler.kubeconfig"

  implemented=$("$kcm_rs" --list-implemented-controllers | paste -sd, -)
  [ -n "$implemented" ] || die "$kcm_rs --list-implemented-controllers printed nothing"
  upstream_controllers="*,-${implemented//,/,-}"
  local kcm_rs_port
  kcm_rs_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  nodes=${VIRTUAL_NODES:-3}
  deadline=$(( $(now_ms) + ${CLUSTER_START_TIMEOUT:-120} * 1000 ))

  start_process kube-scheduler "$K8S_BIN_DIR/kube-scheduler" \
    --kubeconfig="$dir/scheduler.kubeconfig" --secure-port=0 --v=1
  # shellcheck disable=SC2086 # KCM_RS_ARGS is a word-split list of extra flags
  start_process kcm-rs "$kcm_rs" \
    --kubeconfig="$dir/kcm.kubeconfig" --use-service-account-credentials=true \
    --controllers="$implemented" --leader-elect=true --leader-elect-resource-name=kcm-rs \
    --secure-port="$kcm_rs_port" -v 1 ${KCM_RS_ARGS:-}
  if [ "${UPSTREAM_REST:-1}" != 0 ]; then
    # shellcheck disable=SC2086 # UPSTREAM_ARGS is a word-split list of extra flags
    start_process kube-controller-manager "$K8S_BIN_DIR/kube-controller-manager" \
      --kubeconfig="$dir/kcm.kubeconfig" --use-service-account-credentials=true \
      --controllers="$upstream_controllers" --leader-elect=true --secure-port=0 \
      --root-ca-file="$dir/pki/ca.crt" --service-account-private-key-file="$dir/pki/sa.key" \
      --v=1 ${UPSTREAM_ARGS:-}
  fi
  # shellcheck disable=SC2086 # VIRTUAL_NODE_ARGS is a word-split list of extra flags
  start_process kcm-virtual-node "$virtual_node" \
    --kubeconfig="$dir/admin.kubeconfig" --nodes="$nodes" --node-name-prefix=virtual-node \
    ${VIRTUAL_NODE_ARGS:-}

  wait_for "kube-scheduler to lead" kube-scheduler holds_lease kube-scheduler || return 1
  wait_for "kcm-rs to lead" kcm-rs holds_lease kcm-rs || return 1
  if [ "${UPSTREAM_REST:-1}" != 0 ]; then
    wait_for "kube-controller-manager to lead" kube-controller-manager \
      holds_lease kube-controller-manager || return 1
  fi
  wait_for "$nodes Ready virtual nodes" kcm-virtual-node nodes_ready || return 1
  {
    echo "# Written by tests/env/cluster.sh up; source it to use the cluster."
    printf 'export KUBECONFIG=%q PATH=%q:"$PATH"\n' "$dir/admin.kubeconfig" "$K8S_BIN_DIR"
    printf 'export KCM_RS_METRICS=%q\n' "https://127.0.0.1:$kcm_rs_port/metrics"
  } >"$dir/cluster.env"
}

cmd_up() {
  [ $# -le 1 ] || usage
  resolve_dir "${1:-}"
  lock_dir
  local running
  running=$(running_summary)
  if [ -n "$running" ]; then
    local url=""
    [ -f "$dir/env" ] && url=$(sed -n 's/.*APISERVER_URL=\([^ ]*\).*/\1/p' "$dir/env" | head -n 1)
    die "a cluster is already running in $dir${url:+ (kube-apiserver $url)}: $running; stop it with 'make down' (tests/env/cluster.sh down $dir)"
  fi
  stop_all # leftovers of a cluster whose processes died
  for tool in openssl python3 setsid flock paste; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
  done
  resolve_binaries
  trap 'log "interrupted; stopping what was started"; stop_all; exit 130' INT TERM HUP
  local t0
  t0=$(now_ms)
  "$testenv" up "$dir" || die "the control plane did not start (see $dir/logs)"
  if ! start_components; then
    log "the cluster did not start in $dir"
    print_log_tails
    stop_all
    exit 1
  fi
  trap - INT TERM HUP
  local upstream_line="not started (UPSTREAM_REST=0)"
  [ "${UPSTREAM_REST:-1}" != 0 ] && upstream_line="--controllers=$upstream_controllers, Lease kube-system/kube-controller-manager"
  cat <<EOF

Cluster up in $dir after $(( ($(now_ms) - t0) / 1000 ))s; logs in $dir/logs.
  etcd + kube-apiserver     $APISERVER_URL
  kube-scheduler            upstream $("$K8S_BIN_DIR/kube-scheduler" --version 2>/dev/null | awk '{print $2}'), Lease kube-system/kube-scheduler
  kcm-rs                    --controllers=$implemented, Lease kube-system/kcm-rs
  kube-controller-manager   $upstream_line
  kcm-virtual-node          $nodes nodes: virtual-node-1 … virtual-node-$nodes

export KUBECONFIG=$dir/admin.kubeconfig PATH=$K8S_BIN_DIR:\$PATH
kubectl get nodes
kubectl apply -f $repo/config/demo/deployment.yaml
kubectl get pods -w

Stop it with: make down
EOF
}

cmd_down() {
  [ $# -le 1 ] || usage
  resolve_dir "${1:-}"
  lock_dir
  stop_all
  log "down: $dir"
}

cmd_status() {
  [ $# -le 1 ] || usage
  resolve_dir "${1:-}"
  local p up=0 down=0 expected=(etcd kube-apiserver "${processes[@]}")
  for p in "${expected[@]}"; do
    if pidfile_alive "$dir/run/$p.pid"; then
      echo "$p: running (pid $(cut -d' ' -f1 "$dir/run/$p.pid"))"
      up=$((up + 1))
    elif [ "$p" = kube-controller-manager ] && [ -f "$dir/cluster.env" ] && [ ! -f "$dir/run/$p.pid" ]; then
      echo "$p: not started"
    else
      echo "$p: not running"
      down=$((down + 1))
    fi
  done
  [ "$up" = 0 ] && return 3
  [ "$down" = 0 ]
}

case ${1:-} in
  up) shift; cmd_up "$@" ;;
  down) shift; cmd_down "$@" ;;
  status) shift; cmd_status "$@" ;;
  *) usage ;;
esac
