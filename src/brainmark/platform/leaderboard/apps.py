from django.apps import AppConfig


class LeaderboardConfig(AppConfig):
    """Models, model versions, benchmark types (the tree), benchmark versions, scores."""

    name = "brainmark.platform.leaderboard"
    label = "leaderboard"
    verbose_name = "Leaderboard"
