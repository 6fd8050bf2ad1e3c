"""Names, tags and dates on the pages: one date format, the full config on hover, rename and the tag filter."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from experiments import services
from experiments.models import Run
from tests.helpers import tiny_config
from webapp.templatetags.losslab import relative_time, when

TIME = re.compile(
    r'<time datetime="(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)" title="(\d{4}-\d\d-\d\d \d\d:\d\d UTC)">([^<]+)</time>'
)


@pytest.mark.parametrize(
    "seconds,words",
    [
        (5, "just now"),
        (59, "just now"),
        (60, "1 min ago"),
        (3599, "59 min ago"),
        (3600, "1 h ago"),
        (86399, "23 h ago"),
        (86400, "1 day ago"),
        (5 * 86400, "5 days ago"),
        (-600, "in 10 min"),
    ],
)
def test_relative_time_words(seconds, words):
    assert relative_time(seconds) == words


def test_when_renders_a_time_element_with_the_exact_time_on_hover():
    moment = timezone.now() - timedelta(minutes=3, seconds=5)
    html = str(when(moment))
    iso, exact, words = TIME.fullmatch(html).groups()
    assert words == "3 min ago" and exact == moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    assert datetime.fromisoformat(iso) == moment
    assert when(None, "never") == "never"


def launch(experiment, alice, **kw):
    return services.run_launch(experiment=experiment, user=alice, config=tiny_config(**kw))


def test_every_page_with_dates_writes_them_one_way(alice_client, experiment, alice, upload_dir):
    from django.core.files.uploadedfile import SimpleUploadedFile

    run = launch(experiment, alice)
    services.token_create(user=alice, name="ci")
    saved = services.saved_comparison_create(experiment=experiment, user=alice, name="view", run_ids=[run.pk])
    services.upload_create(team=experiment.team, user=alice, file=SimpleUploadedFile("a.csv", b"x,y\n1,2\n3,4\n"))
    pages = [
        "/experiments/",
        f"/experiments/{experiment.pk}/",
        "/account/tokens/",
        f"/comparisons/{saved.pk}/",
        "/uploads/",
    ]
    for url in pages:
        html = alice_client.get(url).content.decode()
        assert TIME.search(html), url
        assert not re.search(r"\b\d\d-\d\d \d\d:\d\d\b", TIME.sub("", html)), url  # no other date format left
    assert "just now" in alice_client.get(f"/experiments/{run.experiment_id}/").content.decode()


def test_the_experiment_page_shows_names_with_the_config_on_hover_and_filters_by_tag(alice_client, experiment, alice):
    a = launch(experiment, alice)
    b = launch(experiment, alice, seed=1)
    services.run_rename(run=b, tags=["keep"])
    html = alice_client.get(f"/experiments/{experiment.pk}/").content.decode()
    assert 'title="dataset.name = iris' in html and a.name in html and b.name in html
    assert '<a class="chip small" href="?tag=keep">keep</a>' in html
    html = alice_client.get(f"/experiments/{experiment.pk}/", {"tag": "keep"}).content.decode()
    assert f'data-run="{b.pk}"' in html and f'data-run="{a.pk}"' not in html and "Showing runs tagged" in html
    html = alice_client.get(f"/experiments/{experiment.pk}/", {"tag": "none"}).content.decode()
    assert "No run here is tagged" in html


def test_the_run_page_renames_and_tags(alice_client, experiment, alice):
    run = launch(experiment, alice)
    r = alice_client.post(f"/runs/{run.pk}/rename/", {"name": "baseline", "tags": "Keep, lr sweep"})
    assert r.status_code == 302
    run.refresh_from_db()
    assert run.name == "baseline" and run.tags == ["keep", "lr sweep"]
    html = alice_client.get(f"/runs/{run.pk}/").content.decode()
    assert 'value="baseline"' in html and 'value="keep, lr sweep"' in html
    r = alice_client.post(f"/runs/{run.pk}/rename/", {"name": "baseline", "tags": "x" * 40}, follow=True)
    assert "tags: Tag" in r.content.decode() and Run.objects.get(pk=run.pk).tags == ["keep", "lr sweep"]


def test_the_config_diff_heads_columns_with_whole_names(alice_client, experiment, alice):
    a = launch(experiment, alice)
    b = launch(experiment, alice, regularization={"l2": 0.1}, loss={"label_smoothing": 0.1})
    html = alice_client.get(f"/experiments/{experiment.pk}/compare/", {"runs": f"{a.pk},{b.pk}"}).content.decode()
    assert b.name == "l2 0.1 · ls 0.1 · seed 0"
    assert f'<th class="run-name"><a href="/runs/{b.pk}/" title="dataset.name = iris' in html
    assert f">{b.name}</a></th>" in html
