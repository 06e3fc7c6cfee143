"""Hooks and commands of the Redis service template (Sentinel, Redis Cluster or ElastiCache).

Each module has one job and a clear error type; `redis_scaffold.cli` wires them into the
`redis-scaffold` command. Nothing here reads the environment in the middle of its
logic: the command line resolves inputs and passes them down as arguments.
"""
