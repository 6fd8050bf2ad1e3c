"""At least 1,000 generated bodies against the launch and create endpoints: no 500, every refusal names its field."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st

from experiments.models import Run
from tests.helpers import tiny_config
from tests.security.fuzz import fuzz_post, json_values, mutated, raw_bodies

RUN_EXAMPLES = 700
EXPERIMENT_EXAMPLES = 350


@pytest.fixture
def fuzz_client(alice_client, settings):
    settings.RUNS_PER_MINUTE = settings.MAX_QUEUED_PER_USER = 10**6  # the limits have their own tests
    return alice_client


def run_bodies(experiment_id: int):
    valid = {"experiment": experiment_id, "config": tiny_config(), "name": "fuzz"}
    return (
        mutated(valid)
        | json_values
        | raw_bodies
        | st.fixed_dictionaries(
            {"experiment": st.sampled_from([experiment_id, 0, -1, 2**63, "1", None]), "config": mutated(tiny_config())}
        )
    )


def test_run_creation_survives_generated_bodies(fuzz_client, experiment):
    statuses = []

    def check(body, response):
        statuses.append(response.status_code)
        if response.status_code == 201:
            run = Run.objects.get(pk=response.json()["id"])
            assert run.experiment_id == experiment.pk and run.status == "queued"

    sent = fuzz_post(fuzz_client, "/api/runs", run_bodies(experiment.pk), examples=RUN_EXAMPLES, check=check)
    assert sent >= RUN_EXAMPLES * 0.9
    # the generator reaches both sides: some bodies are launched, most are refused for a named reason
    assert 201 in statuses and {400, 422} & set(statuses)


def test_experiment_creation_survives_generated_bodies(fuzz_client, team_and_user):
    team = team_and_user[0]
    valid = {"name": "fuzzed", "description": "d", "team": team.pk}
    bodies = mutated(valid) | json_values | raw_bodies
    sent = fuzz_post(fuzz_client, "/api/experiments", bodies, examples=EXPERIMENT_EXAMPLES)
    assert sent >= EXPERIMENT_EXAMPLES * 0.9


DIAGNOSE_EXAMPLES = 400


def test_diagnose_survives_generated_bodies(fuzz_client):
    valid = {
        "train_loss": [1.0, 0.8, 0.6, 0.5],
        "val_loss": [1.1, 0.9, 0.8, None],
        "task": "classification",
        "baseline_loss": 2.3,
    }
    curves = st.lists(st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False, width=32)), max_size=40)
    bodies = (
        mutated(valid)
        | json_values
        | raw_bodies
        | st.fixed_dictionaries(
            {"train_loss": curves, "val_loss": curves, "task": st.sampled_from(["classification", "regression", "x"])}
        )
    )
    verdicts = []

    def check(body, response):
        if response.status_code == 200:
            verdicts.append(response.json()["verdict"])

    sent = fuzz_post(fuzz_client, "/api/diagnose", bodies, examples=DIAGNOSE_EXAMPLES, check=check)
    assert sent >= DIAGNOSE_EXAMPLES * 0.9
    assert verdicts, "some generated curves are valid and get a verdict"


def test_the_fuzz_sends_at_least_a_thousand_bodies():
    assert RUN_EXAMPLES + DIAGNOSE_EXAMPLES >= 1000
