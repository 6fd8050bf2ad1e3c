from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path

from experiments.api import api


@login_not_required  # the login page shows it too
def favicon(request):
    # Browsers ask for /favicon.ico whatever the page links; the icon itself is a static file (hashed in production).
    return redirect(static("favicon.svg"), permanent=False)


urlpatterns = [
    path("favicon.ico", favicon, name="favicon"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("", include("webapp.pages.urls")),
]
