"""Side-by-side benchmark of lpgdb against Kùzu, LadybugDB, SQLite and networkx.

Not part of the installed package.  Modules: datagen (seeded data + workload inputs),
workloads (W0-W11), expected (ground truth and answer checks), report (markdown), run
(orchestration, one child process per system), profile (cProfile of one workload),
adapters/ (one file per system).
"""
