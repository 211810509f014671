"""The files an operator installs (conf/) are valid: Apache accepts
tenant_tag.load + tenant_tag.conf + the PHP snippet with the example
policy (configtest), and nginx accepts the front-end example."""
import os
import subprocess

from conftest import APACHE, NGINX

CONF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "conf")


def read(name):
    with open(os.path.join(CONF, name)) as fh:
        return fh.read()


def test_apache_accepts_the_shipped_module_conf(apache_factory):
    a = apache_factory()
    policy = os.path.join(a.root, "policy.json")
    with open(policy, "w") as fh:
        fh.write(read("policy.example.json"))
    load = read("tenant_tag.load").replace("/usr/lib/apache2/modules/mod_tenant_tag.so",
                                           a.paths["module"])
    conf = read("tenant_tag.conf").replace("/etc/tenant-sandbox/policy.json", policy)
    php = read("php-shared-hosting.conf").replace("*:80", f"*:{a.port}")
    a.render()
    text = open(a.conf).read()
    # keep the harness' base config, replace its module lines with the shipped ones
    text = "\n".join(l for l in text.splitlines()
                     if not l.startswith(("LoadModule tenant_tag_module", "TenantSandbox", "TenantPolicy")))
    with open(a.conf, "w") as fh:
        fh.write(text + "\n" + load + conf + php)
    r = a.ctl("-t")
    assert r.returncode == 0 and "Syntax OK" in r.stderr, r.stderr


def test_nginx_accepts_the_shipped_front_end(tmp_path):
    conf = tmp_path / "nginx.conf"
    body = read("nginx-frontend.conf").replace("listen 80;", "listen 127.0.0.1:1;")
    conf.write_text(f"pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;\n"
                    f"events {{}}\nhttp {{ access_log off;\n{body}\n}}\n")
    r = subprocess.run([NGINX, "-t", "-c", str(conf), "-p", str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
