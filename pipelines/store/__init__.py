"""The only layer that writes: the database, plan -> apply, archive and manifest, versions."""
