from django.urls import path

from experiments import views, views_analysis

urlpatterns = [
    path("experiments/", views.experiment_list, name="experiment_list"),
    path("experiments/<int:experiment_id>/", views.experiment_detail, name="experiment_detail"),
    path("experiments/<int:experiment_id>/runs/new/", views.run_new, name="run_new"),
    path("runs/<int:run_id>/", views.run_detail, name="run_detail"),
    path("runs/<int:run_id>/cancel/", views.run_cancel, name="run_cancel"),
    path("experiments/<int:experiment_id>/compare/", views_analysis.compare, name="compare"),
    path("experiments/<int:experiment_id>/compare/save/", views_analysis.compare_save, name="compare_save"),
    path("comparisons/<int:comparison_id>/", views_analysis.saved_comparison, name="saved_comparison"),
    path("experiments/<int:experiment_id>/leaderboard/", views_analysis.leaderboard_page, name="leaderboard"),
    path("experiments/<int:experiment_id>/sweeps/new/", views_analysis.sweep_new, name="sweep_new"),
    path("experiments/<int:experiment_id>/export.<str:fmt>", views_analysis.experiment_export, name="experiment_export"),
    path("runs/<int:run_id>/metrics.<str:fmt>", views_analysis.run_export, name="run_export"),
]
