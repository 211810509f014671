"""nginx in front (Debian's nginx on loopback): requests through nginx get
their tenant from X-Site-Id; the same header sent straight to Apache by a
client is ignored (403, logged once per peer)."""
import os
import subprocess
import time

import pytest

from conftest import NGINX, free_port, http, make_tenant_dir, policy_for

PROXY_ADDR = "127.0.0.5"   # nginx connects to Apache from here (proxy_bind)


@pytest.fixture
def front(apache_factory, tmproot):
    a = apache_factory()
    for t in ("site-a", "site-b"):
        make_tenant_dir(a.root, t)
    a.write_policy(policy_for(a.root, ["site-a", "site-b"]))
    a.add_vhost("backend.test", [f"VirtualDocumentRoot {a.root}/www/%1",
                                 "TenantHeader X-Site-Id", f"TenantTrustedProxy {PROXY_ADDR}"])
    a.start()
    nport = free_port()
    nroot = os.path.join(tmproot, "nginx")
    os.makedirs(nroot)
    conf = os.path.join(nroot, "nginx.conf")
    with open(conf, "w") as fh:
        fh.write(f"""
daemon on;
pid {nroot}/nginx.pid;
error_log {nroot}/error.log;
worker_processes 1;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {nroot}/body; proxy_temp_path {nroot}/proxy;
  fastcgi_temp_path {nroot}/fcgi; uwsgi_temp_path {nroot}/uwsgi; scgi_temp_path {nroot}/scgi;
  map $host $tenant_id {{ default ""; site-a.test site-a; site-b.test site-b; }}
  server {{
    listen 127.0.0.1:{nport};
    location / {{
      if ($tenant_id = "") {{ return 404; }}
      proxy_pass http://127.0.0.1:{a.port};
      proxy_bind {PROXY_ADDR};
      proxy_set_header Host $host;
      proxy_set_header X-Site-Id $tenant_id;
    }}
  }}
}}
""")
    r = subprocess.run([NGINX, "-c", conf, "-p", nroot], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for _ in range(50):
        if os.path.exists(f"{nroot}/nginx.pid"):
            break
        time.sleep(0.1)
    yield a, nport
    subprocess.run([NGINX, "-c", conf, "-p", nroot, "-s", "stop"], capture_output=True)


def test_tenant_from_nginx_header(front):
    a, nport = front
    for t in ("site-a", "site-b"):
        r = http(nport, "/t.php?op=read&arg=" + os.path.join(a.root, "www", t, "secret.txt"),
                 host=f"{t}.test").json()
        assert r["tenant"] == t and r["ok"], r
    # nginx overwrites a client's own X-Site-Id
    r = http(nport, "/t.php?op=whoami", host="site-a.test", headers=[("X-Site-Id", "site-b")]).json()
    assert r["tenant"] == "site-a"
    cross = http(nport, "/t.php?op=read&arg=" + os.path.join(a.root, "www", "site-b", "secret.txt"),
                 host="site-a.test").json()
    assert not cross["ok"]


def test_same_header_straight_to_apache_is_ignored(front):
    a, _ = front
    r = http(a.port, "/t.php?op=whoami", host="site-a.test", headers=[("X-Site-Id", "site-a")])
    assert r.status == 403
    assert "AH10914" in a.error_log() and "untrusted peer 127.0.0.1" in a.error_log()
