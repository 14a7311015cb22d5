from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.db.models import Count, Q

from requests_app.models import OPEN_STATUSES

from .models import Operator
from .services import create_operator


class OperatorCreationForm(forms.ModelForm):
    """Creates the Django user and the operator profile together."""

    username = forms.CharField(max_length=150)
    email = forms.EmailField(required=False)
    password = forms.CharField(
        widget=forms.PasswordInput,
        required=False,
        help_text="Leave empty to create a user who cannot log in yet.",
    )

    class Meta:
        model = Operator
        fields = ["name"]

    def clean_username(self):
        username = self.cleaned_data["username"]
        if get_user_model().objects.filter(username__iexact=username).exists():
            raise forms.ValidationError("A user with that username already exists.")
        return username

    def clean_password(self):
        password = self.cleaned_data.get("password")
        if password:
            validate_password(password)
        return password


@admin.register(Operator)
class OperatorAdmin(admin.ModelAdmin):
    list_display = ["name", "username", "email", "is_active", "open_requests", "created_at"]
    list_filter = ["user__is_active", "user__is_staff"]
    search_fields = ["name", "user__username", "user__email"]
    list_select_related = ["user"]
    readonly_fields = ["user", "created_at"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(_open=Count("requests", filter=Q(requests__status__in=OPEN_STATUSES)))
        )

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = OperatorCreationForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else ["created_at"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["username", "name", "email", "password"]
        return ["user", "name", "created_at"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        created = create_operator(
            username=form.cleaned_data["username"],
            name=form.cleaned_data["name"],
            email=form.cleaned_data.get("email") or "",
            password=form.cleaned_data.get("password") or None,
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

    @admin.display(ordering="_open", description="Open requests")
    def open_requests(self, obj):
        return obj._open
