"""`make run` stays small: its idle CPU worker does not load torch until a run needs it, nor keeps it after."""

import pytest

from tests.helpers import tiny_config, wait_for

pytestmark = pytest.mark.integration


def pool_children(worker) -> list[int]:
    from bench.footprint import children, cmdline

    return [pid for pid in children(worker.proc.pid) if "celery" in cmdline(pid)]


def loads_torch(pid: int) -> bool:
    with open(f"/proc/{pid}/maps") as f:
        return "libtorch" in f.read()


def test_an_idle_local_worker_has_not_imported_torch_and_still_trains(start_worker, experiment, alice):
    from experiments.models import Run, Worker
    from experiments.services import run_launch

    worker = start_worker("lean", LOSSLAB_WORKER_WARM_UP="false", LOSSLAB_WORKER_HEARTBEAT_S="0.2")
    wait_for(
        lambda: Worker.objects.filter(name="lean@test", last_heartbeat__isnull=False).exists(),
        timeout=30,
        message="the pool process's first heartbeat",
    )
    pool = pool_children(worker)
    assert pool and not any(loads_torch(pid) for pid in pool)
    run = run_launch(experiment=experiment, user=alice, config=tiny_config(epochs=1))
    wait_for(lambda: Run.objects.get(pk=run.pk).is_finished, timeout=90, message="the run to finish")
    assert Run.objects.get(pk=run.pk).status == "succeeded", worker.output()
    # The pool process that trained is replaced: the worker is back to its idle footprint.
    wait_for(
        lambda: (p := pool_children(worker)) and set(p).isdisjoint(pool) and not any(loads_torch(pid) for pid in p),
        timeout=30,
        message="a fresh pool process without torch after the run",
    )
