"""notnow: notices job rejections in a mailbox and leaves a gracious reply as a draft."""

__version__ = "0.1.0"
