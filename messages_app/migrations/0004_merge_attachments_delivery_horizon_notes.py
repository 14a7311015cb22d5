from django.db import migrations


class Migration(migrations.Migration):
    """Joins the three parallel 0002/0003 migrations of attachments, delivery and notes."""

    dependencies = [
        ("messages_app", "0002_attachments_and_raw_mail"),
        ("messages_app", "0002_delivery_horizon"),
        ("messages_app", "0003_notes_canned_replies_search"),
    ]

    operations = []
