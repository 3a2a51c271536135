#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into fuzz/corpus/<target>/.

Seeds come from real traffic kept in the repository:
  smbd/testdata/smbclient-4.17.txt   smbclient 4.17 <-> Samba 4.17, one TCP
                                     payload per line (C/S, hex, NBSS framing)
  smbd/src/dcerpc/testdata.rs        DCE/RPC PDUs captured on IPC$ (srvsvc,
                                     wkssvc), one `pub const NAME: &str` each
  nmbd/src/wire/nbns/tests.rs        name service packets of Samba's nmbd
                                     and nmblookup, hex literals
  nmbd/src/wire/captured.rs          browser datagrams of Samba's nmbd
  nmbd/src/sync/captured.rs          SMB1 frames of a browse-list sync with
                                     Samba's smbd (and smbclient's requests)
A few commands and structures that smbclient never sent in the capture
(LOCK, FLUSH, CHANGE_NOTIFY, ECHO, LOGOFF, OPLOCK_BREAK acknowledgments,
create contexts, EA lists, security descriptors) get small hand-built seeds
laid out as MS-SMB2/MS-FSCC/MS-DTYP describe them.

Run from anywhere: python3 fuzz/seeds.py. Files are named after the
SHA-1 of their contents (as libFuzzer names its own), so running it again
changes nothing.
"""

import hashlib
import os
import re
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS = os.path.join(HERE, "corpus")

CMD = {
    0x00: "negotiate", 0x01: "session_setup", 0x02: "logoff", 0x03: "tree_connect",
    0x04: "tree_disconnect", 0x05: "create", 0x06: "close", 0x07: "flush",
    0x08: "read", 0x09: "write", 0x0A: "lock", 0x0B: "ioctl", 0x0D: "echo",
    0x0E: "query_directory", 0x0F: "notify", 0x10: "query_info", 0x11: "set_info",
    0x12: "oplock_break",
}

seeds = {}


def add(target, data):
    seeds.setdefault(target, set()).add(bytes(data))


def u16(b, at):
    return struct.unpack_from("<H", b, at)[0]


def u32(b, at):
    return struct.unpack_from("<I", b, at)[0]


def pieces(blobs):
    """The u16-length-prefixed framing of smbd_fuzz::pieces."""
    return b"".join(struct.pack("<H", len(b)) + b for b in blobs)


# ---- The SMB capture: TCP payloads -> NBSS frames -> compound elements.

lines = []
with open(os.path.join(ROOT, "smbd/testdata/smbclient-4.17.txt")) as f:
    for line in f:
        if line.startswith("#") or not line.strip():
            continue
        direction, data = line.split(" ", 1)
        lines.append((direction, bytes.fromhex(data.strip())))

elements = []  # (direction, command, message)
for direction, payload in lines:
    if direction == "C":
        add("nbss_frame", payload)
    at = 0
    while at + 4 <= len(payload):
        length = int.from_bytes(payload[at + 1:at + 4], "big")
        frame = payload[at + 4:at + 4 + length]
        at += 4 + length
        if frame[:4] != b"\xfeSMB":
            continue
        if direction == "C":
            add("smb2_compound", frame)
        off = 0
        while True:
            nxt = u32(frame, off + 20)
            msg = frame[off:off + nxt] if nxt else frame[off:]
            elements.append((direction, u16(msg, 12), msg))
            if nxt == 0:
                break
            off += nxt

headers = {}
for direction, cmd, msg in elements:
    if direction == "C":
        headers.setdefault(cmd, msg[:64])
        if cmd in CMD:
            add("cmd_" + CMD[cmd], msg[64:])

for header in headers.values():
    add("smb2_header", header)

# ---- What is inside the bodies.


def utf16(b):
    return b.decode("utf-16-le")


def der_walk(b, found):
    """Every TLV of a DER blob, depth first (short and long lengths)."""
    at = 0
    while at + 2 <= len(b):
        tag, first = b[at], b[at + 1]
        at += 2
        if first < 0x80:
            n = first
        else:
            k = first & 0x7F
            n = int.from_bytes(b[at:at + k], "big")
            at += k
        content = b[at:at + n]
        at += n
        found.append((tag, content))
        if tag & 0x20:
            der_walk(content, found)


def security_blob(msg, request):
    if request:
        off, length = u16(msg, 64 + 12), u16(msg, 64 + 14)
    else:
        off, length = u16(msg, 64 + 4), u16(msg, 64 + 6)
    return msg[off:off + length]


exchange = []
for direction, cmd, msg in elements:
    if cmd == 0x01:
        blob = security_blob(msg, direction == "C")
        if not blob:
            continue
        add("spnego", blob)
        add("der", blob)
        if direction == "C":
            exchange.append(blob)
            if blob[0] != 0x60:  # the last blob of an exchange
                for mode in (0x00, 0x01, 0x81, 0x41):
                    add("auth_exchange", bytes([mode]) + pieces(exchange))
                exchange = []
        tlvs = []
        der_walk(blob, tlvs)
        for tag, content in tlvs:
            if tag != 0x04 or not content.startswith(b"NTLMSSP\0"):
                continue
            kind = u32(content, 8)
            if kind == 1:
                add("ntlmssp_negotiate", content)
            elif kind == 3:
                add("ntlmssp_authenticate", b"\x01" + content)
                nt_len, nt_off = u16(content, 20), u32(content, 24)
                add("ntlmv2_response", content[nt_off:nt_off + nt_len])
    if cmd == 0x00 and direction == "S":
        blob = security_blob(msg, False)
        add("spnego", blob)
        add("der", blob)
    if cmd == 0x05 and direction == "C":
        off, length = u16(msg, 64 + 44), u16(msg, 64 + 46)
        name = utf16(msg[off:off + length])
        add("path", name.encode())
    if cmd == 0x0E and direction == "C":
        off, length = u16(msg, 64 + 24), u16(msg, 64 + 26)
        pattern = utf16(msg[off:off + length]).encode()
        for name in (b"hello.txt", b"..", b"dir"):
            add("wildcard", pattern + b"\0" + name)
    if cmd == 0x11 and direction == "C":
        info_type, cls = msg[64 + 2], msg[64 + 3]
        length, off = u32(msg, 64 + 4), u16(msg, 64 + 8)
        buf = msg[off:off + length]
        if info_type == 1 and cls == 10:
            name_len = u32(buf, 16)
            add("path", utf16(buf[20:20 + name_len]).encode())
    if cmd == 0x0B and direction == "C":
        off, length = u32(msg, 64 + 24), u32(msg, 64 + 28)
        data = msg[off:off + length]
        if data[:1] == b"\x05":
            add("dcerpc_pdu", data)
    if cmd in (0x0B, 0x08) and direction == "S" and u32(msg, 8) in (0, 0x80000005):
        if cmd == 0x0B:
            off, length = u32(msg, 64 + 32), u32(msg, 64 + 36)
        else:
            off, length = msg[64 + 2], u32(msg, 64 + 4)
        data = msg[off:off + length]
        if data[:1] == b"\x05":
            add("dcerpc_pdu", data)
    if cmd == 0x10 and direction == "S" and u32(msg, 8) == 0:
        off, length = u16(msg, 64 + 2), u32(msg, 64 + 4)
        buf = msg[off:off + length]
        if buf[:1] == b"\x01" and len(buf) >= 20 and u16(buf, 2) & 0x8000:
            add("security_descriptor", buf)

# ---- DCE/RPC captures.

with open(os.path.join(ROOT, "smbd/src/dcerpc/testdata.rs")) as f:
    text = f.read()
pdus = {}
for name, body in re.findall(r'pub const (\w+): &str = "\\\n(.*?)";', text, re.S):
    pdus[name] = bytes.fromhex(re.sub(r"[\\\s]", "", body))

srvsvc_in = {15: 0, 16: 2, 21: 4}
for name, pdu in pdus.items():
    add("dcerpc_pdu", pdu)
    ptype = pdu[2]
    body = pdu[16:]
    # The body parsers (selector byte first, see dcerpc_pdu.rs).
    selector = {11: 0, 14: 0, 12: 1, 15: 1, 13: 2, 0: 3, 2: 4, 3: 5}.get(ptype)
    if selector is not None:
        add("dcerpc_pdu", bytes([selector]) + body)
    if ptype in (0, 2) and pdu[3] & 0x01 and pdu[3] & 0x02:
        stub = pdu[24:]
        if ptype == 0:
            opnum = u16(pdu, 22)
            if name.startswith("PY_WKS"):
                add("ndr_wkssvc", b"\x00" + stub)
            elif opnum in srvsvc_in:
                add("ndr_srvsvc", bytes([srvsvc_in[opnum]]) + stub)
        else:
            req = pdus.get(name.replace("_RESP", "_REQ"))
            if name.startswith("PY_WKS"):
                add("ndr_wkssvc", b"\x01" + stub)
            elif req is not None and u16(req, 22) in srvsvc_in:
                add("ndr_srvsvc", bytes([srvsvc_in[u16(req, 22)] + 1]) + stub)

# Pipe sessions: a BIND and the client's requests, as WRITEs.
sessions = [
    (0x00, ["SMBCLIENT_BIND", "SMBCLIENT_ENUM_REQ"]),
    (0x00, ["PY_BIND", "PY_ENUM1_REQ", "PY_GETINFO_SHARE502_REQ", "PY_SRVINFO102_REQ",
            "PY_ALTER_WKSSVC", "PY_OPNUM200_REQ"]),
    (0x01, ["PY_WKS_BIND", "PY_WKS100_REQ", "PY_WKS102_REQ", "PY_WKS99_REQ"]),
    (0x00, ["MANY_BIND", "PY_BIG_REQ1", "PY_BIG_REQ2", "PY_RESUME5_REQ", "PY_HUGE_COUNT_REQ"]),
]
for which, names in sessions:
    add("dcerpc_pipe", bytes([which]) + pieces([pdus[n] for n in names if n in pdus]))

# ---- Hand-built seeds for what the capture does not hold.

# An SMB1 NEGOTIATE offering SMB2 (what Windows 7 and old smbclients open
# with), and an SMB3 transform around the captured ECHO-sized TREE_DISCONNECT.
names = b"".join(b"\x02" + n + b"\0" for n in (b"NT LM 0.12", b"SMB 2.002", b"SMB 2.???"))
smb1 = b"\xffSMB\x72" + b"\0" * 27 + b"\0" + struct.pack("<H", len(names)) + names
add("smb1_negotiate", smb1)
inner = next(m for d, c, m in elements if d == "C" and c == 0x04)
transform = (b"\xfdSMB" + bytes(range(16)) + bytes(range(16, 32))
             + struct.pack("<IHHQ", len(inner), 0, 1, 0x4000000000001) + inner)
add("smb2_transform", transform)
for frame in (smb1, transform):
    add("nbss_frame", struct.pack(">I", len(frame)) + frame)

FILE_ID = struct.pack("<QQ", 0x11, 0x22)
for target, body in {
    "cmd_echo": struct.pack("<HH", 4, 0),
    "cmd_logoff": struct.pack("<HH", 4, 0),
    "cmd_tree_disconnect": struct.pack("<HH", 4, 0),
    "cmd_flush": struct.pack("<HHI", 24, 0, 0) + FILE_ID,
    "cmd_oplock_break": struct.pack("<HBBI", 24, 1, 0, 0) + FILE_ID,
    "cmd_notify": struct.pack("<HHI", 32, 1, 4096) + FILE_ID + struct.pack("<II", 0x17, 0),
    "cmd_lock": struct.pack("<HHI", 48, 2, 0) + FILE_ID
    + struct.pack("<QQII", 0, 10, 0x12, 0) + struct.pack("<QQII", 100, 1, 0x04, 0),
}.items():
    add(target, body)


def create_contexts(ctxs):
    out = b""
    starts = []
    for name, data in ctxs:
        out += b"\0" * (-len(out) % 8)
        starts.append(len(out))
        data_off = (16 + len(name) + 7) // 8 * 8 if data else 0
        entry = struct.pack("<IHHHHI", 0, 16, len(name), 0, data_off, len(data)) + name
        if data:
            entry += b"\0" * (data_off - len(entry)) + data
        out += entry
    out = bytearray(out)
    for a, b in zip(starts, starts[1:]):
        struct.pack_into("<I", out, a, b - a)
    return bytes(out)


contexts = create_contexts([
    (b"MxAc", b""),
    (b"QFid", b""),
    (b"DHnQ", b"\0" * 16),
    (b"RqLs", struct.pack("<16sIIQ", b"lease-key-012345", 7, 0, 0)),
    (b"ExtA", struct.pack("<IBBH", 0, 0, 6, 1) + b"user.a\0" + b"1"),
])
add("create_contexts", contexts)
for direction, cmd, msg in elements:
    if direction == "C" and cmd == 0x05:
        # The captured CREATE with contexts appended after the name.
        body = bytearray(msg[64:])
        body += b"\0" * (-(64 + len(body)) % 8)
        struct.pack_into("<II", body, 48, 64 + len(body), len(contexts))
        add("cmd_create", bytes(body) + contexts)
        break


def ea_list(eas):
    out = bytearray()
    starts = []
    for name, value in eas:
        out += b"\0" * (-len(out) % 4)
        starts.append(len(out))
        out += struct.pack("<IBBH", 0, 0, len(name), len(value)) + name + b"\0" + value
    for a, b in zip(starts, starts[1:]):
        struct.pack_into("<I", out, a, b - a)
    return bytes(out)


eas = ea_list([(b"user.comment", b"hello"), (b"user.empty", b""), (b"DOSATTRIB", b"\x01\x02")])
add("ea_list", eas)


def sid(authority, *subs):
    return bytes([1, len(subs)]) + authority.to_bytes(6, "big") + b"".join(
        struct.pack("<I", s) for s in subs)


def acl(aces):
    body = b"".join(struct.pack("<BBHI", kind, flags, 8 + len(s), mask) + s
                    for kind, flags, mask, s in aces)
    return struct.pack("<BBHHH", 2, 0, 8 + len(body), len(aces), 0) + body


def sd(owner, group, dacl):
    out = bytearray(struct.pack("<BBHIIII", 1, 0, 0x8004, 0, 0, 0, 0))
    for field, part in ((4, owner), (8, group), (16, dacl)):
        struct.pack_into("<I", out, field, len(out))
        out += part
    return bytes(out)


descriptor = sd(sid(22, 1, 1000), sid(22, 2, 1000), acl([
    (0, 0, 0x1F01FF, sid(22, 1, 1000)),
    (0, 0x03, 0x1200A9, sid(22, 2, 1000)),
    (1, 0, 0x000116, sid(1, 0)),
]))
add("security_descriptor", descriptor)


def set_info(info_type, cls, additional, buf):
    return struct.pack("<HBBIHHI", 33, info_type, cls, len(buf), 64 + 32, 0, additional) \
        + FILE_ID + buf


add("cmd_set_info", set_info(1, 15, 0, eas))
add("cmd_set_info", set_info(3, 0, 0x4, descriptor))
add("cmd_set_info", set_info(1, 4, 0, struct.pack("<QQQQII", 1, 2, 3, 4, 0x20, 0)))

for name in ("dir\\file.txt", "a\\.\\b", "file.txt::$DATA", "file.txt:stream", "..\\x",
             "dir\\", "\\abs"):
    add("path", name.encode())
for pattern, name in (("*", "x"), ("<.txt", "a.b.txt"), ('a>"b', "a.b"), ("*.*", "noext"),
                      ("????????.???", "hello.txt")):
    add("wildcard", pattern.encode() + b"\0" + name.encode())

# The CNID wire formats (common::cnid): netatalk request, reply, hand-off;
# the native protocol is bincode and seeded by the fuzzer from nothing.
add("cnid_netatalk", b"\x00" + struct.pack("<i4sQQI4sQQ", 3, (17).to_bytes(4, "big"), 2049, 1234,
                                            0, (2).to_bytes(4, "big"), 0, 5) + b"hello")
add("cnid_netatalk", b"\x01" + struct.pack("<i4s4s4sQQ", 0, (17).to_bytes(4, "big"),
                                            (2).to_bytes(4, "big"), b"\0" * 4, 0, 0))
add("cnid_netatalk", b"\x02" + struct.pack("<iii", 4, 5, 0) + b"afp\0/vol\0")
for which in range(4):
    for variant in range(3):
        add("cnid_proto", bytes([which, variant]))

# ---- nmbd: the name service packets (hex literals in the nbns unit tests)
# and the datagrams captured from Samba's nmbd (nmbd/src/wire/captured.rs),
# each datagram also cut into its mailslot write and browser frame.

with open(os.path.join(ROOT, "nmbd/src/wire/nbns/tests.rs")) as f:
    for m in re.finditer(r'const \w+: &str = "([0-9a-f]+)";', f.read()):
        pkt = bytes.fromhex(m.group(1))
        add("nbns_packet", pkt)
        add("nbname", pkt[12:])
        add("nbname", pkt)

with open(os.path.join(ROOT, "nmbd/src/wire/captured.rs")) as f:
    for m in re.finditer(r"pub const \w+: \[u8; \d+\] = \[([^\]]*)\];", f.read()):
        dg = bytes(int(x, 16) for x in re.findall(r"0x([0-9a-f]{2})", m.group(1)))
        add("nb_datagram", dg)
        add("nbname", dg[14:])
        # 14-byte header, source and destination names (34 bytes each, no
        # scope in the capture), then the SMB.
        smb = dg[14 + 34 + 34:]
        add("mailslot_write", smb)
        # SMB Transaction: DataCount at SMB offset 55, DataOffset at 57.
        count, offset = u16(smb, 55), u16(smb, 57)
        add("browse_frame", smb[offset:offset + count])

# ---- nmbd's browse-list sync: the SMB1 frames captured against Samba's smbd
# (nmbd/src/sync/captured.rs). Replies (smbd's) seed sync_smb1_reply, one
# message each and the whole conversation; the RAP parameters and data of
# the TRANSACTION replies seed rap_enum_reply; those of the requests (ours
# and smbclient's) rap_enum_request.

def smb1_trans(smb, reply):
    """(params, data) of a TRANSACTION message; word offsets per MS-CIFS."""
    w = 33
    if reply:
        pc, po, dc, do = u16(smb, w + 6), u16(smb, w + 8), u16(smb, w + 12), u16(smb, w + 14)
    else:
        pc, po, dc, do = u16(smb, w + 18), u16(smb, w + 20), u16(smb, w + 22), u16(smb, w + 24)
    return smb[po:po + pc], smb[do:do + dc]


with open(os.path.join(ROOT, "nmbd/src/sync/captured.rs")) as f:
    replies = []
    for m in re.finditer(r"pub const (\w+): \[u8; \d+\] = \[([^\]]*)\];", f.read()):
        name = m.group(1)
        frame = bytes(int(x, 16) for x in re.findall(r"0x([0-9a-f]{2})", m.group(2)))
        smb = frame[4:]
        if smb[:4] != b"\xffSMB":
            add("sync_smb1_reply", frame)  # the session response
            continue
        reply = smb[9] & 0x80 != 0
        if reply:
            add("sync_smb1_reply", pieces([smb]))
            replies.append(smb)
        if smb[4] == 0x25:
            params, data = smb1_trans(smb, reply)
            if reply:
                add("rap_enum_reply", pieces([params, data]))
            else:
                add("rap_enum_request", params)
    add("sync_smb1_reply", pieces(replies))

# ---- Write them out.

shutil.rmtree(CORPUS, ignore_errors=True)
total = 0
for target, datas in sorted(seeds.items()):
    d = os.path.join(CORPUS, target)
    os.makedirs(d)
    for data in sorted(datas):
        with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
            f.write(data)
        total += len(data)
    print(f"{target:24} {len(datas):3} seeds")
print(f"{total} bytes in all")
