#!/usr/bin/env python3
"""Turn one run.sh capture (wan.pcap + the initiator's charon.log) into a fixture.

Usage: extract.py RUN_DIR NAME IKE_PROPOSAL ESP_PROPOSAL > ../strongswan-NAME.txt
"""
import re, struct, sys

LABELS = {
    "shared Diffie Hellman secret": "gir",
    "SKEYSEED": "skeyseed",
    "Sk_d secret": "sk_d", "Sk_ai secret": "sk_ai", "Sk_ar secret": "sk_ar",
    "Sk_ei secret": "sk_ei", "Sk_er secret": "sk_er",
    "Sk_pi secret": "sk_pi", "Sk_pr secret": "sk_pr",
    "IDx'": "auth_id_body",
    "octets = message + nonce + prf(Sk_px, IDx')": "auth_octets",
    "AUTH = prf(prf(secret, keypad), octets)": "auth",
    "DH secret": "child_gir",
    "seed": "child_seed",
    "encryption initiator key": "child_encr_i", "encryption responder key": "child_encr_r",
    "integrity initiator key": "child_integ_i", "integrity responder key": "child_integ_r",
}

def log_values(path):
    out, cur = [], None
    head = re.compile(r"^\S+ \d+\[(IKE|CHD)\] (.+) => (\d+) bytes @ 0x[0-9a-f]+$")
    line_re = re.compile(r"^\S+ \d+\[(IKE|CHD)\]\s+(\d+): ((?:[0-9A-F]{2} )+)")
    for line in open(path, errors="replace"):
        line = line.rstrip("\n")
        m = head.match(line)
        if m:
            cur = None
            if m.group(2) in LABELS:
                cur = [LABELS[m.group(2)], int(m.group(3)), bytearray()]
                out.append(cur)
            continue
        m = line_re.match(line)
        if m and cur is not None:
            cur[2] += bytes.fromhex(m.group(3).replace(" ", ""))
            continue
        cur = None
    for name, n, data in out:
        assert len(data) == n, (name, n, len(data))
    return [(n, bytes(d)) for n, _, d in out]

def messages(path, initiator_ip):
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    assert magic == 0xa1b2c3d4, hex(magic)
    off, msgs = 24, []
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack("<IIII", data[off:off+16]); off += 16
        pkt = data[off:off+incl]; off += incl
        if struct.unpack("!H", pkt[12:14])[0] != 0x0800:
            continue
        ip = pkt[14:]
        ihl = (ip[0] & 15) * 4
        if ip[9] != 17:
            continue
        src = ".".join(str(b) for b in ip[12:16])
        udp = ip[ihl:]
        sport, dport, ulen = struct.unpack("!HHH", udp[:6])
        payload = udp[8:ulen]
        if 4500 in (sport, dport):
            if len(payload) < 4 or payload[:4] != b"\0\0\0\0":
                continue  # ESP or NAT-T keepalive
            payload = payload[4:]
        if len(payload) < 28:
            continue
        msgs.append(("i2r" if src == initiator_ip else "r2i", sport, payload))
    return msgs

def main():
    run, name, ike, esp = sys.argv[1:5]
    print(f"# strongSwan 5.9.8 known-answer fixture {name}: see README.md")
    print(f"ike_proposal {ike}")
    print(f"esp_proposal {esp}")
    print("psk " + b"suite-kat-psk-0123456789".hex())
    for d, port, m in messages(f"{run}/wan.pcap", "10.203.0.1"):
        print(f"msg {d} {m.hex()}")
    for label, v in log_values(f"{run}/a/charon.log"):
        print(f"log {label} {v.hex()}")

main()
