"""notnow.daemon."""
