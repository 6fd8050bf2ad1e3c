"""Queueing the seeds a configuration misses: one button and one API call, all or nothing, within the limits."""

from __future__ import annotations

import pytest

from experiments import services
from experiments.models import Run
from tests.compare.factories import make_run


def url(experiment, group_hash: str) -> str:
    return f"/api/experiments/{experiment.pk}/groups/{group_hash}/seeds"


def test_it_queues_the_missing_seeds_of_one_configuration(alice_client, experiment):
    one = make_run(experiment, score=0.9, history=False, optimizer={"name": "adam"})
    failed = make_run(experiment, seed=1, status="failed", score=None, history=False, optimizer={"name": "adam"})
    other = make_run(experiment, score=0.8, history=False, optimizer={"name": "sgd"})
    assert failed.group_hash == one.group_hash != other.group_hash
    r = alice_client.post(url(experiment, one.group_hash))
    assert r.status_code == 201, r.content
    assert r.json()["seeds"] == [2, 3]  # seed 1 failed: it is not retried
    queued = Run.objects.filter(pk__in=r.json()["runs"])
    assert {(q.group_hash, q.status) for q in queued} == {(one.group_hash, "queued")}
    assert Run.objects.filter(group_hash=other.group_hash).count() == 1
    board = alice_client.get(f"/api/experiments/{experiment.pk}/ranking").json()
    adam = next(g for g in board["groups"] if g["key"] == one.group_hash)
    assert adam["pending"] == 2
    # Now it has 3 seeds finished or on their way: nothing more to queue.
    r = alice_client.post(url(experiment, one.group_hash))
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "group"


def test_it_is_all_or_nothing_within_the_launch_limits(alice_client, experiment, settings):
    one = make_run(experiment, score=0.9, history=False)
    settings.RUNS_PER_MINUTE = Run.objects.count() + 1  # room for one launch, not the two missing
    r = alice_client.post(url(experiment, one.group_hash))
    assert r.status_code == 429 and r.json()["errors"][0]["field"] == "runs_per_minute"
    assert Run.objects.count() == 1


def test_seeds_of_a_sweep_stay_in_the_sweep(alice, experiment):
    base = {"dataset": {"name": "iris"}, "model": {"hidden": [8]}, "epochs": 2}
    (run,) = services.sweep_launch(experiment=experiment, user=alice, base=base, grid={}, seeds=1)
    added = services.group_seeds_launch(experiment=experiment, user=alice, group_hash=run.group_hash)
    assert [(r.seed, r.sweep_id, r.group_hash) for r in added] == [(s, run.sweep_id, run.group_hash) for s in (1, 2)]


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_an_unknown_configuration_or_another_teams_is_not_found(alice_client, bob_client, experiment, who):
    one = make_run(experiment, score=0.9, history=False)
    client = alice_client if who == "alice" else bob_client
    r = client.post(url(experiment, "f" * 64 if who == "alice" else one.group_hash))
    assert r.status_code == 404
    assert Run.objects.count() == 1


def test_the_leaderboard_button_queues_them(alice_client, experiment):
    one = make_run(experiment, score=0.9, history=False)
    page = alice_client.get(f"/experiments/{experiment.pk}/leaderboard/").content.decode()
    assert f'name="group" value="{one.group_hash}"' in page
    r = alice_client.post(f"/experiments/{experiment.pk}/leaderboard/seeds/", {"group": one.group_hash}, follow=True)
    assert r.status_code == 200 and "Queued 2 more seeds (1, 2)" in r.content.decode()
    assert Run.objects.filter(group_hash=one.group_hash).count() == 3
    r = alice_client.post(f"/experiments/{experiment.pk}/leaderboard/seeds/", {"group": one.group_hash}, follow=True)
    assert "Nothing queued" in r.content.decode()
