import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    """The board event log, moved here from the history app: state only, the table
    (history_boardevent) is the one history's first migration made."""

    dependencies = [
        ("boards", "0002_boardmembership"),
        ("history", "0002_boardevent_to_boards"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="BoardEvent",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("seq", models.BigIntegerField()),
                        ("type", models.CharField(max_length=40)),
                        ("payload", models.JSONField(default=dict)),
                        ("created_at", models.DateTimeField()),
                        (
                            "actor",
                            models.ForeignKey(
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "board",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="events",
                                to="boards.board",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "history_boardevent",
                        "ordering": ["board_id", "seq"],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("board", "seq"), name="event_seq_unique_per_board"
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
