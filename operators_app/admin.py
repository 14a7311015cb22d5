"""The operator admin: the list with how many open requests each holds, and adding an
operator to an existing user or with a new one."""

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password

from operators_app.models import Operator
from operators_app.services import attach_operator, create_operator, rename_operator
from requests_app.selectors import with_open_requests


class OperatorCreationForm(forms.ModelForm):
    """Gives an existing user an operator profile, or creates the user and the profile
    together."""

    existing_user = forms.ModelChoiceField(
        queryset=get_user_model().objects.filter(operator__isnull=True).order_by("username"),
        required=False,
        label="Existing user",
        help_text="A user without an operator profile (e.g. made with createsuperuser). "
        "Leave empty to create a new user from the fields below.",
    )
    username = forms.CharField(
        max_length=get_user_model()._meta.get_field("username").max_length,
        required=False,
        help_text="For a new user: required.",
    )
    email = forms.EmailField(required=False)
    password = forms.CharField(
        widget=forms.PasswordInput,
        required=False,
        help_text="Leave empty to create a user who cannot log in yet.",
    )

    class Meta:
        model = Operator
        fields = ["name"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].required = False
        self.fields[
            "name"
        ].help_text = "Shown to requesters. Empty: the user's full name, else the username."

    def clean_username(self):
        username = self.cleaned_data["username"].strip()
        if username and get_user_model().objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(
                "A user with that username already exists: choose them as the existing user."
            )
        return username

    def clean_password(self):
        password = self.cleaned_data.get("password")
        if password:
            validate_password(password)
        return password

    def clean(self):
        cleaned = super().clean() or {}
        if (
            not cleaned.get("existing_user")
            and not cleaned.get("username")
            and not (self.has_error("username"))
        ):
            self.add_error("username", "Choose an existing user or enter a username.")
        return cleaned


@admin.register(Operator)
class OperatorAdmin(admin.ModelAdmin):
    list_display = ["name", "username", "email", "is_active", "open_requests", "created_at"]
    list_filter = ["user__is_active", "user__is_staff"]
    search_fields = ["name", "user__username", "user__email"]
    list_select_related = ["user"]
    readonly_fields = ["user", "created_at"]

    def get_queryset(self, request):
        return with_open_requests(super().get_queryset(request))

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = OperatorCreationForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else ["created_at"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["existing_user", "username", "name", "email", "password"]
        return ["user", "name", "created_at"]

    def save_model(self, request, obj, form, change):
        if change:
            if "name" in form.changed_data:
                rename_operator(operator=obj, name=obj.name)
            else:
                super().save_model(request, obj, form, change)
            return
        data = form.cleaned_data
        if data.get("existing_user"):
            created = attach_operator(user=data["existing_user"], name=data.get("name") or "")
        else:
            created = create_operator(
                username=data["username"],
                name=data.get("name") or data["username"],
                email=data.get("email") or "",
                password=data.get("password") or None,
            )
        obj.pk = created.pk
        obj.user = created.user
        obj.created_at = created.created_at

    @admin.display(ordering="user__username")
    def username(self, obj):
        return obj.user.username

    @admin.display(ordering="user__email")
    def email(self, obj):
        return obj.user.email

    @admin.display(boolean=True, ordering="user__is_active")
    def is_active(self, obj):
        return obj.user.is_active

    @admin.display(ordering="open_requests", description="Open requests")
    def open_requests(self, obj):
        return obj.open_requests
