#!/usr/bin/env python3
"""bench/onboard.py -- onboard the benchmark customers through the API.

    onboard.py URL COUNT KEYS_FILE

POSTs COUNT customers to URL/api/v1/customers (as a client would, through
nginx) and writes their API keys to KEYS_FILE, one per line. Any answer other
than 201 stops it with the status and body on stderr. Python stdlib only.
"""
import json
import sys
import urllib.error
import urllib.request


def onboard(url, n):
    body = json.dumps({"email": f"bench-{n}@example.com", "name": f"Bench customer {n}",
                       "source": "direct"}).encode()
    req = urllib.request.Request(f"{url}/api/v1/customers", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, text = resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode(errors="replace")
    if status != 201:
        sys.exit(f"bench: onboarding customer {n}: HTTP {status}: {text}")
    return json.loads(text)["api_key"]


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    url, count, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    keys = [onboard(url, n) for n in range(1, count + 1)]
    with open(path, "w") as f:
        f.write("".join(k + "\n" for k in keys))


if __name__ == "__main__":
    main()
