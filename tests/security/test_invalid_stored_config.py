"""A stored config that no longer parses shows as "invalid config" on its run and is skipped, with a count,
by the listings, the leaderboard and the ranking API: never a 500 for the whole team.

The bad configs are written straight into the database, as an older release, a hand edit or a restore
would leave them (raw SQL, so even JSON text Python would never write gets there).
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from experiments.models import Run
from tests.helpers import tiny_config

BAD_CONFIGS = {
    "huge-width": '{"model": {"hidden": [1000000000000]}}',
    "width-past-int64": '{"model": {"hidden": [100000000000000000000]}}',
    "epochs-past-int64": '{"epochs": 1000000000000000000000000000000}',
    "lr-infinite": '{"optimizer": {"lr": 1e999}}',
    "unknown-key": '{"bogus": 1}',
    "section-a-string": '{"dataset": "iris"}',
    "a-string": '"just text"',
    "a-list": "[1, 2]",
    "null": "null",
}


def stored(experiment, name: str, config_json: str, score: float) -> Run:
    run = Run.objects.create(
        experiment=experiment,
        created_by=experiment.created_by,
        name=name,
        config=tiny_config(),
        config_hash=name,
        group_hash=name,
        status=Run.Status.SUCCEEDED,
        queued_at=timezone.now(),
        summary={"best": {"val_accuracy": score}, "final": {"val_accuracy": score}},
    )
    cast = "::jsonb" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE experiments_run SET config = %s{cast} WHERE id = %s", [config_json, run.pk])
    return run


@pytest.fixture
def good_run(experiment):
    return stored(experiment, "good", '{"dataset": {"name": "iris"}, "epochs": 3}', 0.9)


@pytest.mark.parametrize("label", BAD_CONFIGS)
def test_a_run_whose_stored_config_no_longer_parses_breaks_no_page(alice_client, experiment, good_run, label):
    bad = stored(experiment, label, BAD_CONFIGS[label], 0.99)  # would lead the board if it were ranked
    e = experiment.pk

    page = alice_client.get(f"/runs/{bad.pk}/")
    assert page.status_code == 200
    assert "invalid config" in page.content.decode()
    assert "invalid config" not in alice_client.get(f"/runs/{good_run.pk}/").content.decode()

    api_run = alice_client.get(f"/api/runs/{bad.pk}")
    assert api_run.status_code == 200
    assert api_run.json()["config_error"].startswith("invalid config")
    assert alice_client.get(f"/api/runs/{good_run.pk}").json()["config_error"] is None
    listing = alice_client.get(f"/api/runs?experiment={e}")
    assert listing.status_code == 200 and len(listing.json()) == 2

    ranking = alice_client.get(f"/api/experiments/{e}/ranking")
    assert ranking.status_code == 200, ranking.content[:300]
    body = ranking.json()
    assert body["invalid_config_runs"] == 1
    assert [g["key"] for g in body["groups"]] == ["good"]

    for url in (f"/experiments/{e}/", f"/experiments/{e}/leaderboard/"):
        r = alice_client.get(url)
        assert r.status_code == 200, url
        assert 'data-field="invalid-config"' in r.content.decode(), url

    compare = alice_client.get(f"/api/experiments/{e}/compare?runs={good_run.pk},{bad.pk}")
    assert compare.status_code == 200
    assert compare.json()["invalid_config_runs"] == 1
    assert [r["id"] for r in compare.json()["runs"]] == [good_run.pk]
    page = alice_client.get(f"/experiments/{e}/compare/?runs={good_run.pk},{bad.pk}")
    assert page.status_code == 200 and 'data-field="invalid-config"' in page.content.decode()

    exported = alice_client.get(f"/experiments/{e}/export.json")
    assert exported.status_code == 200
    assert exported.json()["invalid_config_run_ids"] == [bad.pk]
    csv = alice_client.get(f"/experiments/{e}/export.csv")
    assert csv.status_code == 200
    lines = b"".join(csv.streaming_content).decode().splitlines()
    assert len(lines) == 2  # header and the good run

    assert alice_client.get("/").status_code == 200
    assert alice_client.get("/api/dashboard").status_code == 200


def test_a_valid_stored_config_is_not_flagged(alice_client, experiment, good_run):
    body = alice_client.get(f"/api/experiments/{experiment.pk}/ranking").json()
    assert body["invalid_config_runs"] == 0 and [g["key"] for g in body["groups"]] == ["good"]


def test_a_worker_fails_a_claimed_run_whose_config_no_longer_parses(experiment):
    from experiments.queue import run_claim_next
    from experiments.services import run_launch
    from workers.runner import execute_run

    run = run_launch(experiment=experiment, user=experiment.created_by, config=tiny_config())
    cast = "::jsonb" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE experiments_run SET config = %s{cast} WHERE id = %s", ['{"epochs": 0}', run.pk])
    claimed = run_claim_next(worker_name="w-invalid")
    assert claimed.pk == run.pk
    execute_run(claimed.pk, claimed.attempt)  # no exception: the task ends, the worker takes the next run
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED
    assert run.error.startswith("invalid config: epochs:")


@pytest.mark.parametrize("name", list(BAD_CONFIGS))
def test_the_leaderboards_cached_check_refuses_what_the_schema_refuses(name):
    import json

    from experiments.selectors.configs import config_text_valid

    good = json.dumps(tiny_config())
    assert config_text_valid(good) and not config_text_valid(BAD_CONFIGS[name])
    hits = config_text_valid.cache_info().hits
    assert config_text_valid(good) and not config_text_valid(BAD_CONFIGS[name])
    assert config_text_valid.cache_info().hits == hits + 2  # asked again: answered without validating
