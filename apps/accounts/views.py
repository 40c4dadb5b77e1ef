from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget
from rest_framework.authtoken.models import Token

from apps.accounts import selectors, services
from apps.accounts.exceptions import ActingError, InvitationError, MembershipError
from apps.accounts.forms import (
    ActingStartForm,
    CompanyContactForm,
    CompanyCreateForm,
    InvitationAcceptForm,
    InvitationForm,
    RoleForm,
    ShipToAddressForm,
)
from apps.accounts.middleware import ACTING_SESSION_KEY
from apps.accounts.models import (
    ActingSession,
    Company,
    Invitation,
    Membership,
    Role,
    ShipToAddress,
    StaffRole,
)
from apps.accounts.permissions import (
    MemberRequest,
    company_role_required,
    request_acting,
    staff_role_required,
    user_membership,
    user_staff_roles,
)
from apps.core.http import AuthenticatedRequest, HtmxRequest
from apps.erp.selectors import sync_state_for, sync_states_for, timeline_for


@require_GET
@login_required
def home(request: AuthenticatedRequest) -> HttpResponse:
    """Send each person to their own home: buyers first, then the staff roles."""
    if user_membership(request.user) is not None:
        return redirect("buyer-home")
    roles = user_staff_roles(request.user)
    if StaffRole.ADMIN in roles:
        return redirect("staff-home")
    if StaffRole.ACCOUNT_MANAGER in roles:
        return redirect("manager-home")
    if StaffRole.FINANCE in roles:
        return redirect("finance-home")
    raise PermissionDenied("Your account has no company and no staff role yet. Ask an administrator.")


# --- Buyer side -----------------------------------------------------------------------------------------


@require_GET
@company_role_required()
def buyer_home(request: MemberRequest) -> HttpResponse:
    membership = request.membership
    company = membership.company
    context = {
        "company": company,
        "membership": membership,
        "addresses": selectors.ship_to_address_list(company=company, include_inactive=False),
        "team_size": selectors.membership_list(company=company).filter(is_active=True).count(),
    }
    return render(request, "accounts/buyer_home.html", context)


@require_GET
@company_role_required()
def company_profile(request: MemberRequest) -> HttpResponse:
    membership = request.membership
    return render(
        request,
        "accounts/company_profile.html",
        {"company": membership.company, "membership": membership, "is_admin": membership.role == Role.ADMIN},
    )


@require_http_methods(["GET", "POST"])
@company_role_required(Role.ADMIN)
def company_profile_edit(request: MemberRequest) -> HttpResponse:
    membership = request.membership
    company = membership.company
    form = CompanyContactForm(request.POST or None, instance=company)
    if request.method == "POST" and form.is_valid():
        services.company_update_contact(company=company, **form.cleaned_data)
        messages.success(request, "Contact details saved.")
        if request.htmx:
            return render(
                request, "accounts/company_profile.html#contact", {"company": company, "is_admin": True}
            )
        return redirect("company-profile")
    template = (
        "accounts/company_profile.html#contact-form" if request.htmx else "accounts/company_profile_edit.html"
    )
    return render(request, template, {"company": company, "form": form})


# --- Users (company admins) -----------------------------------------------------------------------------


def _users_context(company: Company, invite_form: InvitationForm | None = None) -> dict[str, object]:
    return {
        "company": company,
        "memberships": selectors.membership_list(company=company),
        "invitations": selectors.invitation_pending_list(company=company),
        "invite_form": invite_form or InvitationForm(),
        "roles": Role.choices,
    }


@require_GET
@company_role_required(Role.ADMIN)
def company_users(request: MemberRequest) -> HttpResponse:
    membership = request.membership
    return render(request, "accounts/company_users.html", _users_context(membership.company))


@require_POST
@company_role_required(Role.ADMIN)
def company_user_invite(request: MemberRequest) -> HttpResponse:
    membership = request.membership
    company = membership.company
    form = InvitationForm(request.POST)
    if form.is_valid():
        try:
            invitation = services.invitation_create(
                company=company,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                invited_by=request.user,
            )
        except InvitationError as exc:
            form.add_error("email", exc.message)
        else:
            messages.success(request, f"Invitation sent to {invitation.email}.")
            form = InvitationForm()
    if request.htmx:
        return render(request, "accounts/company_users.html#invitations", _users_context(company, form))
    status = 400 if form.errors else 200
    return render(request, "accounts/company_users.html", _users_context(company, form), status=status)


def _member_or_404(request: MemberRequest, membership_id: int) -> Membership:
    company = request.membership.company
    try:
        return selectors.membership_get(company=company, membership_id=membership_id)
    except Membership.DoesNotExist as exc:
        raise Http404("No such user in your company.") from exc


def _member_row(request: MemberRequest, member: Membership, error: str = "") -> HttpResponse:
    if error and not request.htmx:
        messages.error(request, error)
    if not request.htmx:
        return redirect("company-users")
    return render(
        request,
        "accounts/company_users.html#member-row",
        {"member": member, "roles": Role.choices, "row_error": error},
    )


@require_POST
@company_role_required(Role.ADMIN)
def company_user_role(request: MemberRequest, membership_id: int) -> HttpResponse:
    member = _member_or_404(request, membership_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        return _member_row(request, member, "Pick one of the listed roles.")
    try:
        services.membership_change_role(membership=member, role=form.cleaned_data["role"], actor=request.user)
    except MembershipError as exc:
        member.refresh_from_db()
        return _member_row(request, member, exc.message)
    messages.success(request, f"{member.user.email} is now {member.get_role_display()}.")
    return _member_row(request, member)


@require_POST
@company_role_required(Role.ADMIN)
def company_user_deactivate(request: MemberRequest, membership_id: int) -> HttpResponse:
    member = _member_or_404(request, membership_id)
    try:
        services.membership_deactivate(membership=member, actor=request.user)
    except MembershipError as exc:
        member.refresh_from_db()
        return _member_row(request, member, exc.message)
    messages.success(request, f"{member.user.email} can no longer sign in.")
    return _member_row(request, member)


@require_POST
@company_role_required(Role.ADMIN)
def company_user_reactivate(request: MemberRequest, membership_id: int) -> HttpResponse:
    member = _member_or_404(request, membership_id)
    services.membership_reactivate(membership=member, actor=request.user)
    messages.success(request, f"{member.user.email} can sign in again.")
    return _member_row(request, member)


@require_POST
@company_role_required(Role.ADMIN)
def company_invitation_revoke(request: MemberRequest, invitation_id: int) -> HttpResponse:
    company = request.membership.company
    try:
        invitation = selectors.invitation_get(company=company, invitation_id=invitation_id)
    except Invitation.DoesNotExist as exc:
        raise Http404("No such invitation.") from exc
    try:
        services.invitation_revoke(invitation=invitation)
    except InvitationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Invitation for {invitation.email} withdrawn.")
    if request.htmx:
        return render(request, "accounts/company_users.html#invitations", _users_context(company))
    return redirect("company-users")


@require_http_methods(["GET", "POST"])
def invitation_accept(request: HtmxRequest, token: str) -> HttpResponse:
    invitation = Invitation.objects.select_related("company").filter(token=token).first()
    if invitation is None or not invitation.is_usable():
        return render(request, "accounts/invitation_invalid.html", status=410 if invitation else 404)
    form = InvitationAcceptForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.invitation_accept(
                token=token,
                password=form.cleaned_data["password1"],
                first_name=form.cleaned_data["first_name"],
                last_name=form.cleaned_data["last_name"],
            )
        except ValidationError as exc:
            form.add_error("password1", exc)
        except InvitationError as exc:
            form.add_error(None, exc.message)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome to {invitation.company.name}.")
            return redirect("home")
    return render(request, "accounts/invitation_accept.html", {"invitation": invitation, "form": form})


# --- Ship-to addresses ----------------------------------------------------------------------------------


def _address_or_404(request: MemberRequest, address_id: int) -> ShipToAddress:
    company = request.membership.company
    try:
        return selectors.ship_to_address_get(company=company, address_id=address_id)
    except ShipToAddress.DoesNotExist as exc:
        raise Http404("No such address in your company.") from exc


@require_GET
@company_role_required()
def company_addresses(request: MemberRequest) -> HttpResponse:
    membership = request.membership
    return render(
        request,
        "accounts/company_addresses.html",
        {
            "company": membership.company,
            "addresses": selectors.ship_to_address_list(company=membership.company),
            "is_admin": membership.role == Role.ADMIN,
        },
    )


def _address_form_response(
    request: MemberRequest, form: ShipToAddressForm, address: ShipToAddress | None, status: int = 200
) -> HttpResponse:
    template = (
        "accounts/company_addresses.html#address-form" if request.htmx else "accounts/address_form_page.html"
    )
    return render(request, template, {"form": form, "address": address}, status=status)


def _address_saved(request: MemberRequest, address: ShipToAddress, created: bool) -> HttpResponse:
    messages.success(request, f"Address “{address.label}” {'added' if created else 'saved'}.")
    if request.htmx:
        # The default flag may have moved to this address: re-render the whole table.
        response = render(
            request,
            "accounts/_address_saved.html",
            {"addresses": selectors.ship_to_address_list(company=address.company), "is_admin": True},
        )
        return reswap(retarget(response, "#address-table"), "outerHTML")
    return redirect("company-addresses")


@require_http_methods(["GET", "POST"])
@company_role_required(Role.ADMIN)
def company_address_add(request: MemberRequest) -> HttpResponse:
    company = request.membership.company
    form = ShipToAddressForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                address = services.ship_to_address_save(company=company, **form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                return _address_saved(request, address, created=True)
        return _address_form_response(request, form, None, status=200 if request.htmx else 400)
    return _address_form_response(request, form, None)


@require_http_methods(["GET", "POST"])
@company_role_required(Role.ADMIN)
def company_address_edit(request: MemberRequest, address_id: int) -> HttpResponse:
    address = _address_or_404(request, address_id)
    company = request.membership.company
    form = ShipToAddressForm(request.POST or None, instance=address)
    if request.method == "POST":
        if form.is_valid():
            try:
                address = services.ship_to_address_save(company=company, address=address, **form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                return _address_saved(request, address, created=False)
        return _address_form_response(request, form, address, status=200 if request.htmx else 400)
    return _address_form_response(request, form, address)


# --- Staff homes ----------------------------------------------------------------------------------------


def _manager_home_context(
    request: AuthenticatedRequest, form: CompanyCreateForm | None = None
) -> dict[str, object]:
    companies = list(selectors.company_list_for_staff(user=request.user))
    return {
        "companies": companies,
        "sync_states": sync_states_for(Company, [company.pk for company in companies]),
        "create_form": form or CompanyCreateForm(),
    }


@require_GET
@staff_role_required(StaffRole.ACCOUNT_MANAGER, acting=True)
def manager_home(request: AuthenticatedRequest) -> HttpResponse:
    return render(request, "accounts/manager_home.html", _manager_home_context(request))


@require_POST
@staff_role_required(StaffRole.ACCOUNT_MANAGER)
def manager_company_create(request: AuthenticatedRequest) -> HttpResponse:
    """An account manager opens a new account; the portal creates the ERP customer once, in the background."""
    form = CompanyCreateForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                company = services.company_create(
                    name=data["name"],
                    tax_identifier=data["tax_identifier"],
                    time_zone=data["time_zone"],
                    account_manager=request.user,
                    push_to_erp=True,
                )
                if data["street"]:
                    services.ship_to_address_save(
                        company=company,
                        label="Main address",
                        street=data["street"],
                        city=data["city"],
                        postal_code=data["postal_code"],
                        country=data["country"],
                    )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                f"{company.name} created; the ERP customer {company.erp_customer_code} is being created.",
            )
            return redirect("manager-company-detail", company_id=company.pk)
    return render(request, "accounts/manager_home.html", _manager_home_context(request, form), status=400)


@require_GET
@staff_role_required(StaffRole.ACCOUNT_MANAGER, acting=True)
def manager_company_detail(request: AuthenticatedRequest, company_id: int) -> HttpResponse:
    try:
        company = selectors.company_detail_get_for_staff(user=request.user, company_id=company_id)
    except Company.DoesNotExist as exc:
        raise Http404("No such account among yours.") from exc
    context: dict[str, object] = {
        "company": company,
        "credit": getattr(company, "credit_account", None),  # joined by the selector; None: no account yet
        "addresses": selectors.ship_to_address_list(company=company),
        "sync_state": sync_state_for(company),
        "events": timeline_for(company),
    }
    if request.htmx:
        # The live panel: ERP-owned data, sync badge and timeline, polled while the page is open.
        return render(request, "accounts/manager_company_detail.html#erp-panel", context)
    context["memberships"] = selectors.membership_list(company=company)
    context["can_act"] = services.acting_allowed_for(user=request.user, company=company)
    return render(request, "accounts/manager_company_detail.html", context)


# --- Acting for a customer (docs/decisions.md) ---------------------------------------------------------


@require_http_methods(["GET", "POST"])
@staff_role_required(StaffRole.ACCOUNT_MANAGER)
def acting_start(request: AuthenticatedRequest, company_id: int) -> HttpResponse:
    """Start acting for a named buyer of an assigned company (any company for a portal admin)."""
    try:
        company = selectors.company_get_for_acting(user=request.user, company_id=company_id)
    except Company.DoesNotExist as exc:
        raise Http404("No such account among yours.") from exc
    form = ActingStartForm(request.POST or None, company=company)
    if request.method == "POST" and form.is_valid():
        buyer = form.cleaned_data["buyer"].user
        try:
            session = services.acting_session_start(
                manager=request.user, company=company, buyer=buyer, reason=form.cleaned_data["reason"]
            )
        except ActingError as exc:
            form.add_error(None, exc.message)
        else:
            request.session[ACTING_SESSION_KEY] = session.pk
            until = timezone.localtime(session.expires_at)
            messages.success(
                request, f"You are acting for {buyer.email} of {company.name} until {until:%H:%M}."
            )
            return redirect("po-builder")
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "accounts/acting_start.html",
        {"company": company, "form": form, "acting_minutes": settings.ACTING_SESSION_MINUTES},
        status=status,
    )


@require_POST
@staff_role_required(StaffRole.ACCOUNT_MANAGER, acting=True)
def acting_stop(request: AuthenticatedRequest) -> HttpResponse:
    acting = request_acting(request)
    request.session.pop(ACTING_SESSION_KEY, None)
    if acting is None:
        messages.info(request, "You were not acting for anyone.")
        return redirect("manager-home")
    services.acting_session_end(session=acting.session, reason=ActingSession.EndReason.STOPPED)
    messages.success(request, f"You stopped acting for {acting.session.buyer.email}.")
    return redirect("manager-company-detail", company_id=acting.session.company_id)


@require_GET
@company_role_required(Role.ADMIN)
def company_log(request: MemberRequest) -> HttpResponse:
    """The company's log: who acted for whom, when, why, and what they did."""
    sessions = list(selectors.acting_session_list(company=request.membership.company)[:LOG_SESSIONS])
    return render(request, "accounts/company_log.html", {"sessions": sessions, "limit": LOG_SESSIONS})


LOG_SESSIONS = 100  # the newest sessions on the page; each carries its actions


# --- API token ---------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@company_role_required(Role.BUYER, Role.ADMIN)
def api_token(request: MemberRequest) -> HttpResponse:
    """A personal API token for the company's procurement system; regenerating revokes the old one."""
    token = Token.objects.filter(user=request.user).first()
    if request.method == "POST":
        services.api_token_regenerate(user=request.user)
        messages.success(request, "New API token created; the previous one no longer works.")
        return redirect("po-api-token")
    return render(request, "accounts/api_token.html", {"token": token})
