"""The leaderboard's data: models and their versions, the benchmark tree and versions, scores."""
