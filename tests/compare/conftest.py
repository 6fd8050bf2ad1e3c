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
