"""Pure analysis over arrays of numbers: diagnosis, ranking, downsampling, run history, flat tables.

No Django, no Celery (an import-linter contract checks it): tested without a database,
usable from a notebook. numpy at import; scipy only where a function needs it.
"""
