"""On PostgreSQL the board key is updated BEFORE each statement, not after it.

The key's row is one lock that every write to the leaderboard's tables takes. Taken first,
before the statement locks any of its own rows, two transactions writing overlapping rows
queue on it instead of each holding a row the other wants (a deadlock PostgreSQL would
break by aborting one). SQLite has a single writer: its row triggers stay as they are.
"""

from django.db import migrations

TABLES = (
    "leaderboard_model",
    "leaderboard_modelversion",
    "leaderboard_benchmarktype",
    "leaderboard_benchmarkversion",
    "leaderboard_score",
)


def _replace_triggers(schema_editor, timing: str) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_new_board_key ON {table}")
        schema_editor.execute(
            f"CREATE TRIGGER {table}_new_board_key {timing} INSERT OR UPDATE OR DELETE OR "
            f"TRUNCATE ON {table} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION leaderboard_new_board_key()"
        )


def before(apps, schema_editor) -> None:
    _replace_triggers(schema_editor, "BEFORE")


def after(apps, schema_editor) -> None:
    _replace_triggers(schema_editor, "AFTER")


class Migration(migrations.Migration):

    dependencies = [
        ("leaderboard", "0004_board_key_triggers"),
    ]

    operations = [
        migrations.RunPython(before, after),
    ]
