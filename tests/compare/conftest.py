import pytest


@pytest.fixture
def bob_client(django_user_model, db):
    """Bob is in another team: everything of alice's team is a 404 to him."""
    from experiments.models import Membership, Team

    bob = django_user_model.objects.create_user("bob", password="builder-pass")
    Membership.objects.create(user=bob, team=Team.objects.create(name="Audio"), role="admin")
    from django.test import Client

    client = Client()
    client.force_login(bob)
    return client


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """Users are created in almost every test here; PBKDF2 at full strength costs a second each on 2 cores."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def browser_page(live_server, transactional_db):
    """Real Chromium on the live server; `login(user)` hands it a session cookie."""
    import os
    import shutil

    if not shutil.which(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # Playwright's loop runs beside the ORM in this thread
    from django.test import Client
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = browser.new_context(viewport={"width": 1280, "height": 1000})
        page = context.new_page()

        def login(user):
            client = Client()
            client.force_login(user)
            host = live_server.url.split("//")[1].split(":")[0]
            context.add_cookies(
                [{"name": "sessionid", "value": client.cookies["sessionid"].value, "domain": host, "path": "/"}]
            )

        page.login = login
        yield page
        browser.close()
