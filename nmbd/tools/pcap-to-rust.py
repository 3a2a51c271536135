#!/usr/bin/env python3
"""Turns the pcaps of capture-samba-rap.sh into nmbd/src/sync/captured.rs:
each TCP connection's byte stream, per direction, cut into NetBIOS session
frames; the frames the unit tests use, as Rust byte arrays (NBSS header
included). Usage: pcap-to-rust.py DIR > captured.rs"""

import os
import struct
import sys


def connections(path):
    """[(client frames and server frames in order)] for each connection
    that carried data: a list of (direction 'C'/'S', frame bytes)."""
    d = open(path, 'rb').read()
    assert struct.unpack('<I', d[:4])[0] == 0xa1b2c3d4, 'pcap (microseconds, little-endian)'
    link = struct.unpack('<I', d[20:24])[0]
    off = 24
    conns, order, bufs = {}, [], {}
    while off < len(d):
        _, _, caplen, _ = struct.unpack('<IIII', d[off:off + 16])
        off += 16
        pkt = d[off:off + caplen]
        off += caplen
        if link == 1:
            pkt = pkt[14:]
        if pkt[0] >> 4 != 4 or pkt[9] != 6:
            continue
        ihl = (pkt[0] & 15) * 4
        total = struct.unpack('>H', pkt[2:4])[0]
        tcp = pkt[ihl:total]
        sport, dport = struct.unpack('>HH', tcp[:4])
        flags = tcp[13]
        if flags & 0x02 and not flags & 0x10:
            key = (sport, dport)
            conns[key] = []
            order.append(key)
            bufs[(key, 'C')] = b''
            bufs[(key, 'S')] = b''
            continue
        if (sport, dport) in conns:
            key, way = (sport, dport), 'C'
        elif (dport, sport) in conns:
            key, way = (dport, sport), 'S'
        else:
            continue
        b = bufs[(key, way)] + tcp[(tcp[12] >> 4) * 4:]
        while len(b) >= 4:
            n = ((b[1] & 1) << 16) | (b[2] << 8) | b[3]
            if len(b) < 4 + n:
                break
            conns[key].append((way, b[:4 + n]))
            b = b[4 + n:]
        bufs[(key, way)] = b
    return [conns[k] for k in order if conns[k]]


def rust(name, doc, frame):
    one = f'pub const {name}: [u8; {len(frame)}] = [' + ', '.join(f'0x{b:02x}' for b in frame) + '];'
    if len(one) <= 100:  # as rustfmt lays it out
        return f'/// {doc}\n{one}\n'
    out = [f'/// {doc}', f'pub const {name}: [u8; {len(frame)}] = [']
    for i in range(0, len(frame), 16):
        out.append('    ' + ' '.join(f'0x{b:02x},' for b in frame[i:i + 16]))
    out.append('];')
    return '\n'.join(out) + '\n'


def rap_opcode_and_type(frame):
    """For a TRANSACTION request frame: the RAP opcode and server type."""
    smb = frame[4:]
    wc = smb[32]
    words = smb[33:33 + 2 * wc]
    pcount, poff = struct.unpack('<HH', words[18:22])
    params = smb[poff:poff + pcount]
    if len(params) < 2 or b'\0' not in params[2:]:
        return None, None  # not RAP (a DCE/RPC pipe transaction)
    op = struct.unpack('<H', params[:2])[0]
    p = params.index(b'\0', 2) + 1
    p = params.index(b'\0', p) + 1
    stype = struct.unpack('<I', params[p + 4:p + 8])[0]
    return op, stype


def main():
    d = sys.argv[1]
    print('//! SMB1 frames (NetBIOS session header included) captured with tcpdump')
    print('//! on the loopback against Samba 4.17\'s smbd (netbios name RAPPEER,')
    print('//! workgroup TESTGRP, `server min protocol = NT1`, the browse.dat of')
    print('//! nmbd/tools/capture-samba-rap.sh, which repeats the capture), from')
    print('//! Samba\'s own client (smbclient -L) and from ours (the rap_sync')
    print('//! example) as OURNMBD.\n')

    # Samba's client: its session request and its NetServerEnum2 calls.
    (conn,) = [c for c in connections(os.path.join(d, 'smbclient.pcap'))
               if any(f[0] == 0x81 for _, f in c)
               and any(w == 'C' and f[8] == 0x25 and rap_opcode_and_type(f)[0] == 104
                       for w, f in c if f[4:8] == b'\xffSMB')]
    sreq = next(f for w, f in conn if w == 'C' and f[0] == 0x81)
    print(rust('SMBCLIENT_SESSION_REQUEST',
               'smbclient: SESSION REQUEST, called RAPPEER<20>, calling OURNMBD<00>.', sreq))
    for w, f in conn:
        if w == 'C' and f[4:8] == b'\xffSMB' and f[8] == 0x25:
            op, stype = rap_opcode_and_type(f)
            if op != 104:
                continue
            name = 'SMBCLIENT_ENUM2_DOMAINS' if stype == 0x80000000 else 'SMBCLIENT_ENUM2_ALL'
            print(rust(name, f'smbclient: TRANSACTION \\PIPE\\LANMAN NetServerEnum2, '
                       f'server type {stype:#010x} (Unicode, FLAGS2_EXTENDED_SECURITY session).', f))

    (ours,) = connections(os.path.join(d, 'ours.pcap'))
    names = [
        ('OURS_SESSION_REQUEST', 'ours: SESSION REQUEST, called RAPPEER<20>, calling OURNMBD<00>.'),
        ('SESSION_RESPONSE', 'smbd: POSITIVE SESSION RESPONSE.'),
        ('OURS_NEGOTIATE', 'ours: NEGOTIATE offering only NT LM 0.12 (Unicode, NT status, no extended security).'),
        ('NEGOTIATE_RESPONSE', 'smbd: NEGOTIATE reply: dialect 0, user-level challenge/response security, '
         'CAP_UNICODE, an 8-byte challenge, domain TESTGRP and server RAPPEER in unaligned UTF-16.'),
        ('OURS_SESSION_SETUP', 'ours: anonymous SESSION_SETUP_ANDX (Unicode).'),
        ('SESSION_SETUP_RESPONSE', 'smbd: SESSION_SETUP_ANDX reply: action 0, "Unix", "Samba", "TESTGRP" (aligned UTF-16).'),
        ('OURS_TREE_CONNECT', 'ours: TREE_CONNECT_ANDX \\\\RAPPEER\\IPC$ service "?????" (Unicode).'),
        ('TREE_CONNECT_RESPONSE', 'smbd: TREE_CONNECT_ANDX extended reply: service "IPC", no native file system.'),
        ('OURS_ENUM2_DOMAINS', 'ours: TRANSACTION NetServerEnum2 type 0x80000000, domain TESTGRP.'),
        ('ENUM2_DOMAINS_RESPONSE', 'smbd: TRANSACTION reply: LOCALGRP, OTHERGRP, TESTGRP.'),
        ('OURS_ENUM2_SERVERS', 'ours: TRANSACTION NetServerEnum2 type 0xffffffff, domain TESTGRP.'),
        ('ENUM2_SERVERS_RESPONSE', 'smbd: TRANSACTION reply: ALPHA, BETA, GAMMA, LOCALONE, RAPPEER.'),
        ('OURS_LOGOFF', 'ours: LOGOFF_ANDX.'),
        ('LOGOFF_RESPONSE', 'smbd: LOGOFF_ANDX reply.'),
    ]
    assert len(ours) == len(names), f'{len(ours)} frames in ours.pcap'
    for (name, doc), (_, f) in zip(names, ours):
        print(rust(name, doc, f))

    (oem,) = connections(os.path.join(d, 'oem.pcap'))
    for i, name, doc in [
        (3, 'OEM_NEGOTIATE_RESPONSE', 'smbd with `unicode = no`: NEGOTIATE reply without CAP_UNICODE.'),
        (4, 'OEM_SESSION_SETUP', 'ours: anonymous SESSION_SETUP_ANDX with OEM strings.'),
        (5, 'OEM_SESSION_SETUP_RESPONSE', 'smbd: SESSION_SETUP_ANDX reply with OEM strings.'),
        (6, 'OEM_TREE_CONNECT', 'ours: TREE_CONNECT_ANDX with an OEM path.'),
        (7, 'OEM_TREE_CONNECT_RESPONSE', 'smbd: TREE_CONNECT_ANDX reply (OEM).'),
    ]:
        print(rust(name, doc, oem[i][1]))

    (restricted,) = connections(os.path.join(d, 'restricted.pcap'))
    print(rust('RESTRICTED_TREE_CONNECT_RESPONSE',
               'smbd with `restrict anonymous = 2`: TREE_CONNECT_ANDX error reply.', restricted[7][1]))
    (smb2only,) = connections(os.path.join(d, 'smb2only.pcap'))
    print(rust('SMB2ONLY_NEGOTIATE_RESPONSE',
               'smbd with the default `server min protocol` (SMB2_02): NEGOTIATE reply, no dialect.',
               smb2only[3][1]).rstrip('\n'))


main()
