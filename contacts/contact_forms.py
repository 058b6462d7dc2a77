"""Forms of the contact pages. They only parse and render: every rule is checked by the
services (``ContactInvalid.errors`` are attached back to the fields they name)."""

import zoneinfo

from django import forms

from contacts.models import AttributeDefinition, BlockedAddress, Contact, ContactPhone
from contacts.models import HouseholdMember as Member
from contacts.services import ContactInvalid

CHANNEL_CHOICES = [
    ("", "No preference"),
    ("sms", "SMS"),
    ("whatsapp", "WhatsApp"),
    ("email", "Email"),
    ("imessage", "iMessage"),
    ("voice", "Phone calls"),
]
TIMEZONE_CHOICES = [("", "Unknown (guessed from the phone)")] + [
    (name, name) for name in sorted(zoneinfo.available_timezones()) if "/" in name
]


class ContactForm(forms.Form):
    first_name = forms.CharField(required=False, max_length=100)
    last_name = forms.CharField(required=False, max_length=100)
    name = forms.CharField(
        required=False,
        max_length=200,
        label="Display name",
        help_text="Used when there is no first or last name.",
    )
    phone = forms.CharField(
        required=False,
        max_length=50,
        help_text="Any format; national numbers use the tenant's country.",
    )
    email = forms.CharField(required=False, max_length=254)
    address_line1 = forms.CharField(required=False, max_length=200, label="Address")
    address_line2 = forms.CharField(required=False, max_length=200, label="Address (line 2)")
    city = forms.CharField(required=False, max_length=100)
    region = forms.CharField(required=False, max_length=100, label="State / province")
    postal_code = forms.CharField(required=False, max_length=20)
    country = forms.CharField(required=False, max_length=60, help_text="Two letters, e.g. MX.")
    timezone = forms.ChoiceField(required=False, choices=TIMEZONE_CHOICES, label="Time zone")
    preferred_channel = forms.ChoiceField(required=False, choices=CHANNEL_CHOICES)
    language = forms.CharField(required=False, max_length=10, help_text="e.g. es or en-US.")
    inferred_gender = forms.ChoiceField(
        required=False, choices=Contact.Gender.choices, label="Gender (inferred)"
    )

    # On the edit form phones and emails have their own forms on the contact page.
    CREATE_ONLY = ("phone", "email")

    def __init__(self, *args, editing: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            for name in self.CREATE_ONLY:
                del self.fields[name]

    def contact_fields(self) -> dict:
        return {
            name: value for name, value in self.cleaned_data.items() if name not in self.CREATE_ONLY
        }

    def add_service_errors(self, exc: ContactInvalid) -> None:
        for key, reason in exc.errors.items():
            field = key.split(".")[0]
            field = {"phones": "phone", "emails": "email"}.get(field, field)
            self.add_error(field if field in self.fields else None, reason)


class PhoneForm(forms.Form):
    number = forms.CharField(max_length=50, label="Phone number")
    kind = forms.ChoiceField(required=False, choices=ContactPhone.Kind.choices, initial="mobile")
    primary = forms.BooleanField(required=False, label="Make primary")


class EmailForm(forms.Form):
    email = forms.CharField(max_length=254)
    primary = forms.BooleanField(required=False, label="Make primary")


class HouseholdMemberForm(forms.Form):
    name = forms.CharField(max_length=200)
    relationship = forms.ChoiceField(choices=Member.Relationship.choices)
    date_of_birth = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}), label="Date of birth"
    )


class ConsentForm(forms.Form):
    channel = forms.CharField(max_length=20)
    sender = forms.CharField(max_length=200)
    status = forms.ChoiceField(choices=[("opted_in", "Opted in"), ("opted_out", "Opted out")])


class AttributeDefinitionForm(forms.Form):
    key = forms.CharField(
        max_length=60, help_text="Lower-case letters, digits and _; cannot change later."
    )
    label = forms.CharField(max_length=100)
    type = forms.ChoiceField(choices=AttributeDefinition.Type.choices)
    choices = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="For a list of choices: one per line.",
    )
    is_required = forms.BooleanField(required=False, label="Required")
    description = forms.CharField(required=False, max_length=200)

    def __init__(self, *args, editing: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if editing:
            del self.fields["key"]

    def add_service_errors(self, exc: ContactInvalid) -> None:
        for key, reason in exc.errors.items():
            self.add_error(key if key in self.fields else None, reason)


class BlockForm(forms.Form):
    kind = forms.ChoiceField(choices=BlockedAddress.Kind.choices)
    value = forms.CharField(max_length=254, label="Number or address")
    reason = forms.CharField(required=False, max_length=200)
