#!/usr/bin/env bash
# A throw-away control plane for tests: etcd + kube-apiserver on free loopback
# ports, with RBAC, token and client-certificate authentication, and no kubelet.
#
#   testenv.sh up [--owner-pid PID] [DIR]   start; exits 0 only once /readyz is ok
#   testenv.sh preflight [DIR]              check the tools, DIR and the binaries as `up` would,
#                                           and exit; starts, creates and builds nothing
#   testenv.sh down [DIR]                   stop what `up` started in DIR
#   testenv.sh status [DIR]                 exit 0 when up and ready, 3 when down
#   testenv.sh restart-apiserver [DIR]      stop kube-apiserver and start it again, same port
#   testenv.sh reap --owner-pid PID PIDDIR  when PID exits, kill the processes
#                                           recorded in PIDDIR/*.pid
#
# DIR defaults to <repo>/target/testenv. After `up` it holds:
#   env                     `export KUBECONFIG=… APISERVER_URL=… ADMIN_TOKEN=… CA_FILE=… K8S_BIN_DIR=…`
#   admin.kubeconfig        user `admin` in group system:masters
#   restricted.kubeconfig   user `restricted-user`, no rights beyond discovery
#   kcm.kubeconfig          user `system:kube-controller-manager` (bootstrap RBAC applies)
#   kcm-rs.kubeconfig       user `rust-controller-manager`, no rights until a test grants them
#   pki/                    CA, serving leaf, client CA + admin client cert, SA key pair
#   logs/                   one log per process
#   run/                    "PID STARTTIME" per process; `down` only signals a PID
#                           whose start time still matches, so a recycled PID is safe
#
# --owner-pid makes `up` start a watcher that runs `down` once that process is gone:
# test binaries have no global teardown, so this is how they avoid leaking clusters,
# even when killed with SIGKILL.
#
# Binaries come from $K8S_BIN_DIR, else from build.sh (which builds them on a cache miss).
# Knobs: TESTENV_START_TIMEOUT (seconds, default 120), TESTENV_APISERVER_ARGS and
# TESTENV_ETCD_ARGS (extra flags, word-split), TESTENV_APISERVER_V (log level, default 1).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self="$here/$(basename "${BASH_SOURCE[0]}")"
repo=$(cd "$here/../.." && pwd)
default_dir="$repo/target/testenv"

log() { echo "testenv: $*" >&2; }
die() { log "error: $*"; exit 1; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

usage() {
  sed -n '2,16p' "$self" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# --- process bookkeeping -------------------------------------------------------------------

# Prints "STATE STARTTIME" of a process (fields 3 and 22 of /proc/PID/stat). The command
# name in field 2 may contain spaces and parentheses, so split after its last ')'.
proc_state_start() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  # shellcheck disable=SC2206 # deliberate word splitting of the stat fields
  local fields=($stat)
  echo "${fields[0]} ${fields[19]}"
}

proc_start_time() {
  local state_start
  state_start=$(proc_state_start "$1") || return 1
  echo "${state_start#* }"
}

# True when PID runs, is not a zombie, and started at START (so it is the process we recorded).
proc_alive() {
  local pid=$1 start=$2 state_start
  state_start=$(proc_state_start "$pid") || return 1
  [ "${state_start%% *}" != Z ] && [ "${state_start#* }" = "$start" ]
}

# Is the process recorded in pid file $1 alive?
pidfile_alive() {
  local pid start
  [ -f "$1" ] || return 1
  read -r pid start <"$1" || return 1
  proc_alive "$pid" "$start"
}

# Starts "$@" in its own session with output to DIR/logs/NAME.log and records it in DIR/run.
# fd 9 (the DIR lock) is closed so a long-lived child never holds it.
start_process() {
  local name=$1
  shift
  setsid "$@" </dev/null >"$dir/logs/$name.log" 2>&1 9>&- &
  local pid=$!
  local start
  start=$(proc_start_time "$pid") || start=unknown
  echo "$pid $start" >"$dir/run/$name.pid"
}

# Stops the process in pid file $1: SIGTERM, then SIGKILL after $2 seconds. With $3=group the
# whole process group is signalled (used for the watcher, whose `sleep` would otherwise linger).
stop_pidfile() {
  local file=$1 grace=$2 scope=${3:-process} pid start target
  [ -f "$file" ] || return 0
  read -r pid start <"$file" || { rm -f "$file"; return 0; }
  if proc_alive "$pid" "$start"; then
    target=$pid
    [ "$scope" = group ] && target=-$pid
    kill -TERM -- "$target" 2>/dev/null || true
    local deadline=$(( $(now_ms) + grace * 1000 ))
    while proc_alive "$pid" "$start" && [ "$(now_ms)" -lt "$deadline" ]; do sleep 0.1; done
    if proc_alive "$pid" "$start"; then
      log "$(basename "$file" .pid) (pid $pid) ignored SIGTERM for ${grace}s; sending SIGKILL"
      kill -KILL -- "$target" 2>/dev/null || true
      while proc_alive "$pid" "$start"; do sleep 0.1; done
    fi
  fi
  rm -f "$file"
}

print_log_tails() {
  local f
  for f in "$dir"/logs/*.log; do
    [ -f "$f" ] || continue
    echo "----- last 40 lines of $f -----" >&2
    tail -n 40 "$f" >&2 || true
  done
  echo "-----" >&2
}

# --- preflight -----------------------------------------------------------------------------

# What each tool is for, so a missing one is named with the reason.
required_tools=(
  "openssl:certificates, keys and tokens"
  "curl:health and readiness probes"
  "python3:picking free loopback ports"
  "setsid:running etcd and kube-apiserver in their own sessions"
  "flock:one up/down at a time per DIR"
)

check_tools() {
  local entry tool
  for entry in "${required_tools[@]}"; do
    tool=${entry%%:*}
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (needed for ${entry#*:})"
  done
}

# `up` writes EC P-256 keys; an OpenSSL without them fails halfway through the PKI otherwise.
check_openssl_ec() {
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 >/dev/null 2>&1 ||
    die "$(command -v openssl) cannot generate EC P-256 keys ($(openssl version 2>&1))"
}

cmd_preflight() {
  [ $# -le 1 ] || usage
  local d=${1:-$default_dir} anchor
  case $d in *[[:space:]]*) die "DIR must not contain whitespace: '$d'" ;; esac
  anchor=$d
  while [ ! -d "$anchor" ]; do anchor=$(dirname "$anchor"); done
  [ -w "$anchor" ] || die "cannot create $d: $anchor is not writable"
  check_tools
  check_openssl_ec
  free_ports >/dev/null || die "python3 could not bind loopback ports"
  local bins
  if [ -n "${K8S_BIN_DIR:-}" ]; then
    local b
    for b in etcd kube-apiserver; do
      [ -x "$K8S_BIN_DIR/$b" ] || die "K8S_BIN_DIR=$K8S_BIN_DIR has no $b"
    done
    bins=$K8S_BIN_DIR
  elif ! bins=$("$here/build.sh" --preflight 2>/dev/null); then
    "$here/build.sh" --preflight >/dev/null # again, to show why
    exit 1
  fi
  local etcd_data="$d (no writable /dev/shm)"
  [ -d /dev/shm ] && [ -w /dev/shm ] && etcd_data=/dev/shm
  log "preflight ok: tools present; binaries ${bins:-to be built by build.sh}; directory $d; etcd data on $etcd_data"
}

# --- directory handling --------------------------------------------------------------------

resolve_dir() {
  local d=${1:-$default_dir}
  case $d in *[[:space:]]*) die "DIR must not contain whitespace: '$d'" ;; esac
  mkdir -p "$d"
  dir=$(cd "$d" && pwd)
}

# One up/down at a time per DIR. $1: seconds to wait for the lock (default 60, 0 = forever).
lock_dir() {
  local wait=${1:-60}
  exec 9>"$dir/.lock"
  if [ "$wait" = 0 ]; then flock 9; else flock -w "$wait" 9; fi ||
    die "another testenv.sh is working on $dir"
}

any_alive() {
  local f
  for f in "$dir"/run/etcd.pid "$dir"/run/kube-apiserver.pid; do
    pidfile_alive "$f" && return 0
  done
  return 1
}

# Stops everything `up` recorded in DIR and removes the etcd data. Safe to call repeatedly.
teardown() {
  local watcher="$dir/run/watcher.pid" pid start
  if [ -f "$watcher" ]; then
    read -r pid start <"$watcher" || true
    # The watcher itself calls teardown: it must not signal its own process group.
    if [ "${TESTENV_WATCHER_PID:-}" = "${pid:-}" ]; then rm -f "$watcher"; else stop_pidfile "$watcher" 5 group; fi
  fi
  stop_servers
  rm -f "$dir/env"
}

# Stops etcd and kube-apiserver and removes the etcd data; the watcher keeps running.
stop_servers() {
  stop_pidfile "$dir/run/kube-apiserver.pid" 20
  stop_pidfile "$dir/run/etcd.pid" 20
  if [ -L "$dir/etcd-data" ]; then
    local data
    data=$(readlink "$dir/etcd-data")
    case $data in */kcm-testenv-etcd.*) rm -rf "$data" ;; esac
    rm -f "$dir/etcd-data"
  fi
  rm -rf "$dir/etcd-data-dir"
}

# --- certificates, tokens, kubeconfigs -----------------------------------------------------

# EC P-256 keys: fast to generate, accepted by Go's TLS stack and by rustls.
new_ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# new_ca NAME CN: a self-signed CA (CA:TRUE), only ever used to sign leaves.
new_ca() {
  new_ec_key "$pki/$1.key"
  openssl req -x509 -new -key "$pki/$1.key" -out "$pki/$1.crt" -days 3650 -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" 2>/dev/null
}

# new_leaf NAME CA SUBJECT EXTENSIONS: a CA:FALSE certificate signed by CA. rustls rejects a
# certificate that is both the trust anchor and the end entity, hence the separate CA.
new_leaf() {
  local name=$1 ca=$2 subject=$3 extensions=$4
  new_ec_key "$pki/$name.key"
  openssl req -new -key "$pki/$name.key" -out "$pki/$name.csr" -subj "$subject" 2>/dev/null
  printf '%s\n' "basicConstraints=critical,CA:FALSE" "authorityKeyIdentifier=keyid" "$extensions" \
    >"$pki/$name.ext"
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/$ca.crt" -CAkey "$pki/$ca.key" \
    -CAcreateserial -out "$pki/$name.crt" -days 3650 -extfile "$pki/$name.ext" 2>/dev/null
  rm -f "$pki/$name.csr" "$pki/$name.ext"
}

generate_pki() {
  pki="$dir/pki"
  rm -rf "$pki"
  mkdir -p "$pki"
  new_ca ca "kcm-testenv serving CA"
  new_leaf serving ca "/CN=kube-apiserver" \
    "$(printf '%s\n' "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost")"
  new_ca client-ca "kcm-testenv client CA"
  # A client certificate for the same admin identity, for tools that prefer certificates.
  new_leaf admin-client client-ca "/O=system:masters/CN=admin-cert" \
    "$(printf '%s\n' "keyUsage=critical,digitalSignature" "extendedKeyUsage=clientAuth")"
  openssl genrsa -out "$pki/sa.key" 2048 2>/dev/null
  openssl rsa -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
  rm -f "$pki"/*.srl
  chmod 600 "$pki"/*.key
}

new_token() { openssl rand -hex 24; }

generate_tokens() {
  admin_token=$(new_token)
  restricted_token=$(new_token)
  kcm_token=$(new_token)
  kcm_rs_token=$(new_token)
  # token,user,uid,"groups" (the apiserver reads this file only at start-up).
  {
    echo "$admin_token,admin,uid-admin,\"system:masters\""
    echo "$restricted_token,restricted-user,uid-restricted-user"
    echo "$kcm_token,system:kube-controller-manager,uid-kube-controller-manager"
    echo "$kcm_rs_token,rust-controller-manager,uid-rust-controller-manager"
  } >"$dir/tokens.csv"
  chmod 600 "$dir/tokens.csv"
}

# write_kubeconfig FILE USER TOKEN
write_kubeconfig() {
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: testenv
  cluster:
    server: $apiserver_url
    certificate-authority: $dir/pki/ca.crt
users:
- name: $2
  user:
    token: $3
contexts:
- name: $2
  context:
    cluster: testenv
    user: $2
    namespace: default
current-context: $2
EOF
  chmod 600 "$1"
}

# --- start-up ------------------------------------------------------------------------------

resolve_bin_dir() {
  if [ -z "${K8S_BIN_DIR:-}" ]; then
    log "K8S_BIN_DIR is not set; asking build.sh (builds the binaries on a cache miss)"
    K8S_BIN_DIR=$("$here/build.sh" | tail -n 1)
  fi
  local b
  for b in etcd kube-apiserver; do
    [ -x "$K8S_BIN_DIR/$b" ] || die "$K8S_BIN_DIR/$b is missing; run tests/env/build.sh"
  done
}

# Three distinct free loopback ports. Holding all sockets open until the end keeps them
# distinct; another process may still take one before etcd binds it, hence the retry in `up`.
free_ports() {
  python3 -c '
import socket
socks = []
for _ in range(3):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
'
}

http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$@" 2>/dev/null || true; }

admin_get() {
  http_code --cacert "$dir/pki/ca.crt" -H "Authorization: Bearer $admin_token" "$apiserver_url$1"
}

# wait_for NAME DEADLINE_MS PROBE...: polls PROBE every 100 ms until it succeeds. Fails early
# when a recorded process has exited.
wait_for() {
  local what=$1 deadline=$2
  shift 2
  until "$@"; do
    local p
    for p in etcd kube-apiserver; do
      if [ -f "$dir/run/$p.pid" ] && ! pidfile_alive "$dir/run/$p.pid"; then
        log "$p exited while waiting for $what"
        return 1
      fi
    done
    if [ "$(now_ms)" -ge "$deadline" ]; then
      log "timed out waiting for $what"
      return 1
    fi
    sleep 0.1
  done
}

etcd_healthy() { [ "$(http_code "http://127.0.0.1:$etcd_port/health")" = 200 ]; }
apiserver_ready() { [ "$(admin_get /readyz)" = 200 ]; }
default_namespaces_exist() {
  [ "$(admin_get /api/v1/namespaces/default)" = 200 ] &&
    [ "$(admin_get /api/v1/namespaces/kube-system)" = 200 ]
}

# Starts kube-apiserver against etcd on $etcd_port, serving on $apiserver_port.
start_apiserver() {
  # ServiceAccount admission would demand a `default` ServiceAccount in every namespace
  # (created only by a serviceaccount controller); TaintNodesByCondition would taint every
  # new Node not-ready (removed only by the node-lifecycle controller); and
  # StorageObjectInUseProtection adds finalizers only the pv/pvc-protection controllers
  # remove. --advertise-address keeps the apiserver off the host's default route, and loopback
  # Endpoints fail validation, hence --endpoint-reconciler-type=none.
  # shellcheck disable=SC2086 # TESTENV_APISERVER_ARGS is a word-split list of extra flags
  start_process kube-apiserver "$K8S_BIN_DIR/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$etcd_port" \
    --bind-address=127.0.0.1 --secure-port="$apiserver_port" \
    --advertise-address=127.0.0.1 --endpoint-reconciler-type=none \
    --tls-cert-file="$dir/pki/serving.crt" --tls-private-key-file="$dir/pki/serving.key" \
    --client-ca-file="$dir/pki/client-ca.crt" \
    --token-auth-file="$dir/tokens.csv" \
    --authorization-mode=RBAC \
    --service-account-issuer="https://127.0.0.1:$apiserver_port" \
    --service-account-key-file="$dir/pki/sa.pub" \
    --service-account-signing-key-file="$dir/pki/sa.key" \
    --service-cluster-ip-range=10.0.0.0/24 \
    --allow-privileged=true \
    --disable-admission-plugins=ServiceAccount,TaintNodesByCondition,StorageObjectInUseProtection \
    --v="${TESTENV_APISERVER_V:-1}" ${TESTENV_APISERVER_ARGS:-}
}

# One attempt at starting etcd + kube-apiserver. Returns 0 when ready, 1 on failure and
# 75 when a port was taken in the meantime (worth retrying with new ports).
start_once() {
  local ports
  read -r etcd_port peer_port apiserver_port <<<"$(free_ports)"
  apiserver_url="https://127.0.0.1:$apiserver_port"
  for ports in "$etcd_port" "$peer_port" "$apiserver_port"; do
    [ -n "$ports" ] || die "could not pick free ports (python3 missing?)"
  done

  # etcd data on tmpfs when there is one: faster and nothing to clean up on disk.
  rm -f "$dir/etcd-data"
  rm -rf "$dir/etcd-data-dir"
  local data
  if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    data=$(mktemp -d /dev/shm/kcm-testenv-etcd.XXXXXX)
    ln -s "$data" "$dir/etcd-data"
  else
    data="$dir/etcd-data-dir"
    mkdir -p "$data"
  fi

  write_kubeconfig "$dir/admin.kubeconfig" admin "$admin_token"
  write_kubeconfig "$dir/restricted.kubeconfig" restricted-user "$restricted_token"
  write_kubeconfig "$dir/kcm.kubeconfig" system:kube-controller-manager "$kcm_token"
  write_kubeconfig "$dir/kcm-rs.kubeconfig" rust-controller-manager "$kcm_rs_token"

  local t0 t_etcd t_api
  t0=$(now_ms)
  # shellcheck disable=SC2086 # TESTENV_ETCD_ARGS is a word-split list of extra flags
  start_process etcd "$K8S_BIN_DIR/etcd" \
    --name=testenv --data-dir="$data" \
    --listen-client-urls="http://127.0.0.1:$etcd_port" \
    --advertise-client-urls="http://127.0.0.1:$etcd_port" \
    --listen-peer-urls="http://127.0.0.1:$peer_port" \
    --initial-advertise-peer-urls="http://127.0.0.1:$peer_port" \
    --initial-cluster="testenv=http://127.0.0.1:$peer_port" \
    --unsafe-no-fsync=true --log-level=warn ${TESTENV_ETCD_ARGS:-}
  local deadline=$(( t0 + ${TESTENV_START_TIMEOUT:-120} * 1000 ))
  wait_for "etcd /health" "$deadline" etcd_healthy || return "$(failure_kind)"
  t_etcd=$(now_ms)

  start_apiserver
  wait_for "kube-apiserver /readyz" "$deadline" apiserver_ready || return "$(failure_kind)"
  wait_for "namespaces default and kube-system" "$deadline" default_namespaces_exist ||
    return "$(failure_kind)"
  t_api=$(now_ms)
  log "etcd healthy after $(( t_etcd - t0 )) ms; kube-apiserver ready after $(( t_api - t0 )) ms"
}

failure_kind() {
  if grep -qs "address already in use" "$dir"/logs/etcd.log "$dir"/logs/kube-apiserver.log; then
    echo 75
  else
    echo 1
  fi
}

write_env_file() {
  {
    echo "# Written by tests/env/testenv.sh up; source it to talk to this environment."
    printf 'export KUBECONFIG=%q APISERVER_URL=%q ADMIN_TOKEN=%q CA_FILE=%q K8S_BIN_DIR=%q\n' \
      "$dir/admin.kubeconfig" "$apiserver_url" "$admin_token" "$dir/pki/ca.crt" "$K8S_BIN_DIR"
    printf 'export TESTENV_DIR=%q ETCD_URL=%q RESTRICTED_KUBECONFIG=%q KCM_KUBECONFIG=%q KCM_RS_KUBECONFIG=%q\n' \
      "$dir" "http://127.0.0.1:$etcd_port" "$dir/restricted.kubeconfig" "$dir/kcm.kubeconfig" \
      "$dir/kcm-rs.kubeconfig"
  } >"$dir/env.tmp"
  mv "$dir/env.tmp" "$dir/env"
}

# Starts a detached guard that, once OWNER (started at OWNER_START) is gone, runs MODE on
# TARGET. Prints the guard's pid-file line.
start_guard() {
  local owner=$1 owner_start=$2 mode=$3 target=$4 logfile=$5
  setsid "$self" _guard "$owner" "$owner_start" "$mode" "$target" </dev/null >>"$logfile" 2>&1 9>&- &
  echo "$! $(proc_start_time $! || echo unknown)"
}

cmd_up() {
  local owner=""
  while [ $# -gt 0 ]; do
    case $1 in
      --owner-pid) owner=${2:?--owner-pid needs a PID}; shift 2 ;;
      --owner-pid=*) owner=${1#*=}; shift ;;
      -h|--help) usage ;;
      -*) die "unknown option $1" ;;
      *) break ;;
    esac
  done
  [ $# -le 1 ] || usage
  local owner_start=""
  if [ -n "$owner" ]; then
    owner_start=$(proc_start_time "$owner") || die "owner pid $owner is not running"
  fi
  resolve_dir "${1:-}"
  lock_dir
  if any_alive; then
    die "an environment is already up in $dir (see '$self status $dir'); run down first"
  fi
  teardown # leftovers of an environment whose processes died
  check_tools
  resolve_bin_dir
  mkdir -p "$dir/logs" "$dir/run"
  rm -f "$dir"/logs/*.log
  trap 'log "interrupted; stopping what was started"; teardown; exit 130' INT TERM HUP
  # The guard starts before any server so that an owner dying mid-start still cleans up.
  if [ -n "$owner" ]; then
    start_guard "$owner" "$owner_start" env "$dir" "$dir/logs/watcher.log" >"$dir/run/watcher.pid"
  fi
  generate_pki
  generate_tokens

  local attempt rc
  for attempt in 1 2 3; do
    rc=0
    start_once || rc=$?
    [ "$rc" = 0 ] && break
    if [ "$rc" = 75 ] && [ "$attempt" -lt 3 ]; then
      log "a port was taken before we could bind it; retrying with new ports"
      stop_servers
      continue
    fi
    log "the control plane did not start in $dir"
    print_log_tails
    teardown
    exit 1
  done

  write_env_file
  trap - INT TERM HUP
  log "up: $apiserver_url (source $dir/env)"
}

cmd_down() {
  [ $# -le 1 ] || usage
  resolve_dir "${1:-}"
  lock_dir
  teardown
  log "down: $dir"
}

cmd_status() {
  [ $# -le 1 ] || usage
  resolve_dir "${1:-}"
  local p up=0 down=0 pid start
  for p in etcd kube-apiserver watcher; do
    if pidfile_alive "$dir/run/$p.pid"; then
      read -r pid start <"$dir/run/$p.pid"
      echo "$p: running (pid $pid)"
      [ "$p" = watcher ] || up=$((up + 1))
    else
      echo "$p: not running"
      [ "$p" = watcher ] || down=$((down + 1))
    fi
  done
  [ "$up" = 0 ] && return 3
  [ "$down" = 0 ] && [ -f "$dir/env" ] || return 1
  # shellcheck disable=SC1091 # written by `up`
  . "$dir/env"
  local readyz url=${APISERVER_URL:-} token=${ADMIN_TOKEN:-} ca=${CA_FILE:-}
  readyz=$(curl -s --max-time 5 --cacert "$ca" -H "Authorization: Bearer $token" \
    "$url/readyz" 2>/dev/null || true)
  echo "readyz: ${readyz:-no answer} ($url)"
  [ "$readyz" = ok ]
}

cmd_reap() {
  local owner=""
  while [ $# -gt 0 ]; do
    case $1 in
      --owner-pid) owner=${2:?--owner-pid needs a PID}; shift 2 ;;
      --owner-pid=*) owner=${1#*=}; shift ;;
      *) break ;;
    esac
  done
  [ -n "$owner" ] && [ $# = 1 ] || usage
  local owner_start piddir
  owner_start=$(proc_start_time "$owner") || die "owner pid $owner is not running"
  mkdir -p "$1"
  piddir=$(cd "$1" && pwd)
  start_guard "$owner" "$owner_start" procs "$piddir" "$piddir/reaper.log" >"$piddir/reaper.pid"
}

# Internal: the detached guard started by `up --owner-pid` and by `reap`.
cmd_guard() {
  local owner=$1 owner_start=$2 mode=$3 target=$4
  export TESTENV_WATCHER_PID=$$
  # `down` stops this guard itself; a removed PIDDIR means nothing is left to guard.
  while proc_alive "$owner" "$owner_start"; do
    [ "$mode" = procs ] && [ ! -d "$target" ] && exit 0
    sleep 1
  done
  echo "$(date -Is) owner pid $owner is gone; stopping what it left behind in $target"
  case $mode in
    env)
      dir=$target
      lock_dir 0 # `up` may still be running for a dead owner; tear down after it
      teardown
      ;;
    procs)
      local f
      for f in "$target"/*.pid; do
        [ -f "$f" ] && [ "$(basename "$f")" != reaper.pid ] && stop_pidfile "$f" 5
      done
      rm -f "$target/reaper.pid"
      ;;
  esac
}

# Stops kube-apiserver and starts it again on the same port against the same etcd, as an
# apiserver upgrade or crash would: open watches break, and the new watch cache does not
# know the resourceVersions clients resume from (410 Gone, relist).
cmd_restart_apiserver() {
  [ $# -le 1 ] || usage
  resolve_dir "${1:-}"
  lock_dir
  [ -f "$dir/env" ] || die "no environment in $dir"
  # shellcheck disable=SC1091 # written by `up`
  . "$dir/env"
  apiserver_port=${APISERVER_URL##*:}
  etcd_port=${ETCD_URL##*:}
  admin_token=$ADMIN_TOKEN
  apiserver_url=$APISERVER_URL
  pidfile_alive "$dir/run/kube-apiserver.pid" || die "kube-apiserver is not running in $dir"
  local t0
  t0=$(now_ms)
  stop_pidfile "$dir/run/kube-apiserver.pid" 20
  [ -f "$dir/logs/kube-apiserver.log" ] && mv "$dir/logs/kube-apiserver.log" "$dir/logs/kube-apiserver.previous.log"
  start_apiserver
  local deadline=$(( t0 + ${TESTENV_START_TIMEOUT:-120} * 1000 ))
  if ! wait_for "kube-apiserver /readyz" "$deadline" apiserver_ready; then
    print_log_tails
    die "kube-apiserver did not come back in $dir"
  fi
  log "kube-apiserver restarted in $(( $(now_ms) - t0 )) ms"
}

case ${1:-} in
  up) shift; cmd_up "$@" ;;
  preflight) shift; cmd_preflight "$@" ;;
  down) shift; cmd_down "$@" ;;
  status) shift; cmd_status "$@" ;;
  restart-apiserver) shift; cmd_restart_apiserver "$@" ;;
  reap) shift; cmd_reap "$@" ;;
  _guard) shift; cmd_guard "$@" ;;
  *) usage ;;
esac
