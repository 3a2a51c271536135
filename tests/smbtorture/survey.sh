#!/bin/sh
# Runs smbtorture suites against a running SMB server and prints, per
# suite, how many tests passed, then every passing test as a line for
# pass.txt. Use it to grow tests/smbtorture/pass.txt, and to compare with
# Samba's smbd on the same smb.conf:
#
#   tests/smbtorture/survey.sh 4451 root%secret            # our smbd
#   tests/smbtorture/survey.sh 4450 root%secret > samba.txt # Samba's
#
# Arguments: PORT USER%PASSWORD [SUITE...] (default: the suites below).
# Output files go to ${OUT:-/tmp/smbtorture-survey-PORT}/SUITE.txt.
set -u
port=$1
cred=$2
shift 2
[ $# -gt 0 ] || set -- connect read scan dir create rename compound compound_find \
    compound_async credits session lock sharemode delete-on-close-perms oplock \
    notify ioctl getinfo setinfo rw streams ea timestamps maxfid lease \
    durable-open durable-v2-open acls dosmode async_dosmode maximum_allowed mangle \
    tcon openattr winattr sdread deny fileid mkdir charset create_no_streams \
    session-id session-require-signing set-sparse-ioctl zero-data-ioctl \
    timestamp_resolution
out=${OUT:-/tmp/smbtorture-survey-$port}
mkdir -p "$out"
for s in "$@"; do
    timeout "${TIMEOUT:-900}" smbtorture //127.0.0.1/share -p "$port" -U "$cred" \
        "smb2.$s" > "$out/$s.txt" 2>&1
    p=$(grep -c '^success:' "$out/$s.txt")
    f=$(grep -c '^failure:\|^error:' "$out/$s.txt")
    echo "# smb2.$s: $p passed, $f failed"
done
for s in "$@"; do
    sed -n "s/^success: \(.*\)/smb2.$s.\1/p" "$out/$s.txt"
done
