"""Extract IKE messages (UDP payloads) from a pcap and the decrypted inner
payload chains from charon's ENC level-3 log into hex files."""
import re, struct, sys, os

def pcap_udp(path):
    d = open(path, 'rb').read()
    magic, = struct.unpack('<I', d[:4])
    assert magic == 0xa1b2c3d4, hex(magic)
    linktype, = struct.unpack('<I', d[20:24])
    off = 24
    out = []
    while off + 16 <= len(d):
        _, _, incl, _ = struct.unpack('<IIII', d[off:off+16]); off += 16
        pkt = d[off:off+incl]; off += incl
        if linktype == 1:
            if struct.unpack('>H', pkt[12:14])[0] != 0x0800: continue
            ip = pkt[14:]
        else:
            raise SystemExit('linktype %d' % linktype)
        ihl = (ip[0] & 15) * 4
        if ip[9] != 17: continue
        udp = ip[ihl:]
        sport, dport, ulen = struct.unpack('>HHH', udp[:6])
        pl = udp[8:ulen]
        src = '.'.join(map(str, ip[12:16]))
        if 4500 in (sport, dport):
            if pl[:4] != b'\0\0\0\0': continue  # ESP, not IKE
            pl = pl[4:]
        out.append((src, sport, dport, pl))
    return out

def log_plain(path):
    """Yield (direction, bytes) for each 'plain =>' dump."""
    lines = open(path).read().splitlines()
    res = []
    i = 0
    while i < len(lines):
        m = re.search(r'\[ENC\] plain => (\d+) bytes', lines[i])
        if m:
            n = int(m.group(1)); buf = bytearray(); i += 1
            while len(buf) < n:
                hx = re.match(r'\d+\[ENC\]\s+\d+: ((?:[0-9A-F]{2} ?)+)', lines[i])
                buf += bytes.fromhex(hx.group(1)[:48].replace(' ', '')); i += 1
            res.append(bytes(buf[:n]))
            continue
        i += 1
    return res

def wr(path, b):
    with open(path, 'w') as f:
        for j in range(0, len(b), 32):
            f.write(b[j:j+32].hex() + '\n')

if __name__ == '__main__':
    pcap, log, outdir, prefix = sys.argv[1:5]
    os.makedirs(outdir, exist_ok=True)
    for k, (src, sp, dp, pl) in enumerate(pcap_udp(pcap)):
        ex = {34: 'ike_sa_init', 35: 'ike_auth', 36: 'create_child_sa', 37: 'informational'}.get(pl[18], str(pl[18]))
        role = 'response' if pl[19] & 0x20 else 'request'
        name = '%s-%02d-%s-%s' % (prefix, k, ex, role)
        wr(os.path.join(outdir, name + '.hex'), pl)
        print(name, len(pl), src, sp, dp)
    for k, b in enumerate(log_plain(log)):
        print('plain', k, len(b), b[:8].hex())
        wr(os.path.join(outdir, '%s-plain-%02d.hex' % (prefix, k)), b)
