# Network and descriptor probes (net part). MODE preload: each probe claims
# control itself, builds its listeners as the System, then becomes site-a.
ts_add_probe(net_addr SOURCES net_addr.c MODE preload)
ts_add_probe(net_unix SOURCES net_unix.c MODE preload)
ts_add_probe(net_budget SOURCES net_budget.c MODE preload)
ts_add_probe(net_run SOURCES net_run.c MODE run)
