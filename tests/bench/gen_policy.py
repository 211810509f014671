#!/usr/bin/python3
"""Generate a large, valid tenant-sandbox policy for load and lookup benchmarks.

    gen_policy.py --tenants 1000000 --own-rules 0.1 --out /tmp/policy-1m.json

Tenant ids are site-0000000 .. site-N-1 in file order. Every tenant whose
index i satisfies i % round(1/own_rules) == 0 gets rules of its own (a
read_only path, an ip_deny list, limits, sometimes exec and mode), the rest
are listed with {} and use the defaults. Deterministic: the same arguments
give the same bytes, so benchmark runs are comparable.
"""
import argparse
import json
import sys


def tenant_rules(i: int) -> dict:
    rules = {
        "read_only": [f"/srv/shared/lib-{i % 97}", "/srv/www/{tenant}/conf"],
        "ip_deny": ["10.0.0.0/8", f"192.168.{i % 256}.0/24", "fd00::/8"],
        "max_connections": 5 + i % 50,
    }
    if i % 3 == 0:
        rules["exec"] = ["/usr/bin/convert", "/usr/sbin/sendmail"]
    if i % 7 == 0:
        rules["mode"] = "audit"
    if i % 11 == 0:
        rules["root"] = f"/srv/custom/{i}/{{tenant}}"
    return rules


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tenants", type=int, default=1000000)
    ap.add_argument("--own-rules", type=float, default=0.1, help="fraction of tenants with rules of their own")
    ap.add_argument("--unknown", choices=["deny", "defaults"], default="deny")
    ap.add_argument("--out", default="-")
    args = ap.parse_args()
    every = max(1, round(1 / args.own_rules)) if args.own_rules > 0 else 0

    out = sys.stdout if args.out == "-" else open(args.out, "w", encoding="ascii")
    head = {
        "version": 1,
        "tenant_root": "/srv/www/{tenant}",
        "unknown_tenants": args.unknown,
        "defaults": {
            "read_only": ["/usr/share/zoneinfo", "/usr/share/php"],
            "ip_deny": ["127.0.0.0/8", "::1/128", "169.254.0.0/16"],
            "unix_sockets": ["/run/mysqld/mysqld.sock"],
            "max_connections": 20,
            "max_requests": 10,
            "mode": "enforce",
        },
    }
    text = json.dumps(head)
    out.write(text[:-1] + ', "tenants": {\n')
    for i in range(args.tenants):
        rules = tenant_rules(i) if every and i % every == 0 else {}
        sep = ",\n" if i + 1 < args.tenants else "\n"
        out.write(f'"site-{i:07d}": {json.dumps(rules)}{sep}')
    out.write("}}\n")
    if out is not sys.stdout:
        out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
