"""Names made from differences: pure functions over stored configs."""

from experiments.analysis import names
from workers.training.config import RunConfig, tutorial_mlp


def dump(cfg: RunConfig, **changes) -> dict:
    data = cfg.model_dump(mode="json")
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        node = data
        for p in parents:
            node = node[p]
        node[leaf] = value
    return RunConfig.model_validate(data).model_dump(mode="json")


REF = dump(tutorial_mlp())


def test_it_names_a_run_by_what_it_changes_shortest_first_seed_last():
    cfg = dump(tutorial_mlp(), optimizer__name="sgd", optimizer__lr=0.01, regularization__l2=0.1, seed=1)
    assert names.run_name(cfg, REF, base="tutorial mlp") == "l2 0.1 · sgd lr 0.01 · seed 1"


def test_it_tells_the_tutorial_variants_apart():
    smoothing = dump(tutorial_mlp(), loss__label_smoothing=0.1)
    l2 = dump(tutorial_mlp(), regularization__l2=0.1)
    got = [names.run_name(c, REF, base="tutorial mlp") for c in (REF, smoothing, l2)]
    assert got == ["tutorial mlp · seed 0", "ls 0.1 · seed 0", "l2 0.1 · seed 0"]


def test_it_names_the_architecture_whole_and_flags_by_their_word():
    cfg = dump(tutorial_mlp(), model__hidden=[512, 256], model__batchnorm=False, batch_size=256, model__dropout=0.2)
    assert names.run_name(cfg, REF, base="x") == "no bn · bs 256 · mlp 512-256 · dropout 0.2 · seed 0"


def test_it_leads_with_the_base_when_asked():
    cfg = dump(tutorial_mlp(), epochs=2)
    assert names.run_name(cfg, REF, base="tutorial mlp", with_base=True) == "tutorial mlp · epochs 2 · seed 0"


def test_a_group_label_puts_an_optimizers_name_before_its_settings():
    # config_diff hands the leaderboard its fields in alphabetical order: lr before name
    assert names.group_label({"optimizer.lr": 0.01, "optimizer.name": "sgd", "regularization.l2": 0.1}) == (
        "l2 0.1 · sgd lr 0.01"
    )


def test_the_hover_title_holds_the_whole_config():
    title = names.config_title(REF)
    assert "optimizer.lr = 0.001" in title and "model.hidden = 256-128" in title and "seed = 0" in title


def test_a_long_name_keeps_its_shortest_changes_and_counts_the_rest():
    cfg = dump(
        tutorial_mlp(),
        optimizer__name="sgd",
        regularization__l2=0.1,
        batch_size=256,
        model__dropout=0.2,
        dataset__name="wine",
        seed=3,
    )
    assert names.run_name(cfg, REF, base="x") == "sgd · wine · bs 256 · l2 0.1 · dropout 0.2 · seed 3"
    assert names.run_name(cfg, REF, base="x", limit=40) == "sgd · wine · bs 256 · +2 more · seed 3"
    assert names.run_name(cfg, REF, base="x", limit=30) == "sgd · wine · +3 more · seed 3"
