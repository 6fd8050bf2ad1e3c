"""Named starting configs for the launch form."""

from workers.training.config import RunConfig

PRESETS: dict[str, tuple[str, RunConfig]] = {
    "tutorial_mlp": ("Tutorial MLP on digits", RunConfig()),
}
