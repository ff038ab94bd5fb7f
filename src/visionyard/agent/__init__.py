"""Training agents: claim queued runs, supervise trainer subprocesses, relay their events.

One agent serves one GPU (or a set of GPUs for multi-GPU runs), or the CPU. It knows the database
and the shared run storage; the trainer it spawns knows neither the database nor any dashboard
secret (see `environment`). Lifecycle rules: docs/architecture.md, "The run queue: states, leases,
fencing"; the promises they keep: docs/reliability.md.
"""
