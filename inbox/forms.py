"""Forms for the inbox's settings pages: they parse input; the actions decide."""

from django import forms


class CannedResponseForm(forms.Form):
    shortcut = forms.CharField(
        max_length=51, help_text="Typed after “/” in the composer, such as “refund”."
    )
    title = forms.CharField(max_length=100)
    body = forms.CharField(label="Text", max_length=4000, widget=forms.Textarea(attrs={"rows": 4}))
