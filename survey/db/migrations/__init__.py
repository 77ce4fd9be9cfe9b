"""Versioned schema migrations, applied in order by `survey init-db` (playhouse.migrations)."""
