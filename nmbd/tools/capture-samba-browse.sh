#!/bin/bash
# Captures Samba nmbd browser traffic (UDP 138) between two network
# namespaces, as used for nmbd/src/wire/captured.rs. Needs root, samba and
# tshark (apt-get install -y samba tshark). Everything it creates (bridge
# br-bw, namespaces bw1..bw3) is removed on exit.
# Usage: capture-samba-browse.sh OUTDIR   then: tshark -r OUTDIR/f.pcap -x
set -u
D=${1:?output directory}
mkdir -p "$D"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  sleep 1
  for i in 1 2 3; do ip netns del bw$i 2>/dev/null; done
  ip link del br-bw 2>/dev/null
}
trap cleanup EXIT
ip link add br-bw type bridge && ip link set br-bw up
for i in 1 2 3; do
  ip netns add bw$i
  ip link add vb$i type veth peer name eth0 netns bw$i
  ip link set vb$i master br-bw && ip link set vb$i up
  ip -n bw$i addr add 10.99.0.$i/24 brd 10.99.0.255 dev eth0
  ip -n bw$i link set eth0 up && ip -n bw$i link set lo up
done
for i in 1 2; do
  mkdir -p "$D"/n$i/{state,cache,lock,priv,run}
  cat > "$D"/n$i/smb.conf <<EOC
[global]
  workgroup = TESTGRP
  netbios name = BWHOST$i
  server string = Browse test $i
  interfaces = eth0
  bind interfaces only = yes
  os level = $((20+i))
  local master = yes
  preferred master = $([ $i = 2 ] && echo yes || echo auto)
  state directory = $D/n$i/state
  cache directory = $D/n$i/cache
  lock directory = $D/n$i/lock
  private dir = $D/n$i/priv
  pid directory = $D/n$i/run
  ncalrpc dir = $D/n$i/run/ncalrpc
  log level = 2
EOC
done
tshark -i br-bw -f 'udp port 138' -w "$D"/f.pcap > "$D"/tshark.log 2>&1 & PIDS+=($!)
sleep 2
ip netns exec bw1 /usr/sbin/nmbd -F --debug-stdout -s "$D"/n1/smb.conf > "$D"/n1.log 2>&1 & PIDS+=($!)
sleep 3
ip netns exec bw2 /usr/sbin/nmbd -F --debug-stdout -s "$D"/n2/smb.conf > "$D"/n2.log 2>&1 & P2=$!
sleep 70
ip netns exec bw3 nmblookup -B 10.99.0.255 -M TESTGRP > "$D"/lookup.log 2>&1
sleep 5
kill $P2; sleep 8   # the master's goodbye announcements
