from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.password_validation import password_validators_help_text_html

from apps.accounts.models import Company, Membership, Role, ShipToAddress
from apps.accounts.selectors import acting_buyer_choices
from apps.core.timezones import default_time_zone, time_zone_choices


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(label="Email", widget=forms.EmailInput(attrs={"autofocus": True}))
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Please enter a correct email and password. The password is case-sensitive.",
    }

    def clean_username(self) -> str:
        return self.cleaned_data["username"].strip().lower()


class InvitationForm(forms.Form):
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices, initial=Role.BUYER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class InvitationAcceptForm(forms.Form):
    first_name = forms.CharField(max_length=150)
    last_name = forms.CharField(max_length=150)
    password1 = forms.CharField(
        label="Password",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label="Password again", widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        if cleaned.get("password1") and cleaned.get("password1") != cleaned.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        return cleaned


class CompanyContactForm(forms.ModelForm):
    time_zone = forms.ChoiceField(
        choices=time_zone_choices,
        label="Time zone",
        help_text="Quote offers run out at midnight in this time zone.",
    )

    class Meta:
        model = Company
        fields = ["phone", "billing_email", "website", "time_zone"]


class ShipToAddressForm(forms.ModelForm):
    class Meta:
        model = ShipToAddress
        fields = [
            "label",
            "street",
            "street_2",
            "city",
            "postal_code",
            "region",
            "country",
            "contact_name",
            "contact_phone",
            "is_default",
            "is_active",
        ]

    def clean_country(self) -> str:
        country = self.cleaned_data["country"].strip().upper()
        if len(country) != 2 or not country.isalpha():
            raise forms.ValidationError("Use the two-letter ISO country code, e.g. US or DE.")
        return country


class CompanyCreateForm(forms.Form):
    name = forms.CharField(max_length=200, label="Company name")
    tax_identifier = forms.RegexField(
        regex=r"^\d{2}-?\d{7}$",
        required=False,
        label="Tax ID (EIN)",
        help_text="Nine digits, e.g. 12-3456789. The ERP checks it is a valid EIN.",
        error_messages={"invalid": "An EIN has nine digits, e.g. 12-3456789."},
    )
    street = forms.CharField(max_length=200, required=False, label="Ship-to street")
    city = forms.CharField(max_length=100, required=False)
    postal_code = forms.CharField(max_length=20, required=False)
    country = forms.CharField(max_length=2, required=False, initial="US", help_text="Two-letter ISO code.")
    time_zone = forms.ChoiceField(
        choices=time_zone_choices,
        initial=default_time_zone,
        required=False,
        label="Time zone",
        help_text="The customer's day: quote offers run out at midnight there. Blank: the portal's.",
    )

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        address = [cleaned.get(name) for name in ("street", "city", "postal_code")]
        if any(address) and not all(address):
            self.add_error(
                None, "Give street, city and postal code for the ship-to address, or none of them."
            )
        country = str(cleaned.get("country") or "").strip().upper()
        if country and (len(country) != 2 or not country.isalpha()):
            self.add_error("country", "Use the two-letter ISO country code, e.g. US or DE.")
        cleaned["country"] = country or "US"
        cleaned["time_zone"] = cleaned.get("time_zone") or default_time_zone()
        return cleaned


class _BuyerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Membership) -> str:
        name = obj.user.get_full_name()
        return f"{name} <{obj.user.email}> ({obj.get_role_display()})" if name else obj.user.email


class ActingStartForm(forms.Form):
    buyer = _BuyerChoiceField(
        queryset=Membership.objects.none(),
        label="Act for",
        empty_label="Choose a buyer",
        error_messages={"invalid_choice": "Choose an active buyer of this company."},
    )
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Why you act for this buyer; the company's admins see it in their log.",
        error_messages={"required": "Say why you act for this buyer; the company's admins read it."},
    )

    def __init__(self, *args: object, company: Company, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["buyer"].queryset = acting_buyer_choices(company=company)  # type: ignore[attr-defined]

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Say why you act for this buyer; the company's admins read it.")
        return reason
