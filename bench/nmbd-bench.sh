#!/bin/bash
# nmbd benchmark: our nmbd and Samba's nmbd (Debian package `samba`) side by
# side, in one run, on a bridge between network namespaces (root only):
# ns1 our nmbd, ns2 Samba's nmbd, ns3 the clients.
#
#   - name queries answered per second: smbtorture nbt.bench.namequery
#     (unicast queries for the server's own name), unpinned, and with the
#     daemon and the client pinned to CPU 0 with taskset;
#   - WINS operations per second: smbtorture nbt.bench-wins.wins (register,
#     query, release of many names against `wins support = yes`);
#   - start-up to a settled master: both daemons started together (then
#     each alone) with `local master = yes`; `nmblookup -M WG` polled every
#     POLL s from ns3; settled when the same single address answered
#     SETTLE_POLLS polls in a row; the figure is the start of that run.
#
# Usage: bench/nmbd-bench.sh            (from the repository root, as root)
# Environment: TIMELIMIT (10, s per smbtorture bench), MAX_SETTLE (60, s),
#   POLL (0.5), SETTLE_POLLS (6), SAMBA_NMBD (/usr/sbin/nmbd), SKIP_BUILD=1,
#   PARTS ("queries settle": which halves to run), OUR_NMBD (a binary),
#   KEEP=1 (keep the temp dir and logs).
# Needs: Debian's samba, samba-common-bin (nmblookup), samba-testsuite
# (smbtorture); iproute2; taskset.

set -euo pipefail

TIMELIMIT=${TIMELIMIT:-10}
MAX_SETTLE=${MAX_SETTLE:-60}
POLL=${POLL:-0.5}
SETTLE_POLLS=${SETTLE_POLLS:-6}
SAMBA_NMBD=${SAMBA_NMBD:-/usr/sbin/nmbd}
PARTS=${PARTS:-queries settle}

repo=$(cd "$(dirname "$0")/.." && pwd)
for t in smbtorture nmblookup taskset ip "$SAMBA_NMBD"; do
    command -v "$t" >/dev/null || {
        echo "nmbd-bench: $t is missing (apt-get install samba samba-common-bin samba-testsuite iproute2 util-linux)" >&2
        exit 2
    }
done
[ "$(id -u)" = 0 ] || {
    echo "nmbd-bench: needs root (network namespaces)" >&2
    exit 2
}

if [ -z "${SKIP_BUILD:-}" ]; then
    echo "== building our nmbd (release)" >&2
    (cd "$repo" && cargo build --release -p nmbd --bins >&2)
fi
target=$(cd "$repo" && cargo metadata --format-version 1 --no-deps 2>/dev/null |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
OUR_NMBD=${OUR_NMBD:-${target:-$repo/target}/release/nmbd}

T=$(mktemp -d /tmp/nmbd-bench.XXXXXX)
id=$(($$ % 100000))
net="10.$((($$ >> 8) % 200 + 20)).$(($$ % 250))"
bridge="nbb$id"
ns=("" "nbb$id-1" "nbb$id-2" "nbb$id-3")
declare -A DPID=()
cleanup() {
    local p i
    for p in "${DPID[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${DPID[@]}"; do
        while kill -0 "$p" 2>/dev/null; do sleep 0.1; done
    done
    for i in 1 2 3; do ip netns del "${ns[$i]}" 2>/dev/null || true; done
    ip link del "$bridge" 2>/dev/null || true
    if [ -n "${KEEP:-}" ]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip link add "$bridge" type bridge
ip link set "$bridge" up
for i in 1 2 3; do
    ip netns add "${ns[$i]}"
    ip link add "nbv$id$i" type veth peer name eth0 netns "${ns[$i]}"
    ip link set "nbv$id$i" master "$bridge"
    ip link set "nbv$id$i" up
    ip -n "${ns[$i]}" addr add "$net.$i/24" brd "$net.255" dev eth0
    ip -n "${ns[$i]}" link set eth0 up
    ip -n "${ns[$i]}" link set lo up
done
in_ns() {
    local i=$1
    shift
    ip netns exec "${ns[$i]}" "$@"
}
WG=BENCHWG
declare -A NAME=([ours]="OURB$id" [samba]="SAMB$id")
declare -A NSI=([ours]=1 [samba]=2)
printf '[global]\n interfaces = eth0\n' >"$T/client.conf"

# write_conf NAME EXTRA: a fresh directory and smb.conf for that daemon.
write_conf() {
    local who=$1 extra=$2 d=$T/$1
    rm -rf "$d"
    mkdir -p "$d"/{state,cache,lock,priv,run}
    cat >"$d/smb.conf" <<EOF
[global]
 workgroup = $WG
 netbios name = ${NAME[$who]}
 interfaces = eth0
 bind interfaces only = yes
 disable netbios = no
 state directory = $d/state
 cache directory = $d/cache
 lock directory = $d/lock
 private dir = $d/priv
 pid directory = $d/run
 ncalrpc dir = $d/run
 nmbd:socket dir = $d/nmbd
$extra
EOF
}

start() {
    local who=$1 bin
    case $who in
    ours) bin=$OUR_NMBD ;;
    samba) bin=$SAMBA_NMBD ;;
    esac
    # Not through in_ns: $! must be the daemon (ip netns exec execs it).
    ip netns exec "${ns[${NSI[$who]}]}" "$bin" -F --debug-stdout -s "$T/$who/smb.conf" >>"$T/$who.log" 2>&1 &
    DPID[$who]=$!
    START[$who]=$(date +%s.%N)
}
declare -A START=()
settled=()

stop() {
    local who=$1 p=${DPID[$1]:-}
    [ -n "$p" ] || return 0
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    unset "DPID[$who]"
}

# Waits until the daemon answers a unicast query for its name.
wait_name() {
    local who=$1 ip=$net.${NSI[$1]} i
    for i in $(seq 1 60); do
        if in_ns 3 nmblookup -U "$ip" "${NAME[$who]}" 2>/dev/null | grep -q "^$ip ${NAME[$who]}<00>"; then
            return 0
        fi
        sleep 0.5
    done
    echo "nmbd-bench: $who never answered for ${NAME[$who]} (log: $T/$who.log)" >&2
    tail -20 "$T/$who.log" >&2
    exit 1
}

declare -A R=()
rows=()
record() {
    local row=$1 who=$2 v=$3
    [[ " ${rows[*]} " == *" $row "* ]] || rows+=("$row")
    R["$row|$who"]=$v
}

# torture WHO TEST [PREFIX...]: the last "N queries per second (F failures)"
# of the run, as "N (F failures)".
torture() {
    local who=$1 test=$2 out
    shift 2
    out=$(in_ns 3 "$@" smbtorture "//${NAME[$who]}/x" -s "$T/client.conf" \
        --option="name resolve order=bcast" --option=torture:timelimit="$TIMELIMIT" \
        "$test" 2>&1) || true
    tr '\r' '\n' <<<"$out" | grep -o '[0-9.]* [a-z]* per second ([0-9]* failures)' | tail -1 |
        sed 's/ [a-z]* per second (\([0-9]*\) failures)/ (\1 failures)/' | grep . || {
        echo "$out" | tail -5 >&2
        echo "-"
    }
}

print_table() {
    local r o s
    printf '\n| | ours | Samba %s |\n|---|---:|---:|\n' "$("$SAMBA_NMBD" --version | sed 's/^Version //')"
    for r in "${rows[@]}"; do
        o=${R["$r|ours"]:--}
        s=${R["$r|samba"]:--}
        printf '| %s | %s | %s |\n' "$r" "$o" "$s"
    done
}

echo "== temp dir $T, LAN $net.0/24" >&2
if [[ " $PARTS " == *" queries "* ]]; then
echo "== queries (timelimit $TIMELIMIT s)" >&2
for who in ours samba; do
    write_conf "$who" " local master = no
 wins support = yes"
    start "$who"
done
for who in ours samba; do
    wait_name "$who"
    record "nbt.bench.namequery, unpinned, queries/s" "$who" "$(torture "$who" nbt.bench.namequery)"
    taskset -apc 0 "${DPID[$who]}" >/dev/null
    for p in $(pgrep -P "${DPID[$who]}"); do taskset -apc 0 "$p" >/dev/null; done
    record "nbt.bench.namequery, pinned to one CPU, queries/s" "$who" \
        "$(torture "$who" nbt.bench.namequery taskset -c 0)"
    taskset -apc "0-$(($(nproc) - 1))" "${DPID[$who]}" >/dev/null
    record "nbt.bench-wins.wins (WINS register/query/release), ops/s" "$who" \
        "$(torture "$who" nbt.bench-wins.wins)"
done
for who in ours samba; do stop "$who"; done
fi

# settle LABEL WHO...: starts them together, polls for a settled master.
settle() {
    local label=$1 who ans last="" run=0 first=0 t0 now el
    shift
    for who in "$@"; do
        write_conf "$who" " local master = yes
 preferred master = no
 os level = $([ "$who" = ours ] && echo 21 || echo 20)"
    done
    t0=$(date +%s.%N)
    for who in "$@"; do start "$who"; done
    while :; do
        now=$(date +%s.%N)
        el=$(awk -v a="$t0" -v b="$now" 'BEGIN { printf "%.1f", b - a }')
        if awk -v e="$el" -v m="$MAX_SETTLE" 'BEGIN { exit !(e > m) }'; then
            settled+=("| $label | none in ${MAX_SETTLE} s | - |")
            break
        fi
        ans=$( (in_ns 3 nmblookup -B "$net.255" -M -- "$WG" 2>/dev/null || true) | awk '/<1d>/ { print $1 }' | sort -u | tr '\n' ' ')
        if [ -n "$ans" ] && [ "$(wc -w <<<"$ans")" = 1 ] && [ "$ans" = "$last" ]; then
            run=$((run + 1))
        elif [ -n "$ans" ] && [ "$(wc -w <<<"$ans")" = 1 ]; then
            run=1
            first=$el
        else
            run=0
        fi
        last=$ans
        if [ "$run" -ge "$SETTLE_POLLS" ]; then
            local winner=samba
            [ "$ans" = "$net.1 " ] && winner=ours
            settled+=("| $label | $first s | $winner ($ans) |")
            break
        fi
        sleep "$POLL"
    done
    for who in "$@"; do stop "$who"; done
    sleep 1
}
if [[ " $PARTS " == *" settle "* ]]; then
    echo "== start-up to a settled master (os level: ours 21, Samba 20)" >&2
    settle "both together" ours samba
    settle "ours alone" ours
    settle "Samba alone" samba
fi

echo "$(nproc) CPUs, $(uname -r), $(date -u +%Y-%m-%d)"
print_table
if [ ${#settled[@]} -gt 0 ]; then
    printf '\n| start-up to a settled master | settled after | master |\n|---|---:|---|\n'
    printf '%s\n' "${settled[@]}"
fi
echo
