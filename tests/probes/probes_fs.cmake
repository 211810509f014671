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
# A stand-in PHP extension, dlopen'ed with RTLD_DEEPBIND by fs_dlopen.
add_library(fs_deep_lib MODULE fs_deep_lib.c)
ts_add_probe(fs_dlopen SOURCES fs_dlopen.c MODE preload ARGS $<TARGET_FILE:fs_deep_lib>)
foreach(variant plain fortify lfs)
  add_dependencies(probe_fs_dlopen_${variant} fs_deep_lib)
endforeach()
ts_add_probe(fs_audit SOURCES fs_audit.c)
ts_add_probe(fs_nested SOURCES fs_nested.c)
ts_add_probe(fs_misc SOURCES fs_misc.c)
ts_add_probe(fs_filearea SOURCES fs_filearea.c)
ts_add_probe(fs_alias SOURCES fs_alias.c MODE preload)
ts_add_probe(fs_shm SOURCES fs_shm.c)
