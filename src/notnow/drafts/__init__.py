"""notnow.drafts: the reply notnow leaves as a draft.

``details`` finds company, role and the writer's name; ``render`` fills the Jinja2
template; ``compose`` builds the RFC 5322 message (headers, threading, quoting). Nothing
here touches a mailbox or decides whether to draft.
"""

from notnow.drafts.compose import Draft, compose_draft
from notnow.drafts.details import Details, extract_details, human_address, is_no_reply
from notnow.drafts.render import ReplyContext, render_reply

__all__ = [
    "Details",
    "Draft",
    "ReplyContext",
    "compose_draft",
    "extract_details",
    "human_address",
    "is_no_reply",
    "render_reply",
]
