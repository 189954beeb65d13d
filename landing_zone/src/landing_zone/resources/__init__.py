"""Resources of the landing-zone location."""
