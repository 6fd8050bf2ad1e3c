from pathlib import Path

from django.apps import AppConfig
from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage
from django.core import checks


class WebappConfig(AppConfig):
    name = "webapp"

    def ready(self) -> None:
        checks.register(static_files_collected)


def static_files_collected(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """With DEBUG off, pages link the hashed copies `collectstatic` writes: refuse to start without them.

    Not tagged `staticfiles`, so that `collectstatic` itself still runs.
    """
    if not isinstance(staticfiles_storage, ManifestFilesMixin):
        return []
    manifest = Path(settings.STATIC_ROOT) / staticfiles_storage.manifest_name
    if manifest.exists():
        return []
    return [
        checks.Error(
            f"static files have not been collected: {manifest} is missing",
            hint="run `python manage.py collectstatic --noinput` (the Docker image does when it is built), "
            "or set LOSSLAB_STATIC_ROOT to where it wrote them",
            id="losslab.E001",
        )
    ]
