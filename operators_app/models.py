from django.conf import settings
from django.db import models


class Operator(models.Model):
    """A support operator: a profile on a Django user, active while the user is."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="operator"
    )
    name = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def mail_name(self) -> str:
        """The name requesters see in mail: the profile's name, unless that is only the
        username (then the user's full name, or nothing)."""
        if self.name and self.name != self.user.get_username():
            return self.name
        return self.user.get_full_name().strip()

    @property
    def is_active(self) -> bool:
        return self.user.is_active

    @property
    def email(self) -> str:
        return self.user.email
