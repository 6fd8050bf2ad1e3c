"""The domain app: models, and the layers that read and change them (see README "Layout").

api | admin -> services -> selectors -> queue -> metric_store -> models; `errors` and the pure
`analysis` are leaves. Never imports the worker runtime (`workers.tasks`, `runner`, `scheduler`)
or the pages (`webapp.pages`): import-linter's contracts in pyproject.toml check it.
"""
