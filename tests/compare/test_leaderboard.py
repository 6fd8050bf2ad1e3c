"""Leaderboard selector and `GET /api/experiments/{id}/ranking`: seeds pooled, intervals, flags, baseline, effects."""

import pytest
from django.utils import timezone

from experiments.analysis import names
from experiments.models import Run
from experiments.selectors import leaderboard
from tests.compare.factories import make_run


def seeds(experiment, scores, **config):
    return [make_run(experiment, seed=i, score=s, history=False, **config) for i, s in enumerate(scores)]


def test_runs_differing_only_in_seed_are_one_group(experiment):
    seeds(experiment, [0.90, 0.91, 0.92], optimizer={"name": "adam"})
    seeds(experiment, [0.70, 0.71, 0.72], optimizer={"name": "sgd"})
    board = leaderboard.leaderboard_get(experiment=experiment)
    assert board["metric"] == "best.val_accuracy" and board["higher_is_better"]
    first, second = board["groups"]
    assert first["label"] == "adam" and first["n"] == 3
    assert first["mean"] == pytest.approx(0.91) and first["ci_low"] <= 0.91 <= first["ci_high"]
    assert first["clearly_different"] and second["clearly_different"]
    assert second["label"] == "sgd" and second["rank"] == 2
    assert first["p_rank1"] > 0.99


def test_overlapping_intervals_and_few_seeds_are_flagged(experiment):
    seeds(experiment, [0.90, 0.80, 0.85], optimizer={"name": "adam"})
    seeds(experiment, [0.86, 0.84, 0.83], optimizer={"name": "sgd"})
    seeds(experiment, [0.5], optimizer={"name": "rmsprop"})
    board = leaderboard.leaderboard_get(experiment=experiment)
    by_label = {g["label"]: g for g in board["groups"]}
    assert not by_label["sgd"]["clearly_different"]
    assert "overlaps" in by_label["sgd"]["reason"]
    assert not by_label["rmsprop"]["clearly_different"]
    assert by_label["rmsprop"]["reason"] == "2 more seeds needed"


def test_accuracy_intervals_stay_in_0_1_and_one_seed_has_none(alice_client, experiment):
    seeds(experiment, [0.97, 1.0], optimizer={"name": "adam"})
    seeds(experiment, [0.6], optimizer={"name": "sgd"})
    board = alice_client.get(f"/api/experiments/{experiment.pk}/ranking").json()
    adam, sgd = board["groups"]
    assert 0.0 <= adam["ci_low"] < adam["mean"] < adam["ci_high"] == 1.0  # t(1) alone would reach 1.18
    assert adam["verdict"] == "not_clearly_ahead" and adam["p_rank1"] == 1.0
    assert (sgd["ci_low"], sgd["ci_high"], sgd["p_rank1"], sgd["seeds_missing"]) == (None, None, None, 2)
    page = alice_client.get(f"/experiments/{experiment.pk}/leaderboard/").content.decode()
    assert "not clearly ahead of #2" in page and "needs 2 seeds" in page
    assert "Queue 2 missing seeds" in page and "Queue 1 missing seed<" in page


def test_baseline_gives_each_group_its_chance_of_beating_it(alice_client, experiment):
    base = seeds(experiment, [0.70, 0.71, 0.72], optimizer={"name": "sgd"})[0]
    seeds(experiment, [0.90, 0.91, 0.92], optimizer={"name": "adam"})
    r = alice_client.get(f"/api/experiments/{experiment.pk}/ranking", {"baseline": base.group_hash})
    assert r.status_code == 200, r.content
    groups = {g["label"]: g for g in r.json()["groups"]}
    assert groups["adam"]["p_beats_baseline"] == 1.0
    page = alice_client.get(f"/experiments/{experiment.pk}/leaderboard/?baseline={base.group_hash}").content.decode()
    assert "P(beats baseline)" in page and "baseline</span>" in page


def test_lower_is_better_metrics_rank_the_smallest_first(experiment):
    for seed, loss in enumerate([0.3, 0.31, 0.32]):
        run = make_run(experiment, seed=seed, history=False, optimizer={"name": "adam"})
        Run.objects.filter(pk=run.pk).update(summary={"best": {"val_loss": loss}, "final": {"val_loss": loss}})
    run = make_run(experiment, history=False, optimizer={"name": "sgd"})
    Run.objects.filter(pk=run.pk).update(summary={"best": {"val_loss": 0.1}, "final": {"val_loss": 0.1}})
    board = leaderboard.leaderboard_get(experiment=experiment, metric="best.val_loss")
    assert [g["label"] for g in board["groups"]] == ["sgd", "adam"]


def test_unfinished_and_diverged_runs_are_counted_not_scored(experiment):
    seeds(experiment, [0.9, 0.91], optimizer={"name": "adam"})
    make_run(experiment, seed=5, status="diverged", score=None, history=False, optimizer={"name": "adam"})
    make_run(experiment, seed=6, status="running", history=False, optimizer={"name": "adam"})
    make_run(experiment, status="queued", score=None, history=False, optimizer={"name": "sgd"})
    board = leaderboard.leaderboard_get(experiment=experiment)
    (group,) = board["groups"]
    assert group["n"] == 2 and group["runs"]["diverged"] == 1 and group["pending"] == 1
    assert [g["label"] for g in board["unscored_groups"]] == ["sgd"]


def _finish(runs, score_of):
    for run in runs:
        score = score_of(run.config)
        Run.objects.filter(pk=run.pk).update(status="succeeded", summary={"best": {"val_accuracy": score}})


def test_effects_answer_did_the_loss_matter_per_sweep(alice, alice_client, experiment):
    from experiments import services

    base = {"dataset": {"name": "iris"}, "model": {"hidden": [8]}, "epochs": 2}
    grid = {"loss": ["cross_entropy", "focal"], "optimizer": ["adam", "sgd"]}
    runs = services.sweep_launch(experiment=experiment, user=alice, base=base, grid=grid, seeds=3)
    base_of = {"cross_entropy": 0.9, "focal": 0.8}
    _finish(runs, lambda c: base_of[c["loss"]["name"]] - 0.1 * (c["optimizer"]["name"] == "sgd") + c["seed"] / 100)
    # Ad-hoc runs of the experiment are never pooled into a sweep's effects.
    seeds(experiment, [0.0, 0.0, 0.0], loss={"name": "focal"}, optimizer={"name": "rmsprop"})
    body = alice_client.get(f"/api/experiments/{experiment.pk}/ranking").json()
    (sweep,) = body["sweeps"]
    assert body["sweep"] == sweep["id"] and sweep["runs"] == 12
    effects = body["effects"]
    assert set(effects) == {"loss.name", "optimizer.name"}
    ce, focal = effects["loss.name"]
    assert ce["value"] == "cross_entropy" and ce["best"] and ce["mean"] == pytest.approx(0.86)
    assert focal["mean"] == pytest.approx(0.76) and focal["n_seeds"] == 3
    assert focal["diff"] == pytest.approx(-0.1) and focal["clear"]
    assert all(0 <= e["ci_low"] <= e["ci_high"] <= 1 for e in (ce, focal))
    page = alice_client.get(f"/experiments/{experiment.pk}/leaderboard/").content.decode()
    assert "Did it matter?" in page and 'data-factor="loss.name"' in page and "real difference" in page


def test_the_user_picks_the_sweep(alice, alice_client, experiment):
    from experiments import services

    base = {"dataset": {"name": "iris"}, "model": {"hidden": [8]}, "epochs": 2}
    first = services.sweep_launch(
        experiment=experiment, user=alice, base=base, grid={"optimizer": ["adam", "sgd"]}, seeds=2
    )
    second = services.sweep_launch(experiment=experiment, user=alice, base=base, grid={"l2": [0.0, 0.01]}, seeds=2)
    _finish(first + second, lambda c: 0.8 + c["seed"] / 100)
    body = alice_client.get(f"/api/experiments/{experiment.pk}/ranking").json()
    assert body["sweep"] == second[0].sweep_id and set(body["effects"]) == {"regularization.l2"}  # the newest
    body = alice_client.get(f"/api/experiments/{experiment.pk}/ranking", {"sweep": first[0].sweep_id}).json()
    assert set(body["effects"]) == {"optimizer.name"}
    r = alice_client.get(f"/api/experiments/{experiment.pk}/ranking", {"sweep": 999999})
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "sweep"
    page = alice_client.get(f"/experiments/{experiment.pk}/leaderboard/?sweep={first[0].sweep_id}").content.decode()
    assert 'data-factor="optimizer.name"' in page and 'name="sweep"' in page


def test_without_a_sweep_there_is_no_pooled_effects_table(alice_client, experiment):
    seeds(experiment, [0.9, 0.91, 0.92], optimizer={"name": "adam"})
    seeds(experiment, [0.7, 0.71, 0.72], optimizer={"name": "sgd"})
    body = alice_client.get(f"/api/experiments/{experiment.pk}/ranking").json()
    assert body["effects"] == {} and body["sweeps"] == []
    assert "launch a sweep" in alice_client.get(f"/experiments/{experiment.pk}/leaderboard/").content.decode()


@pytest.mark.parametrize("params, field", [({"metric": "best.vibes"}, "metric"), ({"baseline": "nope"}, "baseline")])
def test_bad_ranking_queries_name_the_field(alice_client, experiment, params, field):
    seeds(experiment, [0.9], optimizer={"name": "adam"})
    r = alice_client.get(f"/api/experiments/{experiment.pk}/ranking", params)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == field


def test_another_team_cannot_see_the_ranking(bob_client, experiment):
    assert bob_client.get(f"/api/experiments/{experiment.pk}/ranking").status_code == 404
    assert bob_client.get(f"/experiments/{experiment.pk}/leaderboard/").status_code == 404


def test_empty_experiment_has_an_empty_state(alice_client, experiment):
    page = alice_client.get(f"/experiments/{experiment.pk}/leaderboard/").content.decode()
    assert "No finished runs" in page


def _bulk(experiment, n_groups: int, n_seeds: int):
    """Many runs without going through the launch service: the query count is what is measured."""
    from django.utils import timezone

    runs = []
    for g in range(n_groups):
        for s in range(n_seeds):
            score = 0.5 + g / (2 * n_groups) + s / 1000
            runs.append(
                Run(
                    experiment=experiment,
                    name=f"g{g} s{s}",
                    config={"optimizer": {"name": "adam", "lr": 0.001 * (g + 1)}, "seed": s},
                    config_hash=f"{g}-{s}",
                    group_hash=f"g{g:05d}",
                    seed=s,
                    status="succeeded",
                    queued_at=timezone.now(),
                    summary={"best": {"val_accuracy": score, "val_loss": 1 - score}, "final": {"val_accuracy": score}},
                )
            )
    Run.objects.bulk_create(runs, batch_size=500)


@pytest.mark.parametrize("n_groups, n_seeds", [(4, 3), (400, 5)])
def test_ranking_reads_a_constant_number_of_queries(
    alice_client, experiment, django_assert_max_num_queries, n_groups, n_seeds
):
    _bulk(experiment, n_groups, n_seeds)
    # session, user, experiment; then status counts per group, the representatives not seen before, the
    # succeeded runs, the scores not seen before, sweeps
    with django_assert_max_num_queries(8):
        r = alice_client.get(f"/api/experiments/{experiment.pk}/ranking")
    assert r.status_code == 200
    body = r.json()
    assert len(body["groups"]) == min(n_groups, leaderboard.MAX_GROUPS)
    assert body["unranked_groups"] == max(n_groups - leaderboard.MAX_GROUPS, 0)
    # the same bound at both sizes: the API's queries, the top bar's team switcher (2)
    # and the queue's start estimates (4)
    with django_assert_max_num_queries(12):
        assert alice_client.get(f"/experiments/{experiment.pk}/").status_code == 200


def _sweep(experiment):
    """Configurations x 3 seeds in shuffled id order, with what real sweeps have: a list-valued field, a key some
    configs lack, a failed run, and two groups that differ only in device (one set of factors)."""
    import random

    from django.utils import timezone

    rng, runs = random.Random(5), []
    grid = [(opt, lr, hidden) for opt in ("adam", "sgd") for lr in (0.1, 0.01, None) for hidden in ([16], [32, 16])]
    cells = [(cfg, s) for cfg in grid for s in range(3)] + [(("adam", 0.1, [16]), 9)]
    rng.shuffle(cells)
    for i, ((opt, lr, hidden), s) in enumerate(cells):
        optimizer = {"name": opt, **({"lr": lr} if lr is not None else {})}
        device = "cpu" if s == 9 else "auto"
        config = {
            "optimizer": optimizer,
            "model": {"hidden": hidden, "dropout": 0.5},
            "epochs": 5,
            "seed": s,
            "device": device,
        }
        group = f"{opt}-{lr}-{hidden}-{device}"
        score = rng.random()
        runs.append(
            Run(
                experiment=experiment,
                name=f"r{i}",
                config=config,
                config_hash=f"{group}-{s}",
                group_hash=group,
                seed=s,
                status="failed" if i == 7 else "succeeded",
                queued_at=timezone.now(),
                summary={"best": {"val_accuracy": score}, "final": {"val_accuracy": score}},
            )
        )
    Run.objects.bulk_create(runs)


def test_the_leaderboard_equals_the_computation_run_by_run(experiment):
    from experiments.analysis.tables import flatten_config

    _sweep(experiment)
    board = leaderboard.leaderboard_get(experiment=experiment)
    runs = list(experiment.runs.order_by("pk"))
    reps = {}
    for run in runs:
        reps.setdefault(run.group_hash, run)
    flat = {g: flatten_config(r.config) for g, r in reps.items()}
    fields = sorted(
        {
            f
            for f in set().union(*flat.values())
            if f not in ("seed", "device") and len({repr(fl.get(f, "—")) for fl in flat.values()}) > 1
        }
    )
    factors = {g: {f: fl.get(f, "—") for f in fields} for g, fl in flat.items()}
    assert fields == ["model.hidden", "optimizer.lr", "optimizer.name"]
    for g in board["groups"]:
        assert g["factors"] == factors[g["key"]]
        assert g["label"] == names.group_label(factors[g["key"]])
        assert g["run_ids"] == [r.pk for r in runs if r.group_hash == g["key"] and r.status == "succeeded"]
    labels = {g["key"]: g["label"] for g in board["groups"]}
    # the factors in which the groups differ, in short words; a field a config lacks is left out
    assert labels["sgd-0.01-[32, 16]-auto"] == "hidden 32-16 · sgd lr 0.01"
    assert labels["adam-None-[16]-auto"] == "hidden 16 · adam"
    assert "optimizer.lr = 0.01" in next(g["title"] for g in board["groups"] if g["key"] == "sgd-0.01-[32, 16]-auto")
    means = {g["key"]: g["mean"] for g in board["groups"]}
    assert list(means.values()) == sorted(means.values(), reverse=True) and len(means) == 13


def test_the_task_comes_from_the_metrics_a_run_recorded_else_from_its_dataset(experiment):
    # iris is a classification set: only the recorded RMSE says these groups were trained for regression.
    for lr, rmse in ((0.01, [0.5, 0.6]), (0.001, [0.3, 0.35])):
        for seed, value in enumerate(rmse):
            run = make_run(experiment, seed=seed, history=False, optimizer={"name": "adam", "lr": lr})
            best = {"val_loss": value**2, "val_rmse": value}
            Run.objects.filter(pk=run.pk).update(summary={"best": best, "final": best, "best_epoch": 5})
    board = leaderboard.leaderboard_get(experiment=experiment)
    assert board["metric"] == "best.val_rmse" and not board["higher_is_better"]
    assert [g["mean"] for g in board["groups"]] == pytest.approx([0.325, 0.55])


def test_without_recorded_metrics_the_dataset_says_the_task(experiment):
    for seed in range(2):
        make_run(
            experiment,
            seed=seed,
            status="queued",
            score=None,
            history=False,
            dataset={"name": "diabetes"},
            loss={"name": "mse"},
        )
    assert leaderboard.leaderboard_get(experiment=experiment)["metric"] == "best.val_rmse"
    Run.objects.all().delete()
    make_run(experiment, status="queued", score=None, history=False)
    assert leaderboard.leaderboard_get(experiment=experiment)["metric"] == "best.val_accuracy"


def _cold(experiment, **kwargs):
    """The board as a process that has never seen these runs computes it."""
    leaderboard._known.clear()
    leaderboard._run_scores.clear()
    return leaderboard.leaderboard_get(experiment=experiment, **kwargs)


def test_what_a_process_keeps_of_its_earlier_reads_follows_the_runs(experiment):
    """The representatives' configs and tasks and the succeeded runs' scores are kept between requests: every
    change a run can go through shows on the next read, as a fresh process would compute it."""
    adam = seeds(experiment, [0.90, 0.91], optimizer={"name": "adam"})
    sgd = make_run(experiment, status="queued", score=None, history=False, optimizer={"name": "sgd"})
    steps = [lambda: None]
    steps.append(lambda: make_run(experiment, seed=7, score=0.99, history=False, optimizer={"name": "adam"}))
    steps.append(  # the queued representative finishes: its group is scored and its task recorded
        lambda: Run.objects.filter(pk=sgd.pk).update(
            status="succeeded", summary={"best": {"val_accuracy": 0.5}, "final": {"val_accuracy": 0.5}}
        )
    )
    steps.append(lambda: Run.objects.filter(pk=adam[0].pk).delete())  # the representative leaves its group
    steps.append(  # run again and finished later with another score
        lambda: Run.objects.filter(pk=adam[1].pk).update(
            finished_at=timezone.now(), summary={"best": {"val_accuracy": 0.2}, "final": {"val_accuracy": 0.2}}
        )
    )
    metrics = (None, "best.val_loss")
    seen = []
    for step in steps:
        step()
        warm = [leaderboard.leaderboard_get(experiment=experiment, metric=m) for m in metrics]  # kept from the last
        assert warm == [_cold(experiment, metric=m) for m in metrics]
        for m in metrics:  # what the next step starts from
            leaderboard.leaderboard_get(experiment=experiment, metric=m)
        seen.append({g["label"]: (g["n"], round(g["mean"], 4)) for g in warm[0]["groups"]})
    assert seen[1]["adam"] == (3, 0.9333) and seen[2]["sgd"] == (1, 0.5)
    assert seen[3]["adam"] == (2, 0.95) and seen[4]["adam"] == (2, 0.595)
