"""Pictures of evaluation episodes: top-down trajectory plots and videos."""
