"""Shared by data migrations (a module starting with "_" is not a migration): stored configs made canonical."""

from pydantic import ValidationError

from workers.training.config import RunConfig, canonical_config


def canonicalise_runs(apps, schema_editor):
    """Store every run's config in its canonical form and recompute its hashes, so that runs launched
    before canonical configs (the form wrote dataset.task; ignored parameters were kept) group with
    the same intent launched now. A stored config that no longer validates is left as it is."""
    Run = apps.get_model("experiments", "Run")
    changed = []
    for run in Run.objects.only("pk", "config", "config_hash", "group_hash").iterator(chunk_size=500):
        try:
            cfg = canonical_config(RunConfig.model_validate(run.config))
        except (ValidationError, TypeError, ValueError):
            continue
        config, config_hash, group_hash = cfg.model_dump(mode="json"), cfg.config_hash(), cfg.group_hash()
        if (config, config_hash, group_hash) != (run.config, run.config_hash, run.group_hash):
            run.config, run.config_hash, run.group_hash = config, config_hash, group_hash
            changed.append(run)
    Run.objects.bulk_update(changed, ["config", "config_hash", "group_hash"], batch_size=500)
