"""One intent, one group: the form, the API and a sweep store the same canonical configuration."""

from __future__ import annotations

import importlib
import json

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile

from experiments import services
from experiments.models import Run
from tests.helpers import tiny_config
from webapp.pages.forms import RunLaunchForm, flatten
from workers.training import config as schema
from workers.training.config import RunConfig, canonical_config

# Non-default values for the parameters a choice ignores: what a user leaves behind in the form after
# trying another option (step_size of "step" before going back to "constant"), two different sets.
NOISE = [
    {
        "dataset.target": "y",
        "dataset.task": "classification",
        "dataset.text_column": "words",
        "dataset.vocab_size": 500,
        "dataset.max_tokens": 16,
        "model.depth": 2,
        "model.embed_dim": 8,
        "dataset.preprocessing.one_hot": False,
        "dataset.n_samples": 300,
        "dataset.n_features": 7,
        "model.batchnorm": True,
        "model.activation": "tanh",
        "model.heads": 2,
        "optimizer.momentum": 0.5,
        "batch_size": 64,
        "schedule.gamma": 0.5,
        "schedule.step_size": 3,
        "schedule.warmup_epochs": 2,
        "schedule.factor": 0.5,
        "schedule.patience": 2,
        "schedule.min_lr": 1e-6,
        "loss.focal_gamma": 3.0,
        "loss.huber_delta": 2.0,
    },
    {
        "dataset.task": "regression",
        "dataset.text_column": "body",
        "dataset.vocab_size": 900,
        "dataset.max_tokens": 32,
        "model.depth": 3,
        "model.embed_dim": 16,
        "dataset.n_samples": 500,
        "dataset.n_features": 11,
        "model.batchnorm": False,
        "model.activation": "sigmoid",
        "model.heads": 8,
        "optimizer.momentum": 0.8,
        "batch_size": 8,
        "schedule.gamma": 0.9,
        "schedule.step_size": 7,
        "schedule.warmup_epochs": 1,
        "schedule.factor": 0.3,
        "schedule.patience": 9,
        "schedule.min_lr": 1e-7,
        "loss.focal_gamma": 1.0,
        "loss.huber_delta": 0.5,
    },
]

SEQ = {"dataset": {"name": "sequence", "n_samples": 200}}


def _intents() -> list[tuple[str, dict, dict]]:
    """(id, the intent as an API body would say it, the sweep grid that says it) for every option."""
    out = []
    for name in schema.DATASETS:
        if name in ("csv", "images", "text"):
            continue  # an upload: csv has its own test below
        task = schema.DATASETS[name][0]
        loss = {"name": "mse"} if task == "regression" else {"name": "cross_entropy"}
        # Each dataset with a model that fits it: images need a CNN, texts a sequence model.
        model = {"arch": "cnn", "hidden": [4]} if name in schema.IMAGE_DATASETS - {"digits"} else {}
        model = {"arch": "lstm", "hidden": [8]} if name in schema.TEXT_DATASETS else model
        out.append((f"dataset={name}", tiny_config(dataset={"name": name}, loss=loss, model=model), {}))
    for arch, extra in [
        ("mlp", {}),
        ("cnn", {"dataset": {"name": "digits"}, "model": {"hidden": [4]}}),
        ("rnn", SEQ),
        ("lstm", SEQ),
        ("gru", SEQ),
        ("transformer", {**SEQ, "model": {"hidden": [16, 16], "heads": 4}}),
    ]:
        model = {**extra.get("model", {}), "arch": arch}
        out.append((f"arch={arch}", tiny_config(**{**extra, "model": model}), {"arch": [arch]}))
    for name in ("gd", "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"):
        optimizer = {"name": name, "lr": 0.01}
        if name in ("momentum", "nesterov"):
            optimizer["momentum"] = 0.9  # what their momentum 0 means: the form's default says 0
        out.append((f"optimizer={name}", tiny_config(optimizer=optimizer), {"optimizer": [name]}))
    for name in ("constant", "exponential", "step", "cosine", "warmup_cosine", "plateau"):
        out.append((f"schedule={name}", tiny_config(schedule={"name": name}), {"schedule": [name]}))
    for name, dataset in [
        ("mse", "diabetes"),
        ("mae", "diabetes"),
        ("huber", "diabetes"),
        ("cross_entropy", "iris"),
        ("focal", "iris"),
        ("bce", "breast_cancer"),
    ]:
        out.append((f"loss={name}", tiny_config(dataset={"name": dataset}, loss={"name": name}), {"loss": [name]}))
    return out


INTENTS = _intents()


def _with_noise(config: dict, noise: dict) -> dict:
    """The full config as the form or a sweep's preset holds it, with every ignored parameter changed."""
    cfg = RunConfig.model_validate(config)
    data = cfg.model_dump(mode="json")
    for path, unused in schema._UNUSED:
        if path in noise and unused(cfg):
            *parents, leaf = path.split(".")
            node = data
            for p in parents:
                node = node[p]
            node[leaf] = noise[path]
    if cfg.optimizer.name in ("momentum", "nesterov") and noise is NOISE[0]:
        data["optimizer"]["momentum"] = 0.0  # the form's default, which these optimizers read as 0.9
    return data


def _form_post(client, experiment, config: dict) -> Run:
    data = {k: v for k, v in flatten(config).items() if v is not None}
    data = {k: ("on" if v is True else v) for k, v in data.items() if v is not False}
    # What a browser sends for a select the user did not touch: its first option.
    data.setdefault("dataset__task", RunLaunchForm().fields["dataset__task"].choices[0][0])
    r = client.post(f"/experiments/{experiment.pk}/runs/new/", data)
    assert r.status_code == 302, r.context["form"].errors if r.context else r.content[:500]
    return Run.objects.get(pk=int(r["Location"].rstrip("/").rsplit("/", 1)[1]))


def _api_post(client, experiment, config: dict) -> Run:
    body = {"experiment": experiment.pk, "config": config}
    r = client.post("/api/runs", json.dumps(body), content_type="application/json")
    assert r.status_code == 201, r.content
    return Run.objects.get(pk=r.json()["id"])


@pytest.mark.parametrize("intent,grid", [(c, g) for _, c, g in INTENTS], ids=[i for i, _, _ in INTENTS])
def test_the_form_the_api_and_a_sweep_give_one_group_for_every_option(alice_client, alice, experiment, intent, grid):
    api = _api_post(alice_client, experiment, intent)
    form = _form_post(alice_client, experiment, _with_noise(intent, NOISE[0]))
    base = _with_noise(intent, NOISE[1])
    for factor, values in grid.items():  # the sweep's base holds another value; its grid sets the intent's
        path = services.sweeps.FACTORS[factor]
        section, leaf = path.split(".")
        base[section][leaf] = {"arch": "mlp", "optimizer": "adam", "schedule": "constant", "loss": "mse"}[factor]
        if factor == "loss" and values[0] in ("cross_entropy", "focal", "bce"):
            base[section][leaf] = "cross_entropy" if values[0] != "cross_entropy" else "focal"
        if factor == "arch":
            base[section][leaf] = "gru" if values[0] != "gru" else "lstm"
    (swept,) = services.sweep_launch(experiment=experiment, user=alice, base=base, grid=grid, seeds=1)
    assert form.group_hash == api.group_hash == swept.group_hash
    assert form.config == api.config == swept.config
    assert swept.sweep is not None and api.sweep is None


def test_canonical_config_resets_only_what_the_choice_ignores():
    plain = RunConfig.model_validate(tiny_config())
    stepped = RunConfig.model_validate(tiny_config(schedule={"name": "step", "step_size": 3, "gamma": 0.5}))
    noisy_constant = RunConfig.model_validate(tiny_config(schedule={"name": "constant", "step_size": 3}))
    assert canonical_config(noisy_constant).group_hash() == canonical_config(plain).group_hash()
    assert canonical_config(stepped).schedule.step_size == 3  # what training reads is kept
    assert canonical_config(stepped).group_hash() != canonical_config(plain).group_hash()
    lifted = RunConfig.model_validate(tiny_config(schedule={"name": "constant", "min_lr": 0.1}))  # lr 0.01
    assert canonical_config(lifted).schedule.min_lr == 0.1  # the floor lifts a constant LR: it changes training
    for cfg in (plain, stepped, noisy_constant, lifted):
        assert canonical_config(canonical_config(cfg)) == canonical_config(cfg)


REGRESSION_CSV = "x1,x2,y\n" + "".join(f"{i % 7},{i % 13},{i * 1.5 + 0.25}\n" for i in range(299))


@pytest.fixture
def regression_upload(upload_dir, alice, experiment):
    file = SimpleUploadedFile("prices.csv", REGRESSION_CSV.encode(), content_type="text/csv")
    return services.uploads.upload_create(team=experiment.team, user=alice, file=file)


def test_a_regression_csv_from_the_form_with_mse_is_one_group_with_the_api(alice_client, experiment, regression_upload):
    csv_config = tiny_config(
        dataset={"name": "csv", "upload": regression_upload.pk, "target": "y"}, loss={"name": "mse"}
    )
    form = _form_post(alice_client, experiment, RunConfig.model_validate(csv_config).model_dump(mode="json"))
    inferred = _api_post(alice_client, experiment, csv_config)
    said = _api_post(
        alice_client, experiment, {**csv_config, "dataset": {**csv_config["dataset"], "task": "regression"}}
    )
    assert form.group_hash == inferred.group_hash == said.group_hash
    assert form.config["dataset"]["task"] is None  # stored as inferred
    # A task the data does not imply is a real choice, checked against the data: here, refused by name.
    body = {
        **csv_config,
        "dataset": {**csv_config["dataset"], "task": "classification"},
        "loss": {"name": "cross_entropy"},
    }
    r = alice_client.post(
        "/api/runs", json.dumps({"experiment": experiment.pk, "config": body}), content_type="application/json"
    )
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "config.dataset.target"


def test_the_migration_recomputes_stored_hashes(alice, experiment):
    migration = importlib.import_module("experiments.migrations.0006_sweeps_and_canonical_configs")
    stale = RunConfig.model_validate(
        tiny_config(schedule={"name": "constant", "step_size": 3}, loss={"focal_gamma": 5})
    )
    data = stale.model_dump(mode="json")
    data["dataset"]["task"] = "classification"  # what the form used to write
    run = Run.objects.create(
        experiment=experiment,
        created_by=alice,
        config=data,
        config_hash="stale",
        group_hash="stale",
    )
    broken = Run.objects.create(experiment=experiment, config={"epochs": "many"}, config_hash="x", group_hash="x")
    migration.canonicalise_runs(apps, None)
    run.refresh_from_db()
    broken.refresh_from_db()
    fresh = services.config_validate(tiny_config())
    assert run.group_hash == fresh.group_hash() and run.config_hash == fresh.config_hash()
    assert run.config == fresh.model_dump(mode="json")
    assert broken.group_hash == "x"  # an invalid stored config is left for the page that shows it


@pytest.mark.parametrize(
    "config,ignored",
    [
        ({"dataset": {"name": "iris"}}, {"dataset": {"vocab_size": 500, "max_tokens": 16, "text_column": "t"}}),
        ({"dataset": {"name": "iris"}, "model": {"arch": "mlp"}}, {"model": {"depth": 3, "embed_dim": 8}}),
        (
            {"dataset": {"name": "sequence"}, "model": {"arch": "lstm", "hidden": [8]}},
            {"model": {"embed_dim": 8}},  # synthetic sequences are not tokens: no word embedding
        ),
    ],
)
def test_image_and_text_parameters_are_ignored_where_they_do_not_apply(config, ignored):
    plain = canonical_config(RunConfig.model_validate(config))
    merged = {**config, **{k: {**config.get(k, {}), **v} for k, v in ignored.items()}}
    assert canonical_config(RunConfig.model_validate(merged)).group_hash() == plain.group_hash()
