"""Triggers that give the board a new key on every write to the leaderboard's tables.

SQLite: one row trigger per table and operation (SQLite has no statement triggers), setting
``randomblob``'s hex. PostgreSQL: one statement trigger per table (insert, update, delete,
truncate) calling a function that sets ``md5(random() || clock_timestamp())``. Both run in
the writer's transaction, so a reader sees the new key exactly when it sees the new rows.
"""

from django.db import migrations

TABLES = (
    "leaderboard_model",
    "leaderboard_modelversion",
    "leaderboard_benchmarktype",
    "leaderboard_benchmarkversion",
    "leaderboard_score",
)
OPERATIONS = ("INSERT", "UPDATE", "DELETE")


def create_key_and_triggers(apps, schema_editor) -> None:
    BoardKey = apps.get_model("leaderboard", "BoardKey")
    BoardKey.objects.get_or_create(pk=1, defaults={"key": "initial"})
    execute = schema_editor.execute
    if schema_editor.connection.vendor == "postgresql":
        execute(
            "CREATE OR REPLACE FUNCTION leaderboard_new_board_key() RETURNS trigger AS $$ "
            "BEGIN UPDATE leaderboard_boardkey SET key = "
            "md5(random()::text || clock_timestamp()::text || txid_current()::text); "
            "RETURN NULL; END; $$ LANGUAGE plpgsql"
        )
        for table in TABLES:
            execute(
                f"CREATE TRIGGER {table}_new_board_key AFTER INSERT OR UPDATE OR DELETE OR "
                f"TRUNCATE ON {table} FOR EACH STATEMENT "
                f"EXECUTE FUNCTION leaderboard_new_board_key()"
            )
    else:
        for table in TABLES:
            for operation in OPERATIONS:
                execute(
                    f"CREATE TRIGGER {table}_{operation.lower()}_new_board_key AFTER "
                    f"{operation} ON {table} BEGIN UPDATE leaderboard_boardkey SET key = "
                    f"lower(hex(randomblob(16))); END"
                )


def drop_triggers(apps, schema_editor) -> None:
    execute = schema_editor.execute
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            execute(f"DROP TRIGGER IF EXISTS {table}_new_board_key ON {table}")
        execute("DROP FUNCTION IF EXISTS leaderboard_new_board_key()")
    else:
        for table in TABLES:
            for operation in OPERATIONS:
                execute(f"DROP TRIGGER IF EXISTS {table}_{operation.lower()}_new_board_key")


class Migration(migrations.Migration):

    dependencies = [
        ("leaderboard", "0003_board_key_and_snapshots"),
    ]

    operations = [
        migrations.RunPython(create_key_and_triggers, drop_triggers),
    ]
