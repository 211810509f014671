"""TenantMap with 1,000 tenants (txt and dbm), one catch-all vhost using
mod_vhost_alias: every sampled tenant runs as itself and cannot read its
neighbour's secret."""
import os
import random
import subprocess

import pytest

from conftest import make_tenant_dir, policy_for

N = 1000


@pytest.fixture(params=["txt", "dbm"])
def mass(apache_factory, request):
    a = apache_factory(workers=3)
    tenants = [f"t{i:04d}" for i in range(N)]
    for t in tenants:
        make_tenant_dir(a.root, t)
    a.write_policy(policy_for(a.root, tenants))
    txt = os.path.join(a.root, "hosts.txt")
    with open(txt, "w") as fh:
        fh.write("# 1,000 tenants\n")
        for t in tenants:
            fh.write(f"{t}.test {t}\n")
    spec = f"txt:{txt}"
    if request.param == "dbm":
        dbm = os.path.join(a.root, "hosts")
        subprocess.run(["/usr/sbin/httxt2dbm", "-i", txt, "-o", dbm], check=True,
                       capture_output=True)
        spec = f"dbm:{dbm}"
    a.add_vhost("mass.test", [f"VirtualDocumentRoot {a.root}/www/%1", f"TenantMap {spec}"])
    a.start()
    return a, tenants


def test_thousand_tenants_each_confined(mass):
    a, tenants = mass
    rnd = random.Random(7)
    sample = rnd.sample(tenants, 12) + [tenants[0], tenants[-1]]
    for t in sample:
        other = tenants[(tenants.index(t) + 1) % N]
        own = a.php(f"{t}.test", "read", os.path.join(a.root, "www", t, "secret.txt"))
        assert own["tenant"] == t and own["data"] == f"secret-of-{t}", own
        cross = a.php(f"{t}.test", "read", os.path.join(a.root, "www", other, "secret.txt"))
        assert cross["tenant"] == t and not cross["ok"], cross
    assert a.get("nobody.test", "/t.php?op=whoami").status == 403
