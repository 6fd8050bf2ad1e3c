"""The pages: thin views that validate, call a service or a selector, and render.

`urls.py` (URL names unchanged since they lived in experiments/), `runs.py`, `analysis.py`,
`teams.py`, `account.py`, and `forms.py` (Django forms generated from the one run schema).
May import anything in `experiments` except its internals' private helpers; nothing imports
the pages but `webapp.urls` and `webapp.context_processors`.
"""
