#!/usr/bin/env bash
# make demo: imsentinel on a local sandbox, with real servers.
#
# Starts a Redis primary with 2 replicas, a MariaDB primary with 2 semi-sync
# GTID replicas, a routing Redis
# and a fleet of three imsentinel daemons on loopback ports in a temp dir.
# Then: imctl status and the route; a Redis replica killed and back (SDOWN);
# the Redis primary killed: detection, agreement, election, promotion, the
# new route and the events as they happen; a forced failover, dry run
# first; a MariaDB replica killed and back. Everything it started is
# stopped by PID and the temp dir removed when it ends, fails or gets Ctrl-C.
#
# DEMO_PAUSE=0 (the default when stdin is not a terminal, as in CI) runs
# without waiting for Enter between acts. DEMO_KEEP=1 keeps the sandbox
# (the daemons' logs) after the processes are stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"

BIN=${BIN:-$PWD/bin}
if [ -t 0 ]; then DEMO_PAUSE=${DEMO_PAUSE:-1}; else DEMO_PAUSE=${DEMO_PAUSE:-0}; fi
bold=""; reset=""
if [ -t 1 ]; then bold=$'\e[1m'; reset=$'\e[0m'; fi

say()  { printf '\n%s==> %s%s\n' "$bold" "$*" "$reset"; }
note() { printf '    %s\n' "$*"; }
pause() {
  if [ "$DEMO_PAUSE" = 1 ]; then read -r -p "    (Enter to go on) " _ || true; fi
}
die() { printf 'demo: %s\n' "$*" >&2; exit 1; }

for b in redis-server redis-cli mariadbd mariadb-install-db mariadb; do
  command -v "$b" >/dev/null || die "$b is missing: run scripts/install-deps.sh (make deps)"
done
[ -x "$BIN/imsentinel" ] && [ -x "$BIN/imctl" ] || die "no binaries in $BIN: run make build"

SANDBOX=$(mktemp -d "${TMPDIR:-/tmp}/imsentinel-demo.XXXXXX")
PIDS=()
cleanup() {
  local code=$?
  trap - EXIT INT TERM
  say "Stopping everything the demo started"
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "${DEMO_KEEP:-0}" = 1 ]; then
    note "stopped ${#PIDS[@]} processes, kept $SANDBOX (DEMO_KEEP=1): logs and data are there"
  else
    rm -rf "$SANDBOX"
    note "stopped ${#PIDS[@]} processes, removed $SANDBOX"
  fi
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Ports come from below the kernel's ephemeral range, so an outgoing
# connection cannot take one between the pick and the bind.
# kill_child PID: kill -9 a child, reap it, and take it off the cleanup list
# so cleanup never signals a PID that may have been reused.
kill_child() {
  kill -KILL "$1"; wait "$1" 2>/dev/null || true
  local keep=() pid
  for pid in "${PIDS[@]}"; do [ "$pid" = "$1" ] || keep+=("$pid"); done
  PIDS=("${keep[@]}")
}

USED_PORTS=" "
EPHEMERAL_LOW=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
free_port() {
  local p
  while :; do
    p=$(( 20000 + RANDOM % (EPHEMERAL_LOW - 20000) ))
    case "$USED_PORTS" in *" $p "*) continue ;; esac
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      USED_PORTS+="$p "; echo "$p"; return
    fi
  done
}

wait_until() { # wait_until SECONDS DESCRIPTION COMMAND... ; fails the demo on timeout
  local secs=$1 what=$2; shift 2
  local deadline=$((SECONDS + secs))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  [ -n "${LOG_ON_FAIL:-}" ] && [ -f "$LOG_ON_FAIL" ] && tail -20 "$LOG_ON_FAIL" | sed 's/^/    | /' >&2
  die "timed out after ${secs}s waiting for $what"
}

# --- Redis ----------------------------------------------------------------
start_redis() { # start_redis NAME PORT [REPLICAOF-PORT]; sets REDIS_PID
  local dir="$SANDBOX/$1"; mkdir -p "$dir"
  {
    echo "port $2"; echo "bind 127.0.0.1"; echo "dir $dir"; echo "save ''"; echo "appendonly no"
    echo "repl-ping-replica-period 1"; echo "repl-diskless-sync-delay 0"
    [ -n "${3:-}" ] && echo "replicaof 127.0.0.1 $3"
  } > "$dir/redis.conf"
  redis-server "$dir/redis.conf" > "$dir/redis.log" 2>&1 &
  REDIS_PID=$!; PIDS+=("$REDIS_PID")
  LOG_ON_FAIL="$dir/redis.log" wait_until 30 "redis on port $2" redis-cli -p "$2" ping
}

# --- MariaDB --------------------------------------------------------------
MARIA_TEMPLATE="$SANDBOX/mariadb-template"
make_mariadb_template() {
  cat > "$SANDBOX/init.sql" <<SQL
FLUSH PRIVILEGES;
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY 'replpass';
GRANT REPLICATION SLAVE, REPLICATION SLAVE ADMIN, BINLOG MONITOR, SLAVE MONITOR ON *.* TO 'repl'@'127.0.0.1';
CREATE USER 'imsentinel'@'127.0.0.1' IDENTIFIED BY 'imsentinelpass';
GRANT ALL PRIVILEGES ON *.* TO 'imsentinel'@'127.0.0.1';
SQL
  mariadb-install-db --no-defaults --datadir="$MARIA_TEMPLATE" --auth-root-authentication-method=normal \
    --skip-test-db --skip-name-resolve --innodb-log-file-size=32M --innodb-buffer-pool-size=64M \
    --extra-file="$SANDBOX/init.sql" > "$SANDBOX/install-db.log" 2>&1 \
    || die "mariadb-install-db failed: see $SANDBOX/install-db.log"
}

start_mariadb() { # start_mariadb NAME PORT SERVER_ID; sets MARIA_PID
  local dir="$SANDBOX/$1"; mkdir -p "$dir"
  [ -d "$dir/data" ] || cp -a "$MARIA_TEMPLATE" "$dir/data"
  cat > "$dir/my.cnf" <<CNF
[mariadbd]
user=$(id -un)
datadir=$dir/data
port=$2
bind-address=127.0.0.1
socket=$dir/mysqld.sock
pid-file=$dir/mysqld.pid
log-error=$dir/error.log
skip-name-resolve
server_id=$3
log_bin=$dir/data/binlog
log_slave_updates=ON
binlog_format=ROW
gtid_strict_mode=ON
read_only=ON
skip_slave_start
relay_log_recovery=ON
report_host=127.0.0.1
report_port=$2
innodb_buffer_pool_size=64M
innodb_log_file_size=32M
rpl_semi_sync_master_wait_point=AFTER_SYNC
rpl_semi_sync_master_wait_no_slave=ON
rpl_semi_sync_master_timeout=86400000
rpl_semi_sync_slave_enabled=ON
CNF
  mariadbd --defaults-file="$dir/my.cnf" > /dev/null 2>&1 &
  MARIA_PID=$!; PIDS+=("$MARIA_PID")
  LOG_ON_FAIL="$dir/error.log" wait_until 60 "mariadb on port $2" \
    mariadb --no-defaults -h127.0.0.1 -P"$2" -uroot -e 'SELECT 1'
}

sql() { local port=$1; shift; mariadb --no-defaults -h127.0.0.1 -P"$port" -uroot -N -e "$*"; }

say "Starting a sandbox in $SANDBOX"
R1=$(free_port); R2=$(free_port); R3=$(free_port); ROUTING=$(free_port)
M1=$(free_port); M2=$(free_port); M3=$(free_port)

start_redis redis-1 "$R1";           R1_PID=$REDIS_PID
start_redis redis-2 "$R2" "$R1";     R2_PID=$REDIS_PID
start_redis redis-3 "$R3" "$R1"
start_redis routing "$ROUTING"
note "Redis cluster 'sessions': primary 127.0.0.1:$R1, replicas 127.0.0.1:$R2 and :$R3"

make_mariadb_template
start_mariadb maria-1 "$M1" 1
start_mariadb maria-2 "$M2" 2;       M2_PID=$MARIA_PID
start_mariadb maria-3 "$M3" 3
sql "$M1" "SET GLOBAL rpl_semi_sync_master_enabled=ON; SET GLOBAL read_only=OFF"
for p in "$M2" "$M3"; do
  sql "$p" "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$M1, MASTER_USER='repl', MASTER_PASSWORD='replpass', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=1; START SLAVE"
done
semi_clients() { [ "$(sql "$M1" "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='RPL_SEMI_SYNC_MASTER_CLIENTS'")" = 2 ]; }
wait_until 60 "2 semi-sync replicas" semi_clients
sql "$M1" "CREATE DATABASE im; CREATE TABLE im.messages (id BIGINT PRIMARY KEY, body TEXT); INSERT INTO im.messages VALUES (1, 'hello')"
note "MariaDB cluster 'msg-shard-01': primary 127.0.0.1:$M1, semi-sync replicas 127.0.0.1:$M2 and :$M3"

GOSSIPS=(); ADMINS=()
for i in 1 2 3; do GOSSIPS+=("$(free_port)"); ADMINS+=("$(free_port)"); done
members="{id: s1, address: \"127.0.0.1:${GOSSIPS[0]}\"}, {id: s2, address: \"127.0.0.1:${GOSSIPS[1]}\"}, {id: s3, address: \"127.0.0.1:${GOSSIPS[2]}\"}"
for i in 1 2 3; do
  cat > "$SANDBOX/s$i.yaml" <<YAML
sentinel: {id: s$i, data_dir: $SANDBOX/state-s$i}
fleet:
  name: demo
  members: [$members]
gossip: {bind: "127.0.0.1:${GOSSIPS[$((i-1))]}", profile: local}
admin: {listen: "127.0.0.1:${ADMINS[$((i-1))]}"}
routing: {address: "127.0.0.1:$ROUTING"}
detection: {probe_interval: 200ms, probe_timeout: 150ms, min_down_after: 1s, down_after: 5s}
failover: {lease: 5s}
clusters:
  - name: sessions
    kind: redis
    primary: "127.0.0.1:$R1"     # replicas are discovered
    quorum: 2
    fence_wait: strict
    self_fence: {enabled: true, min_replicas: 1, max_lag: 2s}
  - name: msg-shard-01
    kind: mysql
    primary: "127.0.0.1:$M1"
    quorum: 2
    credentials: {username: imsentinel, password: imsentinelpass}
YAML
done
say "Checking a config offline: imsentinel check-config"
"$BIN/imsentinel" check-config --config "$SANDBOX/s1.yaml"

say "Starting a fleet of three imsentinel daemons (s1, s2, s3)"
for i in 1 2 3; do
  "$BIN/imsentinel" --config "$SANDBOX/s$i.yaml" > "$SANDBOX/s$i.log" 2>&1 &
  PIDS+=("$!")
done
export IMCTL_SENTINEL="127.0.0.1:${ADMINS[0]},127.0.0.1:${ADMINS[1]},127.0.0.1:${ADMINS[2]}"
export IMCTL_ROUTING="127.0.0.1:$ROUTING"
LOG_ON_FAIL="$SANDBOX/s1.log" wait_until 30 "the admin API" "$BIN/imctl" status

all_up() { [ "$("$BIN/imctl" status | grep -o '(replica' | wc -l)" -ge 4 ]; }
LOG_ON_FAIL="$SANDBOX/s1.log" wait_until 60 "every replica discovered" all_up
routed() { "$BIN/imctl" route get sessions -o json | grep -q "\"primary\": *\"127.0.0.1:$1\""; }
note "A fresh fleet abstains for one lease, then a steward commits the seed primary and writes its route."
LOG_ON_FAIL="$SANDBOX/s1.log" wait_until 60 "the route of sessions" routed "$R1"
say "imctl sentinels: the fleet"
"$BIN/imctl" sentinels
say "imctl status: both clusters, replicas discovered from their primaries"
"$BIN/imctl" status
say "imctl route get sessions: what IM gateways read from the routing Redis"
"$BIN/imctl" route get sessions
pause

instance_sdown() { "$BIN/imctl" status | grep -q "127.0.0.1:$1 (SDOWN"; }
instance_back() { "$BIN/imctl" status | grep -q "127.0.0.1:$1 (replica"; }

say "Killing the Redis replica 127.0.0.1:$R2 (kill -9): SDOWN, no failover"
kill_child "$R2_PID"
wait_until 60 "SDOWN of 127.0.0.1:$R2" instance_sdown "$R2"
"$BIN/imctl" status
note "The EWMA detector's window adapts to each link; SDOWN needs silence past it and 2 missed rounds."
say "Restarting it"
redis-server "$SANDBOX/redis-2/redis.conf" > "$SANDBOX/redis-2/redis.log" 2>&1 &
R2_PID=$!; PIDS+=("$R2_PID")
wait_until 60 "127.0.0.1:$R2 back" instance_back "$R2"
"$BIN/imctl" status
pause

say "Killing the Redis primary 127.0.0.1:$R1 (kill -9): the fleet fails it over"
note "imctl events --follow --cluster sessions shows it as it happens:"
"$BIN/imctl" events --follow --cluster sessions --since "$("$BIN/imctl" events --cluster sessions -o json --limit 1 | grep -o '"seq": *[0-9]*' | tail -1 | grep -o '[0-9]*$' || echo 0)" \
  > "$SANDBOX/events.txt" 2>&1 &
EVENTS_PID=$!; PIDS+=("$EVENTS_PID")
kill_child "$R1_PID"
moved() { ! routed "$R1" && "$BIN/imctl" route get sessions -o json | grep -q '"primary"'; }
LOG_ON_FAIL="$SANDBOX/s1.log" wait_until 60 "the route to move" moved
sleep 1
kill_child "$EVENTS_PID"
grep -E 'sdown|odown|elected|failover|step|committed|route' "$SANDBOX/events.txt" | head -40 | sed 's/^/    /'
say "imctl route get sessions: the new primary, at a higher epoch"
"$BIN/imctl" route get sessions
say "imctl status"
"$BIN/imctl" status
pause

settled() { "$BIN/imctl" status | grep '^sessions ' | grep -q ' ok '; }
LOG_ON_FAIL="$SANDBOX/s1.log" wait_until 60 "the fleet to settle (no lease held)" settled
NEW=$("$BIN/imctl" route get sessions -o json | grep -o '"primary": *"[^"]*"' | grep -o '127.0.0.1:[0-9]*')
OTHER=127.0.0.1:$R3
[ "$NEW" = "$OTHER" ] && OTHER=127.0.0.1:$R2
say "A forced failover to $OTHER: first the dry run (plan, ranking, what it overrides)"
"$BIN/imctl" failover sessions --to "$OTHER" --dry-run
pause
say "Now for real (--yes skips the confirmation question)"
"$BIN/imctl" failover sessions --to "$OTHER" --yes
"$BIN/imctl" route get sessions
pause

say "Killing the MariaDB replica 127.0.0.1:$M2 (kill -9): SDOWN, a replica: no failover"
kill_child "$M2_PID"
wait_until 60 "SDOWN of 127.0.0.1:$M2" instance_sdown "$M2"
"$BIN/imctl" status
say "Restarting it and resuming replication"
start_mariadb maria-2 "$M2" 2
sql "$M2" "START SLAVE"
wait_until 60 "127.0.0.1:$M2 back" instance_back "$M2"
"$BIN/imctl" status

note "Full detail of every instance: imctl cluster show sessions, or curl -s http://127.0.0.1:${ADMINS[0]}/v1/clusters"
pause
