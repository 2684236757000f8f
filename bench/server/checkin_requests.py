#!/usr/bin/env python3
"""Enrolls N devices with uplift-server and writes M pre-signed check-in requests (raw HTTP/1.1,
each ended by a NUL byte) for wrk (checkin.lua) and the storm client: every request carries its
own nonce, as the server refuses replays. Timestamps are now; the server accepts them for
±300 s, so generate right before the run."""
import hashlib, hmac, json, os, sys, time, urllib.request

def main():
    url, tenant, secret_file, devices, count, out = sys.argv[1:7]
    devices, count = int(devices), int(count)
    secret = open(secret_file).read().strip()
    host = url.split("//", 1)[1].split("/", 1)[0]
    # Devices that made signed requests cannot enroll again (409): keep their credentials.
    cache = secret_file + ".creds.json"
    known = json.load(open(cache)) if os.path.exists(cache) else {}
    creds = []
    for d in range(devices):
        dev = "bench-%05d" % d
        if dev in known:
            creds.append((dev, bytes.fromhex(known[dev])))
            continue
        body = json.dumps({"tenant": tenant, "device_id": dev, "hardware": "bench-board",
                           "enrollment_secret": secret}).encode()
        req = urllib.request.Request(url + "/api/device/v1/enroll", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as r:
            creds.append((dev, bytes.fromhex(json.load(r)["credential"])))
    json.dump({d: c.hex() for d, c in creds} | {k: v for k, v in known.items()}, open(cache, "w"))
    inv = json.dumps({"inventory": {"product": "bench-fw", "version": "1.0.0",
                                    "image_sha256": "0" * 64, "hardware": "bench-board",
                                    "slot": {"booted": "a", "state": "idle"},
                                    "battery": {"percent": 80, "charging": False},
                                    "network": {"type": "wifi", "metered": False}}}).encode()
    body_hash = hashlib.sha256(inv).hexdigest()
    target = "/api/device/v1/checkin"
    now = int(time.time())
    with open(out, "wb") as f:
        for i in range(count):
            dev, cred = creds[i % devices]
            nonce = os.urandom(16).hex()
            canonical = "\n".join(["UPLIFT-HMAC-SHA256", "POST", target, tenant, dev, str(now),
                                   nonce, body_hash]).encode()
            sig = hmac.new(cred, canonical, hashlib.sha256).hexdigest()
            head = ("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                    "Content-Length: %d\r\nUplift-Tenant: %s\r\nUplift-Device: %s\r\n"
                    "Uplift-Timestamp: %d\r\nUplift-Nonce: %s\r\nUplift-Signature: %s\r\n\r\n"
                    % (target, host, len(inv), tenant, dev, now, nonce, sig))
            f.write(head.encode() + inv + b"\0")

if __name__ == "__main__":
    main()
