"""The template editor's form: it only parses; :func:`campaigns.services.do_save_template`
checks everything and its errors are put back on the fields."""

import re
from typing import Any

from django import forms
from django.http import QueryDict

from campaigns.services import TemplateInvalid
from omnichannel.channels import Channel

# Campaigns message people; a phone call has no template.
TEMPLATE_CHANNELS = [(value, label) for value, label in Channel.choices if value != Channel.VOICE]
VARIABLE_FIELD = re.compile(r"^variable_(\d{1,2})$")


class TemplateForm(forms.Form):
    service_errors: dict[str, str]

    name = forms.CharField(required=False, widget=forms.TextInput(attrs={"maxlength": 120}))
    channel = forms.ChoiceField(choices=TEMPLATE_CHANNELS, initial=Channel.SMS)
    body = forms.CharField(
        required=False,
        strip=False,  # leading spaces and blank lines are part of the message
        widget=forms.Textarea(attrs={"rows": 8, "maxlength": 1600, "spellcheck": "true"}),
        help_text='Insert variables as {{firstName}}; {{firstName|default:"amigo"}} gives '
        "contacts without one a fallback.",
    )
    content_sid = forms.CharField(
        required=False,
        label="Content SID",
        widget=forms.TextInput(attrs={"maxlength": 34, "placeholder": "HX…"}),
        help_text="WhatsApp: the approved template's Content SID (Twilio Content Template "
        "Builder). Without one the body goes out as free-form text, which WhatsApp delivers "
        "only to people who wrote in the last 24 hours.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.service_errors = {}

    def add_service_errors(self, exc: TemplateInvalid) -> None:
        """Each error on its field; the others (``variables``, ``media``) in
        ``service_errors``, for the page to show where they belong."""
        self.service_errors = {}
        for field, reason in exc.errors.items():
            if field in self.fields:
                self.add_error(field, reason)
            else:
                self.service_errors[field] = reason

    def values(self, variables: dict[str, str]) -> dict[str, Any]:
        """The keyword arguments of ``do_save_template``."""
        data = self.cleaned_data
        return {
            "name": data["name"],
            "channel": data["channel"],
            "body": data["body"],
            "content_sid": data["content_sid"] if data["channel"] == Channel.WHATSAPP else "",
            "variables": variables if data["channel"] == Channel.WHATSAPP else {},
        }


def posted_variables(data: QueryDict) -> dict[str, str]:
    """The WhatsApp mapping from ``variable_<n>`` fields: ``{"1": "firstName"}``, blanks left
    out."""
    found = {}
    for key, value in data.items():
        match = VARIABLE_FIELD.match(key)
        if match and value.strip():
            found[str(int(match.group(1)))] = value.strip()
    return dict(sorted(found.items(), key=lambda item: int(item[0])))
