"""Forms of the console's actions that have no API serializer to reuse."""

from django import forms
from django.utils.translation import gettext_lazy as _


def _not_blank(value: str) -> str:
    if not value.strip():
        raise forms.ValidationError(_("This field may not be blank."), code="blank")
    return value


class NoteForm(forms.Form):
    body = forms.CharField(max_length=100_000, strip=False)

    def clean_body(self) -> str:
        return _not_blank(self.cleaned_data["body"])


class AssignForm(forms.Form):
    operator = forms.IntegerField(min_value=1, max_value=2**63 - 1)


class OpenRequestForm(forms.Form):
    requester_email = forms.EmailField(max_length=254, label=_("Requester address"))
    requester_name = forms.CharField(max_length=200, required=False, label=_("Requester name"))
    subject = forms.CharField(max_length=400, label=_("Subject"))
    body = forms.CharField(max_length=100_000, strip=False, label=_("Message"))

    def clean_body(self) -> str:
        return _not_blank(self.cleaned_data["body"])
