"""notnow.mailbox."""
