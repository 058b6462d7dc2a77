import datetime

from django import forms

from notifications.models import EventType, NotificationRule, NotificationTemplate


class RuleForm(forms.Form):
    name = forms.CharField(max_length=120)
    event_type = forms.ModelChoiceField(queryset=EventType.objects.none(), label="Event type")
    template = forms.ModelChoiceField(queryset=NotificationTemplate.objects.none())
    channels = forms.CharField(
        max_length=60,
        initial="whatsapp, sms, email",
        help_text="In order of preference: whatsapp, imessage, chatwoot, sms, email. The next "
        "is tried when one cannot reach the contact (no inbox, opted out, blocked…); chatwoot "
        "uses a Chatwoot inbox whose “notifications and campaigns” switch is on.",
    )
    timing = forms.ChoiceField(choices=NotificationRule.Timing.choices, label="When")
    offset = forms.IntegerField(min_value=0, max_value=3650, initial=0, required=False)
    unit = forms.ChoiceField(choices=NotificationRule.Unit.choices, required=False)
    date_key = forms.CharField(
        max_length=60,
        required=False,
        label="Date key",
        help_text="The event's data key, e.g. trip_date.",
    )
    quiet_hours = forms.BooleanField(required=False, initial=True, label="Respect quiet hours")
    quiet_start = forms.TimeField(initial=datetime.time(21, 0), label="Quiet from")
    quiet_end = forms.TimeField(initial=datetime.time(8, 0), label="Quiet until")
    is_active = forms.BooleanField(required=False, initial=True, label="Active")

    def __init__(self, *args, tenant, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["event_type"].queryset = EventType.objects.for_tenant(tenant).order_by("key")
        self.fields["template"].queryset = NotificationTemplate.objects.for_tenant(tenant).order_by(
            "key", "language"
        )

    @classmethod
    def initial_for(cls, rule: NotificationRule) -> dict:
        return {
            "name": rule.name,
            "event_type": rule.event_type_id,
            "template": rule.template_id,
            "channels": ", ".join(rule.channels),
            "timing": rule.timing,
            "offset": rule.offset,
            "unit": rule.unit,
            "date_key": rule.date_key,
            "quiet_hours": rule.quiet_hours,
            "quiet_start": rule.quiet_start,
            "quiet_end": rule.quiet_end,
            "is_active": rule.is_active,
        }


class TemplateForm(forms.Form):
    name = forms.CharField(max_length=120)
    key = forms.SlugField(max_length=60, help_text="Shared by the template's languages.")
    language = forms.CharField(max_length=10, initial="es")
    category = forms.ChoiceField(choices=NotificationTemplate.Category.choices)
    subject = forms.CharField(max_length=200, required=False, help_text="Used for email.")
    body = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text='Variables: {{firstName|default:"amigo"}}, custom attributes and the event\'s '
        "data keys, e.g. {{trip_date}}.",
    )
    body_html = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8}),
        required=False,
        strip=False,
        label="HTML version (email)",
        help_text="Optional. Sent by email in the inbox's branding (logo, colour, footer), with "
        "the text above as the plain-text part. The same variables; their values are escaped.",
    )
    whatsapp_content_sid = forms.CharField(
        max_length=34,
        required=False,
        label="WhatsApp template SID",
        help_text="An approved template (HX…), so WhatsApp works outside the 24-hour window.",
    )
    whatsapp_variables = forms.CharField(
        max_length=500,
        required=False,
        label="WhatsApp variables",
        help_text="Its numbered variables, e.g. 1=firstName, 2=trip_date",
    )

    def clean_whatsapp_variables(self) -> dict:
        text = self.cleaned_data["whatsapp_variables"].strip()
        variables = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            number, _, name = part.partition("=")
            if not number.strip().isdigit() or not name.strip():
                raise forms.ValidationError(f"“{part}” is not number=variable (e.g. 1=firstName)")
            variables[number.strip()] = name.strip()
        return variables

    @staticmethod
    def variables_text(variables: dict) -> str:
        return ", ".join(f"{number}={name}" for number, name in variables.items())


class EventTypeForm(forms.Form):
    key = forms.CharField(max_length=60, help_text="e.g. booking.confirmed")
    name = forms.CharField(max_length=120)
    effect = forms.ChoiceField(choices=EventType.Effect.choices)
    subject_key = forms.CharField(max_length=60, required=False, label="Subject key")
    data_keys = forms.CharField(
        max_length=500, required=False, label="Data keys", help_text="Comma-separated."
    )
    cancels = forms.CharField(
        max_length=500,
        required=False,
        label="Cancels reminders of",
        help_text="Event types, comma-separated, whose pending reminders for the same subject "
        "this event cancels (e.g. payment.due).",
    )
