from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from apps.accounts import views
from apps.accounts.forms import EmailAuthenticationForm

urlpatterns = [
    path("", views.home, name="home"),
    # Authentication
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            authentication_form=EmailAuthenticationForm, redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password-reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("accounts/invitation/<str:token>/", views.invitation_accept, name="invitation-accept"),
    # Buyer side (the signed-in user's own company)
    path("buyer/", views.buyer_home, name="buyer-home"),
    path("company/", views.company_profile, name="company-profile"),
    path("company/edit/", views.company_profile_edit, name="company-profile-edit"),
    path("company/users/", views.company_users, name="company-users"),
    path("company/users/invite/", views.company_user_invite, name="company-user-invite"),
    path("company/users/<int:membership_id>/role/", views.company_user_role, name="company-user-role"),
    path(
        "company/users/<int:membership_id>/deactivate/",
        views.company_user_deactivate,
        name="company-user-deactivate",
    ),
    path(
        "company/users/<int:membership_id>/reactivate/",
        views.company_user_reactivate,
        name="company-user-reactivate",
    ),
    path(
        "company/invitations/<int:invitation_id>/revoke/",
        views.company_invitation_revoke,
        name="company-invitation-revoke",
    ),
    path("company/addresses/", views.company_addresses, name="company-addresses"),
    path("company/addresses/add/", views.company_address_add, name="company-address-add"),
    path("company/addresses/<int:address_id>/edit/", views.company_address_edit, name="company-address-edit"),
    path("company/log/", views.company_log, name="company-log"),
    path("orders/api-token/", views.api_token, name="po-api-token"),
    # Wholesaler staff
    path("manager/", views.manager_home, name="manager-home"),
    path("manager/companies/new/", views.manager_company_create, name="manager-company-create"),
    path("manager/companies/<int:company_id>/", views.manager_company_detail, name="manager-company-detail"),
    path("manager/companies/<int:company_id>/act/", views.acting_start, name="acting-start"),
    path("manager/acting/stop/", views.acting_stop, name="acting-stop"),
]
