"""Team pages: the dashboard (home), the current-team switch, members, and the team's uploads."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from experiments import selectors, services
from experiments.errors import Refused
from experiments.models import Membership
from experiments.selectors.dashboard import dashboard_data
from webapp.pages.forms import MemberAddForm, UploadForm
from workers.training.csvdata import MAX_COLUMNS, MAX_ROWS


def current_team(request):
    """The team this session works in (the top bar's choice), or None for a user in no team."""
    team_id = request.session.get("team_id")
    return selectors.team_current(user=request.user, team_id=team_id if isinstance(team_id, int) else None)


def dashboard(request):
    team = current_team(request)
    data = dashboard_data(team=team) if team else None
    return render(request, "experiments/dashboard.html", {"team": team, "data": data})


@require_POST
def team_switch(request):
    try:
        team_id = int(request.POST.get("team", ""))
    except ValueError:
        raise Http404("No such team") from None
    team = selectors.teams_for_user(request.user).filter(pk=team_id).first() if 0 < team_id < 2**63 else None
    if team is None:
        raise Http404("No such team")
    request.session["team_id"] = team.pk
    messages.info(request, f"You are now working in {team.name}.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "home"
    return redirect(target)


def team_detail(request):
    team = current_team(request)
    form = MemberAddForm(request.POST if request.method == "POST" else None)
    if team is not None and request.method == "POST" and form.is_valid():
        try:
            m = services.membership_add(team=team, actor=request.user, **form.cleaned_data)
            messages.success(request, f"Added {m.user.username} to {team.name} as {m.role}.")
            return redirect("team_detail")
        except Refused as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
    context = {
        "team": team,
        "form": form,
        "members": selectors.team_members(team=team) if team else [],
        "is_admin": team is not None
        and selectors.membership_role(user=request.user, team=team) == Membership.Role.ADMIN,
    }
    return render(request, "experiments/team.html", context, status=400 if form.is_bound and form.errors else 200)


@require_POST
def member_remove(request, membership_id: int):
    membership = selectors.membership_get(user=request.user, membership_id=membership_id)
    try:
        services.membership_remove(team=membership.team, actor=request.user, membership_id=membership.pk)
    except Refused as exc:
        messages.error(request, exc.message)
        return redirect("team_detail")
    if membership.user_id == request.user.pk:
        messages.success(request, f"You left {membership.team.name}.")
        return redirect("home")
    messages.success(request, f"Removed {membership.user.username} from {membership.team.name}.")
    return redirect("team_detail")


def upload_list(request):
    team = current_team(request)
    form = UploadForm(*((request.POST, request.FILES) if request.method == "POST" else ()))
    if request.method == "POST" and form.is_valid():
        if team is None:
            form.add_error(None, "You are not in a team yet: ask a team admin to add you.")
        else:
            try:
                up = services.upload_create(team=team, user=request.user, **form.upload_args())
                messages.success(request, upload_summary(up))
                return redirect("upload_list")
            except Refused as exc:
                form.add_error(exc.field if exc.field in form.fields else "file", exc.message)
    context = {
        "team": team,
        "form": form,
        "uploads": selectors.uploads_for_team(team=team),
        "max_mb": settings.UPLOAD_MAX_BYTES // (1024 * 1024),
        "max_rows": f"{MAX_ROWS:,}",
        "max_columns": MAX_COLUMNS,
    }
    return render(request, "experiments/uploads.html", context, status=400 if form.is_bound and form.errors else 200)


def upload_summary(up) -> str:
    if up.kind == up.Kind.IMAGES:
        return f"Uploaded {up.original_name}: " + "; ".join(up.notes) + f"; {len(up.columns)} classes."
    if up.kind == up.Kind.TEXT:
        return f"Uploaded {up.original_name}: {up.rows} texts, {up.columns[1]['distinct']} classes."
    return f"Uploaded {up.original_name}: {up.rows} rows, {len(up.columns)} columns."


def upload_download(request, upload_id: int):
    upload = selectors.upload_get(user=request.user, upload_id=upload_id)
    try:
        body = services.upload_export(upload)
    except FileNotFoundError:
        raise Http404("The stored file is missing") from None
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, upload.original_name)
    return response
