from django.db import migrations


class Migration(migrations.Migration):
    """The board event log moved to the boards app; its table stays where it is."""

    dependencies = [("history", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="BoardEvent")],
            database_operations=[],
        ),
    ]
