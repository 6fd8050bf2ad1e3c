"""Teams, their members and API tokens: who may see and change what."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from experiments.errors import ErrorCode, Refused
from experiments.models import ApiToken, Membership, Team
from experiments.services.validation import check_text


def team_create(*, name: str, owner: AbstractBaseUser) -> Team:
    with transaction.atomic():
        team = Team.objects.create(name=name)
        Membership.objects.create(user=owner, team=team, role=Membership.Role.ADMIN)
    return team


def _require_team_admin(*, team: Team, actor: AbstractBaseUser) -> None:
    role = Membership.objects.filter(team=team, user=actor).values_list("role", flat=True).first()
    if role is None:
        raise Refused("No such team.", field="team", code=ErrorCode.NOT_FOUND)
    if role != Membership.Role.ADMIN:
        raise Refused("Only a team admin can change who is in the team.", field="team", code=ErrorCode.FORBIDDEN)


def membership_add(
    *, team: Team, actor: AbstractBaseUser, username: str, role: str = Membership.Role.MEMBER
) -> Membership:
    """Add an existing user to `team`; only the team's admins may."""
    _require_team_admin(team=team, actor=actor)
    if role not in Membership.Role.values:
        raise Refused(f"Role must be one of: {', '.join(Membership.Role.values)}.", field="role")
    user = get_user_model().objects.filter(username=username.strip(), is_active=True).first()
    if user is None:
        raise Refused(
            f"There is no user named '{username.strip()[:150]}'. Ask a LossLab admin to create the account first.",
            field="username",
        )
    if Membership.objects.filter(team=team, user=user).exists():
        raise Refused(f"{user.username} is already in {team.name}.", field="username")
    return Membership.objects.create(team=team, user=user, role=role)


def membership_remove(*, team: Team, actor: AbstractBaseUser, membership_id: int) -> Membership:
    """Remove a member (an admin may also remove themself), never the team's last admin."""
    _require_team_admin(team=team, actor=actor)
    with transaction.atomic():
        membership = Membership.objects.select_for_update().filter(pk=membership_id, team=team).first()
        if membership is None:
            raise Refused("No such member.", field="membership", code=ErrorCode.NOT_FOUND)
        admins = Membership.objects.filter(team=team, role=Membership.Role.ADMIN).count()
        if membership.role == Membership.Role.ADMIN and admins == 1:
            raise Refused("A team needs at least one admin: make someone else admin first.", field="membership")
        membership.delete()
    return membership


# --- API tokens

MAX_TOKENS_PER_USER = 50


def token_create(*, user: AbstractBaseUser, name: str) -> tuple[ApiToken, str]:
    """A new API token for `user`: (the stored row, the token itself, which is shown once and never stored)."""
    name = name.strip()
    if not name:
        raise Refused("Give the token a name, e.g. the script that will use it.", field="name")
    check_text(name, "name")
    if ApiToken.objects.filter(user=user).count() >= MAX_TOKENS_PER_USER:
        raise Refused(f"At most {MAX_TOKENS_PER_USER} tokens per user: revoke unused ones.", field="name")
    secret = ApiToken.generate()
    token = ApiToken.objects.create(user=user, name=name[:100], digest=ApiToken.hash(secret), prefix=secret[:8])
    return token, secret


def token_revoke(*, user: AbstractBaseUser, token_id: int) -> None:
    """Delete one of the user's own tokens; anyone else's is not found."""
    deleted, _ = ApiToken.objects.filter(pk=token_id, user=user).delete()
    if not deleted:
        raise Refused("No such token.", field="token", code=ErrorCode.NOT_FOUND)
