from django.contrib.auth import views as auth_views
from django.urls import path

from webapp.pages import account as views_account
from webapp.pages import analysis as views_analysis
from webapp.pages import runs as views
from webapp.pages import teams as views_team

urlpatterns = [
    path("", views_team.dashboard, name="home"),
    path("experiments/", views.experiment_list, name="experiment_list"),
    path("experiments/<int:experiment_id>/", views.experiment_detail, name="experiment_detail"),
    path("experiments/<int:experiment_id>/runs/new/", views.run_new, name="run_new"),
    path("runs/<int:run_id>/", views.run_detail, name="run_detail"),
    path("runs/<int:run_id>/cancel/", views.run_cancel, name="run_cancel"),
    path("runs/<int:run_id>/rename/", views.run_rename, name="run_rename"),
    path("runs/<int:run_id>/model.pt", views.run_model, name="run_model"),
    path("runs/<int:run_id>/keep-model/", views.run_keep_model, name="run_keep_model"),
    path("experiments/<int:experiment_id>/compare/", views_analysis.compare, name="compare"),
    path("experiments/<int:experiment_id>/compare/save/", views_analysis.compare_save, name="compare_save"),
    path("comparisons/<int:comparison_id>/", views_analysis.saved_comparison, name="saved_comparison"),
    path("experiments/<int:experiment_id>/leaderboard/", views_analysis.leaderboard_page, name="leaderboard"),
    path("experiments/<int:experiment_id>/leaderboard/seeds/", views_analysis.group_seeds_new, name="group_seeds_new"),
    path("experiments/<int:experiment_id>/sweeps/new/", views_analysis.sweep_new, name="sweep_new"),
    path(
        "experiments/<int:experiment_id>/export.<str:fmt>", views_analysis.experiment_export, name="experiment_export"
    ),
    path("runs/<int:run_id>/metrics.<str:fmt>", views_analysis.run_export, name="run_export"),
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
