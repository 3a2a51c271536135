#!/bin/bash
# smbd benchmark: our smbd and Samba's smbd (Debian package `samba`) side by
# side, in one run, with the same smb.conf (only ports and directories
# differ) and the same clients:
#
#   - smbclient get and put of a 1 GiB file (MB/s, median of RUNS runs;
#     the file is compared byte for byte with cmp once per server),
#   - smbtorture smb2.bench.echo (unpinned, and with servers and client
#     pinned to CPU 0 with taskset) and smb2.bench.path-contention-shared,
#   - resident memory per idle connection: CONNS authenticated smbclient
#     sessions (connected to the share, waiting for commands) and the total
#     RSS (and PSS) of all the server's processes before and after,
#     divided by CONNS.
#
# Usage: bench/smbd-bench.sh            (from the repository root; root or
#                                          a user smbd may bind a high port as)
# Environment: SIZE_MIB (1024), RUNS (3), CONNS (50), TIMELIMIT (10),
#   NPROCS (4), SAMBA_SMBD (/usr/sbin/smbd), SKIP_BUILD=1, KEEP=1 (keep the
#   temp dir), ONLY=ours|samba (one server only, for profiling).
# Needs: Debian's samba, smbclient, samba-testsuite (smbtorture); taskset.

set -euo pipefail

SIZE_MIB=${SIZE_MIB:-1024}
RUNS=${RUNS:-3}
CONNS=${CONNS:-50}
TIMELIMIT=${TIMELIMIT:-10}
NPROCS=${NPROCS:-4}
SAMBA_SMBD=${SAMBA_SMBD:-/usr/sbin/smbd}
ONLY=${ONLY:-}
USER_NAME=root
PASSWORD=benchpass1

repo=$(cd "$(dirname "$0")/.." && pwd)
for t in smbclient smbtorture taskset cmp "$SAMBA_SMBD"; do
    command -v "$t" >/dev/null || {
        echo "smbd-bench: $t is missing (apt-get install samba smbclient samba-testsuite util-linux)" >&2
        exit 2
    }
done
[ "$(id -u)" = 0 ] || echo "smbd-bench: not root; Samba's smbd may refuse to start" >&2

if [ -z "${SKIP_BUILD:-}" ]; then
    echo "== building our smbd (release)" >&2
    (cd "$repo" && cargo build --release -p smbd --bins >&2)
fi
target=$(cd "$repo" && cargo metadata --format-version 1 --no-deps 2>/dev/null |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
OUR_SMBD=${OUR_SMBD:-${target:-$repo/target}/release/smbd}
OUR_SMBPASSWD=${OUR_SMBPASSWD:-${target:-$repo/target}/release/smbpasswd}

need_kib=$(((SIZE_MIB * 4 + 512) * 1024))
free_kib=$(df -Pk /tmp | awk 'NR == 2 { print $4 }')
if [ "$free_kib" -lt "$need_kib" ]; then
    echo "smbd-bench: /tmp has $((free_kib / 1024)) MiB free, needs $((need_kib / 1024)) MiB" >&2
    exit 2
fi

T=$(mktemp -d /tmp/smbd-bench.XXXXXX)
chmod 755 "$T"
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${pids[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    if [ -n "${KEEP:-}" ]; then
        echo "kept $T" >&2
    else
        rm -rf "$T"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A free TCP port on 127.0.0.1 above 20000 (never 4450/4451).
free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 40000))
        if ! ss -Hltn "sport = :$p" | grep -q . && ! grep -qx "$p" "$T/ports" 2>/dev/null; then
            echo "$p" >>"$T/ports"
            echo "$p"
            return
        fi
    done
}

# write_conf NAME PORT: $T/NAME/smb.conf and its directories.
write_conf() {
    local d=$T/$1
    mkdir -p "$d"/{state,cache,lock,private,run,share}
    chmod 700 "$d/private"
    chmod 777 "$d/share"
    cat >"$d/smb.conf" <<EOF
[global]
  workgroup = TESTGRP
  netbios name = BENCH$1
  smb ports = $2
  interfaces = lo
  bind interfaces only = yes
  disable netbios = yes
  state directory = $d/state
  cache directory = $d/cache
  lock directory = $d/lock
  private dir = $d/private
  pid directory = $d/run
  map to guest = bad user
[share]
  path = $d/share
  read only = no
  guest ok = yes
EOF
}

declare -A PORT SPID
# start NAME SMBD SMBPASSWD [taskset prefix...]
start() {
    local name=$1 smbd=$2 pw=$3
    shift 3
    local d=$T/$name
    "$@" "$smbd" -F --debug-stdout -d 0 -s "$d/smb.conf" </dev/null >"$d/log" 2>&1 &
    SPID[$name]=$!
    pids+=("$!")
    local i
    for i in $(seq 200); do
        if ss -Hltn "sport = :${PORT[$name]}" | grep -q .; then
            break
        fi
        kill -0 "${SPID[$name]}" 2>/dev/null || {
            echo "smbd-bench: $name smbd died:" >&2
            cat "$d/log" >&2
            exit 1
        }
        sleep 0.05
    done
    printf '%s\n%s\n' "$PASSWORD" "$PASSWORD" | "$pw" -c "$d/smb.conf" -s -a "$USER_NAME" >/dev/null
}

stop() {
    local name=$1 p=${SPID[$1]}
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
}

# The pids of process $1 and all its descendants.
tree_pids() {
    local p=$1 c
    echo "$p"
    for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do
        tree_pids "$c"
    done
}

# mem NAME: "RSS_KIB PSS_KIB" summed over the server's processes.
mem() {
    local rss=0 pss=0 p r s
    for p in $(tree_pids "${SPID[$1]}"); do
        r=$(awk '/^Rss:/ { print $2 }' /proc/"$p"/smaps_rollup 2>/dev/null || echo 0)
        s=$(awk '/^Pss:/ { print $2 }' /proc/"$p"/smaps_rollup 2>/dev/null || echo 0)
        rss=$((rss + ${r:-0}))
        pss=$((pss + ${s:-0}))
    done
    echo "$rss $pss"
}

declare -A R # R[row|name] = figure
rows=()
record() { # record ROW NAME VALUE
    R["$1|$2"]=$3
    local r
    for r in "${rows[@]}"; do [ "$r" = "$1" ] && return; done
    rows+=("$1")
}

servers=()
[ "$ONLY" != samba ] && servers+=(ours)
[ "$ONLY" != ours ] && servers+=(samba)

smbc() {
    local name=$1
    shift
    smbclient "//127.0.0.1/share" -p "${PORT[$name]}" -U "$USER_NAME%$PASSWORD" "$@"
}

# pin_server NAME CPUS: moves every thread of the server's processes.
pin_server() {
    local p
    for p in $(tree_pids "${SPID[$1]}"); do
        taskset -a -p -c "$2" "$p" >/dev/null 2>&1 || true
    done
}

# Idle connections: CONNS smbclients connected to the share, each waiting
# for a command on a fifo that this shell holds open.
bench_idle() {
    local name=$1 i n fds=() rss0 pss0 rss1 pss1
    sleep 1
    read -r rss0 pss0 <<<"$(mem "$name")"
    mkdir -p "$T/idle"
    for i in $(seq "$CONNS"); do
        mkfifo "$T/idle/$name.$i.in"
        stdbuf -oL smbclient "//127.0.0.1/share" -p "${PORT[$name]}" -U "$USER_NAME%$PASSWORD" \
            <"$T/idle/$name.$i.in" >"$T/idle/$name.$i.out" 2>&1 &
        pids+=("$!")
        exec {fd}<>"$T/idle/$name.$i.in"
        fds+=("$fd")
    done
    for i in $(seq 600); do
        n=$(cat "$T"/idle/"$name".*.out 2>/dev/null | grep -c '^Try "help"' || true)
        [ "$n" -ge "$CONNS" ] && break
        sleep 0.1
    done
    if [ "$n" -lt "$CONNS" ]; then
        echo "smbd-bench: only $n of $CONNS idle connections to $name came up" >&2
        cat "$T/idle/$name.1.out" >&2
        exit 1
    fi
    sleep 2
    read -r rss1 pss1 <<<"$(mem "$name")"
    for fd in "${fds[@]}"; do
        exec {fd}>&-
    done
    wait_clients "$name"
    record "RSS per idle connection, KiB (lower is better)" "$name" $(((rss1 - rss0) / CONNS))
    record "PSS per idle connection, KiB (lower is better)" "$name" $(((pss1 - pss0) / CONNS))
    record "server RSS with $CONNS idle connections, MiB" "$name" $((rss1 / 1024))
}

wait_clients() {
    local i
    for i in $(seq 100); do
        pgrep -f "smbclient //127.0.0.1/share -p ${PORT[$1]} " >/dev/null || return 0
        sleep 0.1
    done
}

# smbclient's "(average N KiloBytes/sec)" in MB/s.
kbs_to_mbs() {
    sed -n 's/.*(average \([0-9.]*\) \(KiloBytes\/sec\|kb\/s\)).*/\1/p' | tail -1 |
        awk '{ printf "%.0f", $1 * 1024 / 1e6 }'
}

median() {
    sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

bench_transfer() {
    local name=$1 i out puts=() gets=()
    cd "$T"
    for i in $(seq "$RUNS"); do
        # Each transfer starts with no dirty pages left by the one before
        # (or by writing big.src): the writeback would land on whichever
        # server runs next.
        sync
        out=$(smbc "$name" -c "put big.src big" 2>&1) || {
            echo "$out" >&2
            exit 1
        }
        puts+=("$(kbs_to_mbs <<<"$out")")
        rm -f "$T/big.get"
        sync
        out=$(smbc "$name" -c "get big big.get" 2>&1) || {
            echo "$out" >&2
            exit 1
        }
        gets+=("$(kbs_to_mbs <<<"$out")")
        if [ "$i" = 1 ]; then
            cmp "$T/big.src" "$T/big.get" || {
                echo "smbd-bench: $name: the file read back differs" >&2
                exit 1
            }
        fi
    done
    rm -f "$T/big.get" "$T/$name/share/big"
    record "smbclient put ${SIZE_MIB} MiB, MB/s" "$name" "$(printf '%s\n' "${puts[@]}" | median)"
    record "smbclient get ${SIZE_MIB} MiB, MB/s" "$name" "$(printf '%s\n' "${gets[@]}" | median)"
    echo "   $name put ${puts[*]} get ${gets[*]} MB/s" >&2
}

# torture NAME TEST [taskset prefix...]: the run's final num/s.
torture() {
    local name=$1 test=$2 out
    shift 2
    out=$("$@" smbtorture "//127.0.0.1/share" -p "${PORT[$name]}" -U "$USER_NAME%$PASSWORD" \
        --option=torture:timelimit="$TIMELIMIT" --option=torture:nprocs="$NPROCS" \
        "smb2.bench.$test" 2>&1) || {
        echo "$out" >&2
        echo "smbd-bench: smbtorture smb2.bench.$test failed against $name" >&2
        exit 1
    }
    tr '\r' '\n' <<<"$out" | grep 'second:' | tail -1 | sed -n 's/[^[]*\[num\/s=\([0-9]*\),.*/\1/p'
}

bench_torture() {
    local name=$1 v
    v=$(torture "$name" echo)
    record "smb2.bench.echo, unpinned, requests/s" "$name" "$v"
    v=$(torture "$name" path-contention-shared)
    record "smb2.bench.path-contention-shared, unpinned, opens/s" "$name" "$v"
    pin_server "$name" 0
    v=$(torture "$name" echo taskset -c 0)
    record "smb2.bench.echo, pinned to one CPU, requests/s" "$name" "$v"
    v=$(torture "$name" path-contention-shared taskset -c 0)
    record "smb2.bench.path-contention-shared, pinned, opens/s" "$name" "$v"
    pin_server "$name" "0-$(($(nproc) - 1))"
}

print_table() {
    local r o s ratio
    printf '\n| | ours | Samba %s | ours/Samba |\n|---|---:|---:|---:|\n' \
        "$("$SAMBA_SMBD" --version | sed 's/^Version //')"
    for r in "${rows[@]}"; do
        o=${R["$r|ours"]:-}
        s=${R["$r|samba"]:-}
        ratio=$(awk -v o="$o" -v s="$s" 'BEGIN { if (o != "" && s != "" && s + 0 != 0) printf "%.2f", o / s; else print "-" }')
        printf '| %s | %s | %s | %s |\n' "$r" "${o:--}" "${s:--}" "$ratio"
    done
}

echo "== temp dir $T" >&2
PORT[ours]=$(free_port)
PORT[samba]=$(free_port)
write_conf ours "${PORT[ours]}"
write_conf samba "${PORT[samba]}"
for s in "${servers[@]}"; do
    case $s in
    ours) start ours "$OUR_SMBD" "$OUR_SMBPASSWD" ;;
    samba) start samba "$SAMBA_SMBD" smbpasswd ;;
    esac
    echo "== $s smbd pid ${SPID[$s]} on port ${PORT[$s]}" >&2
done

echo "== idle connections ($CONNS each)" >&2
for s in "${servers[@]}"; do bench_idle "$s"; done
echo "== smbtorture smb2.bench (timelimit $TIMELIMIT s, nprocs $NPROCS)" >&2
for s in "${servers[@]}"; do bench_torture "$s"; done
echo "== smbclient put/get of a $SIZE_MIB MiB file, $RUNS runs each (median)" >&2
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom >"$T/big.src"
for s in "${servers[@]}"; do bench_transfer "$s"; done

for s in "${servers[@]}"; do stop "$s"; done
echo "$(nproc) CPUs, $(uname -r), $(date -u +%Y-%m-%d)"
print_table
echo
