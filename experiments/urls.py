from django.contrib.auth import views as auth_views
from django.urls import path

from experiments import views, views_account, views_team

urlpatterns = [
    path("", views_team.dashboard, name="home"),
    path("experiments/", views.experiment_list, name="experiment_list"),
    path("experiments/<int:experiment_id>/", views.experiment_detail, name="experiment_detail"),
    path("experiments/<int:experiment_id>/runs/new/", views.run_new, name="run_new"),
    path("runs/<int:run_id>/", views.run_detail, name="run_detail"),
    path("runs/<int:run_id>/cancel/", views.run_cancel, name="run_cancel"),
    path("team/", views_team.team_detail, name="team_detail"),
    path("team/switch/", views_team.team_switch, name="team_switch"),
    path("team/members/<int:membership_id>/remove/", views_team.member_remove, name="member_remove"),
    path("uploads/", views_team.upload_list, name="upload_list"),
    path("uploads/<int:upload_id>/download/", views_team.upload_download, name="upload_download"),
    path("account/tokens/", views_account.token_list, name="token_list"),
    path("account/tokens/<int:token_id>/revoke/", views_account.token_revoke, name="token_revoke"),
    path("account/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("account/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
]
