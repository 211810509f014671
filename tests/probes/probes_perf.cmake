# Probes for the per-call optimisations (perf part): the stat fast path
# must not weaken THREATS 8 / 11.
ts_add_probe(fs_stat_race SOURCES fs_stat_race.c)
