from django.apps import AppConfig


class LeaderboardConfig(AppConfig):
    """Models, model versions, benchmark types (the tree), benchmark versions, scores."""

    name = "brainmark.platform.leaderboard"
    label = "leaderboard"
    verbose_name = "Leaderboard"

    def ready(self) -> None:
        """Keep the stored public board ready after every committed write."""
        from brainmark.platform.leaderboard.snapshots import connect_refresh

        connect_refresh()
