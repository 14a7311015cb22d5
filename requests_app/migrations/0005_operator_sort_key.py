from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def copy_operator_names(apps, schema_editor):
    """Every held request gets its holder's name, as the services keep it from now on."""
    SupportRequest = apps.get_model("requests_app", "SupportRequest")
    Operator = apps.get_model("operators_app", "Operator")
    SupportRequest.objects.using(schema_editor.connection.alias).filter(
        operator__isnull=False
    ).update(
        operator_name=Subquery(
            Operator.objects.filter(pk=OuterRef("operator_id")).values("name")[:1]
        )
    )


class Migration(migrations.Migration):
    dependencies = [
        ("operators_app", "0001_initial"),
        ("requests_app", "0004_desk_waiting_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="supportrequest",
            name="operator_name",
            field=models.CharField(blank=True, editable=False, max_length=150, null=True),
        ),
        migrations.RunPython(copy_operator_names, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="supportrequest",
            index=models.Index(fields=["operator_name", "id"], name="request_operator_name_id"),
        ),
    ]
