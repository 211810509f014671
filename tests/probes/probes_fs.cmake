# File-system probes (fs part). MODE run: each probe runs as tenant site-a
# from its first instruction under `tenant-sandbox run`, cwd ROOT/www/site-a.
# Each also fails when run without libsandbox (the denied checks succeed).
ts_add_probe(fs_open SOURCES fs_open.c)
ts_add_probe(fs_meta SOURCES fs_meta.c)
ts_add_probe(fs_change SOURCES fs_change.c)
ts_add_probe(fs_dir SOURCES fs_dir.c)
ts_add_probe(fs_tmp SOURCES fs_tmp.c)
ts_add_probe(fs_symlink SOURCES fs_symlink.c)
ts_add_probe(fs_magic SOURCES fs_magic.c)
