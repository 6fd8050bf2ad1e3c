"""Run names made from differences at launch; rename and tags through the service, the API and the pages."""

import json

import pytest

from experiments import services
from experiments.errors import Refused
from experiments.models import Run
from tests.helpers import tiny_config
from workers.training.presets import PRESETS


def tutorial(**changes) -> dict:
    data = PRESETS["tutorial_mlp"][1].model_dump(mode="json")
    for section, values in changes.items():
        if isinstance(values, dict):
            data[section] = {**data[section], **values}
        else:
            data[section] = values
    return data


def launch(experiment, alice, config, **kw) -> Run:
    return services.run_launch(experiment=experiment, user=alice, config=config, **kw)


def test_it_names_runs_by_how_they_differ_from_the_first(experiment, alice):
    first = launch(experiment, alice, tutorial(), preset="tutorial_mlp")
    smoothing = launch(experiment, alice, tutorial(loss={"label_smoothing": 0.1}), preset="tutorial_mlp")
    l2 = launch(experiment, alice, tutorial(regularization={"l2": 0.1}), preset="tutorial_mlp")
    sgd = launch(experiment, alice, tutorial(optimizer={"name": "sgd", "lr": 0.01}, seed=1), preset="tutorial_mlp")
    assert [first.name, smoothing.name, l2.name, sgd.name] == [
        "tutorial mlp · seed 0",
        "ls 0.1 · seed 0",
        "l2 0.1 · seed 0",
        "sgd lr 0.01 · seed 1",
    ]
    experiment.refresh_from_db()
    assert experiment.reference_name == "tutorial mlp" and experiment.reference_config == first.config


def test_the_first_run_is_named_after_its_preset_and_what_it_changed_there(experiment, alice):
    first = launch(experiment, alice, tutorial(epochs=2), preset="tutorial_mlp")
    again = launch(experiment, alice, tutorial(epochs=2, seed=1), preset="tutorial_mlp")
    other = launch(experiment, alice, PRESETS["digits_cnn"][1], preset="digits_cnn")
    assert first.name == "tutorial mlp · epochs 2 · seed 0"
    assert again.name == "tutorial mlp · seed 1"  # nothing but the seed changed: the reference's name
    assert other.name == "digits cnn · seed 0"


def test_without_a_preset_the_reference_is_named_after_its_architecture(experiment, alice):
    first = launch(experiment, alice, tiny_config())
    wider = launch(experiment, alice, tiny_config(model={"hidden": [32, 16]}, batch_size=64))
    assert first.name == "mlp 16 · seed 0"
    assert wider.name == "bs 64 · mlp 32-16 · seed 0"


def test_a_given_name_wins(experiment, alice):
    assert launch(experiment, alice, tiny_config(), name="  baseline ").name == "baseline"


def test_a_sweep_names_its_runs_against_its_base(experiment, alice):
    base = tutorial(epochs=2)
    runs = services.sweep_launch(
        experiment=experiment,
        user=alice,
        base=base,
        grid={"optimizer": ["sgd", "adam"]},
        seeds=1,
        preset="tutorial_mlp",
    )
    assert [r.name for r in runs] == ["sgd · seed 0", "tutorial mlp · seed 0"]


def test_rename_and_tags(experiment, alice):
    run = launch(experiment, alice, tiny_config())
    services.run_rename(run=run, name=" my best ", tags=["Baseline", " long  run ", "baseline"])
    run.refresh_from_db()
    assert run.name == "my best" and run.tags == ["baseline", "long run"]
    services.run_rename(run=run, name="")
    run.refresh_from_db()
    assert run.name == "mlp 16 · seed 0" and run.tags == ["baseline", "long run"]


@pytest.mark.parametrize(
    "tags,message",
    [
        (["x" * 33], "longer than 32"),
        ([f"t{i}" for i in range(11)], "At most 10"),
        (['say "hi"'], "may use only"),
        ([3], "must be a string"),
    ],
)
def test_it_refuses_bad_tags_by_field(experiment, alice, tags, message):
    run = launch(experiment, alice, tiny_config())
    with pytest.raises(Refused) as exc:
        services.run_rename(run=run, tags=tags)
    assert exc.value.field == "tags" and message in exc.value.message


def test_the_api_renames_tags_and_filters_by_tag(alice_client, experiment, alice):
    a = launch(experiment, alice, tiny_config())
    b = launch(experiment, alice, tiny_config(seed=1))
    r = alice_client.patch(
        f"/api/runs/{a.pk}", json.dumps({"name": "A", "tags": ["keep", "lr sweep"]}), "application/json"
    )
    assert r.status_code == 200, r.content
    assert r.json()["name"] == "A" and r.json()["tags"] == ["keep", "lr sweep"]
    alice_client.patch(f"/api/runs/{b.pk}", json.dumps({"tags": ["keeper"]}), "application/json")
    ids = [x["id"] for x in alice_client.get("/api/runs", {"tag": "keep"}).json()]
    assert ids == [a.pk]  # "keeper" is another tag, not a match on a prefix
    assert [x["id"] for x in alice_client.get("/api/runs", {"tag": "KEEPER"}).json()] == [b.pk]
    assert alice_client.get("/api/runs", {"tag": "nope"}).json() == []


def test_the_api_names_the_bad_field_of_a_patch(alice_client, experiment, alice):
    run = launch(experiment, alice, tiny_config())
    r = alice_client.patch(f"/api/runs/{run.pk}", json.dumps({"tags": ["a" * 40]}), "application/json")
    assert r.status_code in (400, 422) and r.json()["errors"][0]["field"] == "tags", r.content
    r = alice_client.patch(f"/api/runs/{run.pk}", json.dumps({"name": 5}), "application/json")
    assert r.status_code in (400, 422) and "name" in r.json()["errors"][0]["field"], r.content
    r = alice_client.patch("/api/runs/999999", json.dumps({"name": "x"}), "application/json")
    assert r.status_code == 404


@pytest.mark.parametrize(
    "body,field",
    [
        ({"tags": "keep"}, "tags"),
        ({"tags": [1, 2]}, "tags"),
        ({"tags": ["été"]}, "tags"),
        ({"tags": ["x"] * 60}, "tags"),
        ({"tags": [f"t{i}" for i in range(11)]}, "tags"),
        ({"name": "a\x00b"}, "name"),
        ({"name": "n" * 201}, "name"),
    ],
)
def test_a_bad_patch_is_refused_by_field_and_changes_nothing(alice_client, experiment, alice, body, field):
    run = launch(experiment, alice, tiny_config())
    r = alice_client.patch(f"/api/runs/{run.pk}", json.dumps(body), "application/json")
    assert r.status_code in (400, 422), r.content
    assert field in r.json()["errors"][0]["field"], r.json()
    fresh = Run.objects.get(pk=run.pk)
    assert (fresh.name, fresh.tags) == (run.name, [])


def test_an_empty_patch_changes_nothing(alice_client, experiment, alice):
    run = launch(experiment, alice, tiny_config(), name="kept")
    r = alice_client.patch(f"/api/runs/{run.pk}", "{}", "application/json")
    assert r.status_code == 200 and r.json()["name"] == "kept" and r.json()["tags"] == []


def test_an_experiment_with_runs_from_before_references_takes_its_first_run(experiment, alice):
    old = launch(experiment, alice, tiny_config(), name="old run")
    type(experiment).objects.filter(pk=experiment.pk).update(reference_config=None, reference_name="")
    experiment.refresh_from_db()
    new = launch(experiment, alice, tiny_config(regularization={"l2": 0.1}), preset="")
    assert new.name == "l2 0.1 · seed 0"
    experiment.refresh_from_db()
    assert experiment.reference_config == old.config and experiment.reference_name == "mlp 16"


def test_a_sweep_over_a_base_that_is_not_valid_alone_names_its_runs_against_its_first(experiment, alice):
    # cross-entropy does not fit diabetes (regression): only the grid's losses make these configs valid
    base = tiny_config(dataset={"name": "diabetes"}, loss={"name": "cross_entropy"})
    runs = services.sweep_launch(experiment=experiment, user=alice, base=base, grid={"loss": ["mse", "mae"]}, seeds=1)
    assert [r.name for r in runs] == ["mlp 16 · seed 0", "mae · seed 0"]
