"""Forms for the inbox's settings pages: they parse input; the actions decide."""

from django import forms


class CannedResponseForm(forms.Form):
    shortcut = forms.CharField(
        max_length=51, help_text="Typed after “/” in the composer, such as “refund”."
    )
    title = forms.CharField(max_length=100)
    body = forms.CharField(
        label="Text",
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=(
            "Variables are filled for the conversation's contact, as in message templates: "
            '{{firstName|default:"there"}}, lastName, name, phone, email, city, country or a '
            "custom attribute's key."
        ),
    )
