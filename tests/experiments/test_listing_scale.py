"""The experiment page and the runs API stay cheap with many runs: one page of rows, a constant query count."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from experiments.models import Run
from webapp.pages.runs import RUNS_PER_PAGE
from workers.training.config import RunConfig


def add_runs(experiment, n: int, status: str = "succeeded", start: int = 0) -> list[Run]:
    cfg = RunConfig().model_dump(mode="json")
    runs = [
        Run(
            experiment=experiment,
            name=f"r{start + i}",
            config=cfg,
            config_hash=str(start + i),
            group_hash="g",
            status=status,
            summary={"best": {"val_loss": 0.1 + i / 1000}},
        )
        for i in range(n)
    ]
    return Run.objects.bulk_create(runs)


def queries_for(client, url: str) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(url)
    assert r.status_code == 200
    return len(ctx.captured_queries), r.content.decode()


def test_the_page_lists_one_page_of_runs_and_its_queries_do_not_grow(alice_client, experiment):
    add_runs(experiment, 3, status="queued")
    few, _ = queries_for(alice_client, f"/experiments/{experiment.pk}/")
    add_runs(experiment, RUNS_PER_PAGE * 2 + 5, start=3)
    many, html = queries_for(alice_client, f"/experiments/{experiment.pk}/")
    assert many <= few + 1  # + the paginator's count, which a single page skips
    assert html.count("<tr data-run=") == RUNS_PER_PAGE
    assert f"Runs 1–{RUNS_PER_PAGE} of {RUNS_PER_PAGE * 2 + 8}" in html and "Older ›" in html


def test_older_pages_and_bad_page_numbers(alice_client, experiment):
    add_runs(experiment, RUNS_PER_PAGE + 10)
    html = alice_client.get(f"/experiments/{experiment.pk}/?page=2").content.decode()
    assert html.count("<tr data-run=") == 10 and "‹ Newer" in html and "Older ›" not in html
    for bad in ("0", "x", "999"):  # out of range or not a number: a page that exists, never an error
        assert alice_client.get(f"/experiments/{experiment.pk}/?page={bad}").status_code == 200


def test_queue_positions_show_on_the_page(alice_client, experiment):
    add_runs(experiment, 2, status="queued")
    html = alice_client.get(f"/experiments/{experiment.pk}/").content.decode()
    assert "#1 in queue" in html and "#2 in queue" in html


def test_the_api_returns_only_the_runs_asked_for(alice_client, experiment):
    runs = add_runs(experiment, 5)
    ids = f"{runs[1].pk},{runs[3].pk}"
    r = alice_client.get(f"/api/runs?experiment={experiment.pk}&ids={ids}")
    assert r.status_code == 200
    assert sorted(x["id"] for x in r.json()) == sorted([runs[1].pk, runs[3].pk])


@pytest.mark.parametrize("bad", ["1,,2", "a", "1;2", ",", "-3", "9" * 25])
def test_the_api_refuses_malformed_ids_naming_the_field(alice_client, experiment, bad):
    r = alice_client.get("/api/runs", {"ids": bad})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "ids"


def test_another_teams_runs_are_not_returned_by_id(alice_client, experiment, django_user_model):
    from experiments.models import Experiment, Team

    other = Experiment.objects.create(team=Team.objects.create(name="Other"), name="theirs")
    theirs = add_runs(other, 1)[0]
    assert alice_client.get(f"/api/runs?ids={theirs.pk}").json() == []


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL picks its plan from table statistics")
def test_the_newest_runs_and_the_runs_per_configuration_are_read_from_indexes(experiment):
    from django.db.models import Count

    add_runs(experiment, 50)
    newest = experiment.runs.select_related("worker").order_by("-created", "-id")[:RUNS_PER_PAGE].explain()
    assert "run_experiment_created_idx" in newest and "TEMP B-TREE" not in newest  # no sort of all the runs
    per_group = (
        experiment.runs.order_by()
        .values("group_hash", "status")
        .annotate(n=Count("id"))
        .order_by("group_hash", "status")
        .explain()
    )
    assert "COVERING INDEX run_experiment_group_idx" in per_group and "TEMP B-TREE" not in per_group
