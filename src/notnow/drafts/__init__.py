"""notnow.drafts."""
