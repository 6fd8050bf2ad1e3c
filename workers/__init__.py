"""The Celery runtime: imports `experiments` (the queue, the metric store), is never imported by it.

`tasks` (the ticket task, registered as "workers.tasks.execute_next"), `runner` (trains one claimed
run and records it), `scheduler` (the reconcile loop), `device` (GPU facts for the heartbeat),
`drills` (fault injection for tests). `training/` is the pure engine: no Django, no Celery.
"""
