"""The compare page's HTML costs a constant number of queries, however many runs its picker lists."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.experiments.test_listing_scale import add_runs


def compare_queries(client, experiment, run_ids) -> int:
    with CaptureQueriesContext(connection) as ctx:
        r = client.get(f"/experiments/{experiment.pk}/compare/?runs={','.join(map(str, run_ids))}")
    assert r.status_code == 200
    return len(ctx.captured_queries)


def test_it_reads_the_picker_in_one_query_whatever_the_run_count(alice_client, experiment):
    runs = add_runs(experiment, 3)
    few = compare_queries(alice_client, experiment, [r.pk for r in runs])
    more = add_runs(experiment, 60, start=3)
    assert compare_queries(alice_client, experiment, [r.pk for r in runs + more[:20]]) == few
