"""`manage.py gpuworkers` pins one Celery worker to each GPU of the host."""

from workers.management.commands.gpuworkers import visible_gpus, worker_command


def test_it_starts_one_worker_per_pinned_gpu_or_none_for_cpu(monkeypatch):
    monkeypatch.setenv("LOSSLAB_GPUS", "0, 2,3")
    assert visible_gpus() == ["0", "2", "3"]
    monkeypatch.setenv("LOSSLAB_GPUS", "none")
    assert visible_gpus() == []
    monkeypatch.setenv("LOSSLAB_GPUS", "")
    monkeypatch.setenv("PATH", "/nonexistent")  # no nvidia-smi: a CPU host
    assert visible_gpus() == []


def test_each_worker_runs_one_run_at_a_time_under_its_own_name():
    cmd = worker_command("gpu1")
    assert "-c 1 --prefetch-multiplier 1" in cmd and "-n gpu1@%h" in cmd and "-Q runs" in cmd
