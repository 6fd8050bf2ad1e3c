"""Over 2,000 generated requests to every POST route of the API: no 5xx, every refusal names its field.

Bodies are drawn from the API's own OpenAPI schema, then made hostile (values replaced, dropped or
added: huge integers, 1e999, NaN, nesting past the parser's depth, text that is not JSON) and sent
under any Content-Type. What a launch stores is read back through every page and API call that
parses stored configs (the round trip), so a body the API accepts can never break a later read.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.test import Client
from hypothesis import strategies as st

from experiments.api import api
from experiments.models import Run
from tests.helpers import tiny_config
from tests.security.fuzz import (
    HOSTILE_NUMBERS,
    HOSTILE_TOKENS,
    SCALE,
    Raw,
    content_types,
    from_openapi,
    fuzz_post,
    json_values,
    mutated,
    raw_bodies,
)

RUN_EXAMPLES = 800
EXPERIMENT_EXAMPLES = 300
DIAGNOSE_EXAMPLES = 450
CANCEL_EXAMPLES = 250
SEEDS_EXAMPLES = 150
CONTENT_TYPE_EXAMPLES = 300
CSRF_SECRET = "f" * 32
HOSTILE = HOSTILE_NUMBERS + HOSTILE_TOKENS
FUZZED_ROUTES = {
    "/api/runs",
    "/api/experiments",
    "/api/diagnose",
    "/api/runs/{run_id}/cancel",
    "/api/experiments/{experiment_id}/groups/{group_hash}/seeds",
}


@pytest.fixture(scope="module")
def openapi():
    return api.get_openapi_schema(path_prefix="/api/")


def schema_bodies(openapi, path: str, **overrides) -> st.SearchStrategy:
    """Valid bodies of `path`'s POST from the OpenAPI schema; `overrides` pin fields (a real experiment id)."""
    schema = openapi["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    bodies = from_openapi(schema, openapi["components"]["schemas"])
    return bodies.map(lambda body: {**body, **overrides}) if overrides else bodies


def hostile(valid: st.SearchStrategy) -> st.SearchStrategy:
    return valid | valid.flatmap(mutated) | json_values | raw_bodies


@pytest.fixture
def fuzz_client(alice, settings):
    """A browser's session: CSRF enforced and passed, so CSRF reads each body as it does in production."""
    settings.RUNS_PER_MINUTE = settings.MAX_QUEUED_PER_USER = 10**6  # the limits have their own tests
    client = Client(enforce_csrf_checks=True, headers={"X-CSRFToken": CSRF_SECRET})
    client.force_login(alice)
    client.cookies["csrftoken"] = CSRF_SECRET
    return client


def test_every_post_route_is_fuzzed(openapi):
    posts = {path for path, ops in openapi["paths"].items() if "post" in ops}
    assert posts == FUZZED_ROUTES, "a new POST route needs its fuzz test here"


def test_run_creation_survives_generated_bodies(fuzz_client, experiment, openapi):
    statuses, launched = [], []

    def check(body, response):
        statuses.append(response.status_code)
        if response.status_code == 201:
            run_id = response.json()["id"]
            launched.append(run_id)
            run = Run.objects.get(pk=run_id)
            assert run.experiment_id == experiment.pk and run.status == "queued"
            # stored, then read: the stored config parses again
            again = fuzz_client.get(f"/api/runs/{run_id}")
            assert again.status_code == 200 and again.json()["config_error"] is None, again.content[:300]

    schema_valid = schema_bodies(openapi, "/api/runs", experiment=experiment.pk)
    tiny = mutated({"experiment": experiment.pk, "config": tiny_config(), "name": "fuzz"})
    odd_ids = st.fixed_dictionaries(
        {"experiment": st.sampled_from([experiment.pk, 0, -1, 2**63, 10**400, "1", None]), "config": schema_valid}
    )
    bodies = hostile(schema_valid) | tiny | odd_ids
    sent = fuzz_post(fuzz_client, "/api/runs", bodies, examples=RUN_EXAMPLES, check=check)
    assert sent >= RUN_EXAMPLES * SCALE * 0.9
    # the generator reaches both sides: some bodies are launched, most are refused for a named reason
    assert 201 in statuses and {400, 422} & set(statuses)
    assert_reads_survive(fuzz_client, experiment, launched)


def assert_reads_survive(client, experiment, run_ids: list[int]) -> None:
    """Every read of stored configs, once, over all that the fuzz stored."""
    e = experiment.pk
    ids = ",".join(map(str, run_ids[-50:]))
    urls = [
        f"/experiments/{e}/",
        f"/experiments/{e}/leaderboard/",
        f"/api/experiments/{e}/ranking",
        f"/api/runs?experiment={e}&limit=1000",
        f"/api/experiments/{e}/compare?runs={ids}",
        f"/experiments/{e}/compare/?runs={ids}",
        f"/experiments/{e}/export.json",
        *[f"/runs/{i}/" for i in run_ids[:20]],
    ]
    for url in urls:
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code)
    ranking = client.get(f"/api/experiments/{e}/ranking").json()
    assert ranking["invalid_config_runs"] == 0, "every config the API accepted parses when read back"


def test_experiment_creation_survives_generated_bodies(fuzz_client, team_and_user, openapi):
    team = team_and_user[0]
    valid = schema_bodies(openapi, "/api/experiments") | schema_bodies(openapi, "/api/experiments", team=team.pk)
    created = []

    def check(body, response):
        if response.status_code == 201:
            created.append(response.json()["id"])

    sent = fuzz_post(fuzz_client, "/api/experiments", hostile(valid), examples=EXPERIMENT_EXAMPLES, check=check)
    assert sent >= EXPERIMENT_EXAMPLES * SCALE * 0.9
    assert created, "some generated bodies create an experiment"
    # stored, then read: what was accepted renders in every listing and on its own page
    for url in ["/experiments/", "/api/experiments", "/", "/api/dashboard"] + [
        f"/experiments/{e}/" for e in created[:30]
    ]:
        r = fuzz_client.get(url)
        assert r.status_code == 200, (url, r.status_code)


def test_diagnose_survives_generated_bodies(fuzz_client, openapi):
    curves = st.lists(st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False, width=32)), max_size=40)
    realistic = st.fixed_dictionaries(
        {"train_loss": curves, "val_loss": curves, "task": st.sampled_from(["classification", "regression", "x"])}
    )
    same_length = st.integers(1, 30).flatmap(
        lambda n: st.fixed_dictionaries(
            {
                "train_loss": st.lists(st.floats(0, 1e6), min_size=n, max_size=n),
                "val_loss": st.lists(st.none() | st.floats(0, 1e6), min_size=n, max_size=n),
            }
        )
    )
    bodies = hostile(schema_bodies(openapi, "/api/diagnose")) | realistic | same_length
    verdicts = []

    def check(body, response):
        if response.status_code == 200:
            verdicts.append(response.json()["verdict"])

    sent = fuzz_post(fuzz_client, "/api/diagnose", bodies, examples=DIAGNOSE_EXAMPLES, check=check)
    assert sent >= DIAGNOSE_EXAMPLES * SCALE * 0.9
    assert verdicts, "some generated curves are valid and get a verdict"


NUMBER_EXAMPLES = 150


def test_every_number_field_refuses_what_a_float_cannot_hold(fuzz_client):
    """Each hostile number in each float field of /api/diagnose (a 400-digit baseline_loss was a 500)."""
    curves = {"train_loss": [1.0, 0.5], "val_loss": [1.0, 0.6]}
    bodies = st.sampled_from(HOSTILE).flatmap(
        lambda v: st.sampled_from(
            [{**curves, "baseline_loss": v}, {**curves, "train_loss": [v, 0.5]}, {**curves, "val_loss": [1.0, v]}]
        )
    )
    sent = fuzz_post(fuzz_client, "/api/diagnose", bodies, examples=NUMBER_EXAMPLES)
    assert sent >= min(NUMBER_EXAMPLES, 3 * len(HOSTILE)) * 0.9


def test_cancel_survives_generated_ids_and_bodies(fuzz_client, experiment):
    from experiments.services import run_launch

    runs = [run_launch(experiment=experiment, user=experiment.created_by, config=tiny_config()) for _ in range(3)]
    ids = st.sampled_from([r.pk for r in runs] + [0, -1, 2**31, 2**63, 10**30]) | st.integers()
    digits = st.from_regex(r"-?0*[0-9]{1,45}", fullmatch=True)  # leading zeros, past int64
    paths = (ids | digits).map(lambda i: f"/api/runs/{i}/cancel")
    bodies = st.just(Raw(b"")) | json_values | raw_bodies
    sent = fuzz_post(fuzz_client, paths, bodies, examples=CANCEL_EXAMPLES, content_type=content_types)
    assert sent >= CANCEL_EXAMPLES * SCALE * 0.9


def test_missing_seeds_survive_generated_ids_hashes_and_bodies(fuzz_client, experiment):
    from experiments.services import run_launch

    run = run_launch(experiment=experiment, user=experiment.created_by, config=tiny_config())
    ids = st.sampled_from([experiment.pk, 0, -1, 2**31, 2**63, 10**30]) | st.integers()
    # Any path segment (a "/" would make another URL, answered by Django's HTML 404 outside the API).
    segment = st.text(alphabet=st.characters(blacklist_characters="/"), min_size=1, max_size=80)
    hashes = st.sampled_from([run.group_hash, "0" * 64, "x" * 65, "%00", ".."]) | segment
    paths = st.tuples(ids, hashes).map(lambda t: f"/api/experiments/{t[0]}/groups/{quote(t[1], safe='')}/seeds")
    bodies = st.just(Raw(b"")) | json_values | raw_bodies
    sent = fuzz_post(fuzz_client, paths, bodies, examples=SEEDS_EXAMPLES, content_type=content_types)
    assert sent >= SEEDS_EXAMPLES * SCALE * 0.9


@pytest.mark.parametrize("route", ["/api/runs", "/api/experiments", "/api/diagnose"])
def test_any_content_type_gets_a_json_answer(fuzz_client, experiment, openapi, route):
    overrides = {"experiment": experiment.pk} if route == "/api/runs" else {}
    bodies = hostile(schema_bodies(openapi, route, **overrides))
    examples = CONTENT_TYPE_EXAMPLES // 3
    sent = fuzz_post(fuzz_client, route, bodies, examples=examples, content_type=content_types)
    assert sent >= examples * SCALE * 0.9


def test_the_fuzz_sends_at_least_two_thousand_requests():
    total = RUN_EXAMPLES + EXPERIMENT_EXAMPLES + DIAGNOSE_EXAMPLES + CANCEL_EXAMPLES + CONTENT_TYPE_EXAMPLES
    total += SEEDS_EXAMPLES
    total += NUMBER_EXAMPLES
    assert total >= 2000
