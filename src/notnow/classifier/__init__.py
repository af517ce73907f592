"""notnow.classifier."""
