#!/usr/bin/env bash
# A one-node Slurm cluster on localhost for the tests and for trying the Slurm scripts by hand.
#   scripts/local-slurm.sh start DIR   # munged, slurmctld, slurmd; prints `export SLURM_CONF=DIR/slurm.conf`
#   scripts/local-slurm.sh stop DIR    # stops the three daemons by the PIDs written under DIR
# Needs Debian's slurm-wlm and munge (ATTNPREC_SLURM_TEST=1 scripts/install-deps.sh) and root
# (slurmd starts jobs as their user). Everything lives in DIR: its own munge key and socket,
# state, spool, logs and ports, so the machine's own munge/Slurm (if any) are left alone.
# What a container needs: no cgroups (proctrack/linuxproc, task/none), no accounting, and the
# node's real CPU count (a node that claims more CPUs than it has is drained).
set -euo pipefail
die() { echo "local-slurm: $*" >&2; exit 1; }
cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || die "usage: scripts/local-slurm.sh start|stop DIR"

stop() {
  for d in slurmd slurmctld munged; do
    f="$dir/$d.pid"
    [ -s "$f" ] || continue
    pid=$(cat "$f")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$f"
  done
}

# Starts a daemon with no descriptor of ours but 0-2 (to /dev/null and DIR/log): a caller
# that waits for this script to close a pipe or socket (Foundation's Process does, on Linux)
# would otherwise wait for the daemons too.
daemon() {
  local name=$1; shift
  ( for fd in $(ls "/proc/$BASHPID/fd"); do [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null; done
    exec "$@" </dev/null >"$dir/log/$name.out" 2>&1 )
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start() {
  for b in munged slurmctld slurmd sbatch; do
    command -v "$b" >/dev/null || [ -x "/usr/sbin/$b" ] || die "$b not found; install slurm-wlm and munge (ATTNPREC_SLURM_TEST=1 scripts/install-deps.sh)"
  done
  [ "$(id -u)" -eq 0 ] || die "needs root (slurmd starts jobs as their user)"
  mkdir -p "$dir"; chmod 700 "$dir"
  dir=$(cd "$dir" && pwd)
  mkdir -p "$dir/state" "$dir/spool" "$dir/log"
  head -c 1024 /dev/urandom > "$dir/munge.key"; chmod 400 "$dir/munge.key"
  PATH=/usr/sbin:$PATH daemon munged munged --force --key-file="$dir/munge.key" --socket="$dir/munge.socket" \
    --pid-file="$dir/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munged.seed"
  local host cpus
  host=$(hostname -s); cpus=$(nproc)
  cat > "$dir/slurm.conf" <<CONF
ClusterName=attnprec-local
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
MpiDefault=none
ReturnToService=2
MinJobAge=300
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF="$dir/slurm.conf"
  PATH=/usr/sbin:$PATH daemon slurmctld slurmctld -f "$SLURM_CONF"
  PATH=/usr/sbin:$PATH daemon slurmd slurmd -f "$SLURM_CONF"
  # Ready when the node is idle (slurmd registered with slurmctld).
  for _ in $(seq 150); do
    state=$(sinfo -h -N -o %t 2>/dev/null | head -1 || true)
    [ "$state" = "idle" ] && { echo "export SLURM_CONF=$SLURM_CONF"; return 0; }
    sleep 0.2
  done
  echo "local-slurm: the node did not come up (state '${state:-none}'); logs in $dir/log" >&2
  tail -5 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
  stop; exit 1
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  *) die "usage: scripts/local-slurm.sh start|stop DIR" ;;
esac
