#!/bin/bash
# Captures the SMB1 exchanges of a browse-list sync with Samba's smbd on
# the loopback, as used for nmbd/src/sync/captured.rs: Samba's own client
# (smbclient -L, which lists servers with RAP NetServerEnum2 over SMB1)
# and ours (the rap_sync example) against smbd with `server min protocol
# = NT1`; then ours against smbd with `unicode = no`, with `restrict
# anonymous = 2`, and with the default minimum protocol (SMB2).
# Needs root (port 139, tcpdump), samba, smbclient, tcpdump and python3
# (apt-get install -y samba smbclient tcpdump python3), and a built
# example (cargo build -p nmbd --example rap_sync).
# Usage: capture-samba-rap.sh OUTDIR   (writes OUTDIR/<phase>.pcap and
# OUTDIR/captured.rs)
set -u
D=$(realpath -m "${1:?output directory}")
HERE=$(cd "$(dirname "$0")" && pwd)
RAP_SYNC=${RAP_SYNC:-$HERE/../../target/debug/examples/rap_sync}
PORT=139
mkdir -p "$D"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
}
trap cleanup EXIT

cat > "$D"/browse.dat <<'EOB'
"RAPPEER"         00051003 "Samba peer" "TESTGRP"
"ALPHA"           00001003 "first server" "TESTGRP"
"BETA"            00009003 "a comment well beyond forty-eight characters, to see what the peer does with it" "TESTGRP"
"GAMMA"           00000003 "" "TESTGRP"
"LOCALONE"        40000003 "seen here" "TESTGRP"
"OTHER"           00000003 "in another workgroup" "OTHERGRP"
"TESTGRP"         80001000 "RAPPEER" "TESTGRP"
"OTHERGRP"        80001000 "OTHERMB" "OTHERGRP"
"LOCALGRP"        c0001000 "LOCALMB" "LOCALGRP"
EOB

# phase NAME EXTRA-SMB.CONF-LINES COMMAND...
phase() {
  local name=$1 extra=$2; shift 2
  local P="$D/$name"
  mkdir -p "$P"/{state,cache,lock,priv,run,ncalrpc}
  chmod 700 "$P"/priv
  cp "$D"/browse.dat "$P"/cache/browse.dat
  cat > "$P"/smb.conf <<EOC
[global]
  workgroup = TESTGRP
  netbios name = RAPPEER
  smb ports = $PORT
  interfaces = lo
  bind interfaces only = yes
  disable netbios = yes
  state directory = $P/state
  cache directory = $P/cache
  lock directory = $P/lock
  private dir = $P/priv
  pid directory = $P/run
  ncalrpc dir = $P/ncalrpc
  map to guest = bad user
  log level = 3
$extra
EOC
  /usr/sbin/smbd -F --debug-stdout -s "$P"/smb.conf > "$P"/smbd.log 2>&1 & local smbd=$!
  PIDS+=($smbd)
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.2; done
  tcpdump -i lo -U -s 0 -w "$D/$name.pcap" "tcp port $PORT" > "$P"/tcpdump.log 2>&1 & local td=$!
  PIDS+=($td)
  sleep 1
  "$@" > "$P"/client.log 2>&1
  sleep 1
  kill $td; kill $smbd; wait $td $smbd 2>/dev/null
}

NT1="  server min protocol = NT1"
phase smbclient "$NT1" smbclient -L RAPPEER -I 127.0.0.1 -p $PORT -n OURNMBD -N \
  --option='client min protocol=NT1' --option='client max protocol=NT1'
phase ours "$NT1" "$RAP_SYNC" 127.0.0.1:$PORT RAPPEER OURNMBD TESTGRP
phase oem "$NT1
  unicode = no" "$RAP_SYNC" 127.0.0.1:$PORT RAPPEER OURNMBD TESTGRP
phase restricted "$NT1
  restrict anonymous = 2" "$RAP_SYNC" 127.0.0.1:$PORT RAPPEER OURNMBD TESTGRP
phase smb2only "" "$RAP_SYNC" 127.0.0.1:$PORT RAPPEER OURNMBD TESTGRP

python3 "$HERE"/pcap-to-rust.py "$D" > "$D"/captured.rs && echo "wrote $D/captured.rs"
