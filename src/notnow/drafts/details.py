"""What a reply needs to know about a rejection: company, role, the person who wrote, and
where a reply can reach a human. Pure: text in, small values out, no I/O.

Owns the heuristics (phrases in six languages, signatures, sender names and domains) and
the list of no-reply and applicant-tracking-system (ATS) senders. Every value is optional:
a guess that is not clearly right is ``None``, because the template reads naturally
without it and a wrong company or name in a reply is worse than none.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from notnow.message import Address, Email

# Domains that send mail on an employer's behalf and do not deliver replies to a person.
ATS_DOMAINS = frozenset(
    {
        "greenhouse.io",
        "greenhouse-mail.io",
        "lever.co",
        "myworkday.com",
        "myworkdayjobs.com",
        "workday.com",
        "smartrecruiters.com",
        "smartrecruitersmail.com",
        "icims.com",
        "ashbyhq.com",
        "ashbymail.com",
        "personio.de",
        "personio.com",
        "teamtailor.com",
        "teamtailor-mail.com",
        "workable.com",
        "workablemail.com",
        "jobvite.com",
        "bamboohr.com",
        "recruitee.com",
        "jazzhr.com",
        "applytojob.com",
        "breezy.hr",
        "breezyhr.com",
        "taleo.net",
        "successfactors.com",
        "successfactors.eu",
        "sapsf.com",
        "sapsf.eu",
        "pinpointhq.com",
        "join.com",
        "softgarden.de",
        "softgarden.io",
        "dvinci.de",
        "dvinci-easy.com",
        "rexx-systems.com",
        "comeet.co",
        "homerun.co",
        "recruiterbox.com",
        "hire.withgoogle.com",
        "oraclecloud.com",
        "avature.net",
        "phenompeople.com",
        "eightfold.ai",
        "beamery.com",
        "gem.com",
        "rippling.com",
        "paylocity.com",
        "ultipro.com",
        "ukg.com",
        "adp.com",
        "jobylon.com",
        "welcometothejungle.com",
        "linkedin.com",
        "indeed.com",
        "indeedemail.com",
        "stepstone.de",
        "xing.com",
    }
)

# Mailbox names that nobody reads.
_NO_REPLY_LOCAL = re.compile(
    r"^(?:.*[._+-])?(?:no[._-]?reply|do[._-]?not[._-]?reply|dont[._-]?reply|noreply\d*"
    r"|notifications?|notify|mailer[._-]?daemon|postmaster|bounces?|automated|auto[._-]?reply"
    r"|ne[._-]?pas[._-]?repondre|nicht[._-]?antworten|no[._-]?responder|niet[._-]?beantwoorden"
    r"|nao[._-]?responda)(?:[._+-].*)?$",
    re.IGNORECASE,
)

# Role mailboxes that are real but not the place for a reply (support, privacy, ...).
_UNHELPFUL_LOCAL = re.compile(
    r"^(?:privacy|dataprotection|data[._-]?protection|datenschutz|dpo|gdpr|legal|support|help"
    r"|info|unsubscribe|abuse|security|webmaster|marketing|news|newsletter|press|billing"
    r"|sales|admin|compliance)(?:[._+-].*)?$",
    re.IGNORECASE,
)

# Role mailboxes that do reach recruiters: usable, though a person's address is better.
_RECRUITING_LOCAL = re.compile(
    r"^(?:careers?|jobs?|recruit\w*|talent\w*|hr|people|hiring|bewerbung\w*|karriere"
    r"|recrutement|empleo|vacatures|vagas)(?:[._+-].*)?$",
    re.IGNORECASE,
)

FREEMAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "gmx.de",
        "gmx.net",
        "gmx.com",
        "web.de",
        "t-online.de",
        "proton.me",
        "protonmail.com",
        "fastmail.com",
        "posteo.de",
        "mailbox.org",
        "orange.fr",
        "free.fr",
        "laposte.net",
        "libero.it",
        "ziggo.nl",
        "uol.com.br",
        "example.com",
    }
)

# Words that mark a team or a function rather than a person or a company name.
_TEAM_WORDS = {
    "team",
    "teams",
    "talent",
    "acquisition",
    "recruiting",
    "recruitment",
    "recruiter",
    "recruiters",
    "careers",
    "career",
    "jobs",
    "job",
    "hr",
    "people",
    "hiring",
    "human",
    "resources",
    "staffing",
    "no-reply",
    "noreply",
    "notifications",
    "personal",
    "personalabteilung",
    "karriere",
    "recrutement",
    "rh",
    "rrhh",
    "empleo",
    "werving",
    "selectie",
    "recrutamento",
    "department",
    "abteilung",
    "office",
    "the",
    "your",
    "de",
    "das",
    "die",
    "der",
    "le",
    "la",
    "el",
    "het",
    "o",
    "a",
    "équipe",
    "equipe",
    "equipo",
    "at",
    "from",
    "of",
    "and",
    "&",
}

# Legal forms dropped from a company name: "I remain interested in Acme", not "Acme GmbH".
_LEGAL_FORMS = re.compile(
    r"[,\s]+(?:GmbH(?:\s*&\s*Co\.?\s*KG)?|AG|SE|KG|UG|e\.V\.|Inc\.?|Incorporated|LLC|L\.L\.C\."
    r"|Ltd\.?|Limited|PLC|plc|Corp\.?|Corporation|Co\.?|B\.V\.?|BV|N\.V\.?|NV|S\.A\.?|SA|SAS"
    r"|SARL|S\.L\.?|SL|Lda\.?|Ltda\.?|AB|ApS|A/S|Oy|S\.p\.A\.?|S\.r\.l\.?)\s*$"
)

# Capitalised words may be joined by these.
_NAME_JOINERS = r"(?:&|and|und|et|y|en|e|of|for|de|du|des|der|van|von|la|le|del|do|da)"
# A company (or person) name: one to six capitalised tokens on one line.
_NAME_WORD = r"[A-Z0-9ÄÖÜÀ-ÞĀ-Ž][\w&'’+-]*(?:\.[\w]+)*"
_NAME = rf"{_NAME_WORD}(?:[ \t]+(?:{_NAME_JOINERS}[ \t]+)?{_NAME_WORD}){{0,5}}"
_ROLE_CHARS = r"[^\n.,;:!?\"“”«»]"

# Words that start sentences or name things that are not companies.
_NOT_COMPANY = {
    "we",
    "our",
    "us",
    "you",
    "your",
    "i",
    "it",
    "this",
    "that",
    "the",
    "unfortunately",
    "leider",
    "thank",
    "thanks",
    "dear",
    "hi",
    "hello",
    "position",
    "role",
    "stelle",
    "tätigkeit",
    "unternehmen",
    "firma",
    "poste",
    "puesto",
    "vaga",
    "functie",
    "vacature",
    "job",
    "career",
    "careers",
    "team",
    "application",
    "bewerbung",
    "candidature",
    "candidatura",
    "sollicitatie",
    "interview",
    "opportunity",
    "company",
    "ihre",
    "ihrer",
    "ihr",
    "unserem",
    "unserer",
    "uns",
    "une",
    "un",
    "nous",
    "notre",
    "nuestra",
    "nuestro",
    "onze",
    "ons",
    "nossa",
    "nosso",
}

# Role words that must not end a company name, and end a role description.
_ROLE_NOUNS = (
    r"(?:position|role|job|opening|vacancy|opportunity|post|req(?:uisition)?|Stelle|Position"
    r"|Stellenausschreibung|Vakanz|poste|offre|puesto|vacante|posición|posicion|functie"
    r"|vacature|rol|vaga|posição|posicao|cargo)"
)

# Closings that come just before the writer's name.
_CLOSING = re.compile(
    r"^\s*(?:(?:with\s+)?(?:best|kind|warm|warmest|many|all\s+the\s+best|sincere)?\s*"
    r"(?:regards|wishes|greetings)|best|cheers|thanks(?:\s+again)?|thank\s+you(?:\s+again)?"
    r"|many\s+thanks|sincerely(?:\s+yours)?|yours\s+(?:sincerely|truly)|respectfully"
    r"|all\s+the\s+best|take\s+care|warmly"
    r"|(?:mit\s+)?(?:freundlichen|besten|herzlichen|vielen|lieben|sonnigen)\s+grü(?:ß|ss)en"
    r"|(?:viele|beste|liebe|herzliche)\s+grü(?:ß|ss)e|grü(?:ß|ss)e|mfg|lg|vg"
    r"|cordialement|bien\s+(?:à\s+vous|cordialement)|(?:bien\s+)?sincèrement|salutations"
    r"(?:\s+distinguées)?|meilleures\s+salutations|belle\s+journée"
    r"|(?:un\s+)?(?:cordial\s+)?saludos?(?:\s+cordiales)?|atentamente|un\s+abrazo"
    r"|(?:met\s+)?(?:vriendelijke|hartelijke)\s+groet(?:en)?|groet(?:en|jes)?"
    r"|atenciosamente|cumprimentos|abraços?|(?:um\s+)?abraço|obrigad[oa])\s*[,.!]?\s*$",
    re.IGNORECASE,
)

_EMAIL_IN_TEXT = re.compile(r"(?<![\w.+-])([\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")


@dataclass(frozen=True)
class Details:
    """What is known about a rejection; ``None`` where it could not be found safely."""

    company: str | None = None
    role: str | None = None
    contact_name: str | None = None


# -- addresses ----------------------------------------------------------------------------


def domain_of(address: str) -> str:
    """The lower-cased domain of an address ("" when there is none)."""
    _, _, domain = address.rpartition("@")
    return domain.strip().strip(">").lower().rstrip(".")


def is_ats_domain(domain: str) -> bool:
    """True for an ATS sending domain or any subdomain of one (us.greenhouse-mail.io)."""
    domain = domain.lower().rstrip(".")
    parts = domain.split(".")
    return any(".".join(parts[i:]) in ATS_DOMAINS for i in range(len(parts) - 1))


def is_no_reply(address: str) -> bool:
    """True when a reply to ``address`` would reach no person: no-reply boxes, bounces,
    notification senders and the sending domains of applicant tracking systems."""
    address = address.strip().strip("<>")
    local, at, domain = address.rpartition("@")
    if not at or not local:
        return True
    if _NO_REPLY_LOCAL.match(local):
        return True
    return is_ats_domain(domain)


def _registrable(domain: str) -> str:
    """acme.co.uk -> acme.co.uk, mail.acme.com -> acme.com (good enough without the PSL)."""
    parts = domain.lower().split(".")
    if len(parts) >= 3 and len(parts[-1]) == 2 and parts[-2] in {"co", "com", "org", "net", "ac"}:
        return ".".join(parts[-3:])
    return ".".join(parts[-2:])


def company_domain(email: Email) -> str | None:
    """The employer's own domain when the sender or Reply-To is at it (not ATS, not freemail)."""
    candidates = [a.address for a in email.reply_to]
    if email.sender is not None:
        candidates.insert(0, email.sender.address)
    for address in candidates:
        domain = domain_of(address)
        if not domain or is_ats_domain(domain):
            continue
        registrable = _registrable(domain)
        if registrable in FREEMAIL_DOMAINS:
            continue
        return registrable
    return None


def human_address(email: Email, exclude: Collection[str] = ()) -> Address | None:
    """The best address of a person at the employer found in the message.

    Looks at Reply-To, From, Cc and every address written in the text (signatures often
    carry the recruiter's own address under an ATS no-reply mail). Never returns a
    no-reply/ATS/privacy-style address, nor one of ``exclude`` or the message's To
    (the user's own addresses).
    """
    excluded = {a.lower() for a in exclude} | {a.address.lower() for a in email.to}
    own_domain = company_domain(email)
    company = extract_details(email).company
    company_key = _squash(company) if company else ""
    contact = _signature_person(email.new_text)

    named: dict[str, str] = {}
    ordered: list[str] = []
    header_addresses = [*email.reply_to, *([email.sender] if email.sender else []), *email.cc]
    for header_address in header_addresses:
        key = header_address.address.lower()
        named.setdefault(key, header_address.name)
        ordered.append(header_address.address)
    ordered.extend(m.group(1).rstrip(".") for m in _EMAIL_IN_TEXT.finditer(email.new_text))
    if not email.new_text.strip() or email.new_text != email.text:
        ordered.extend(m.group(1).rstrip(".") for m in _EMAIL_IN_TEXT.finditer(email.text))

    best: tuple[int, int, str] | None = None
    for index, address in enumerate(ordered):
        key = address.lower()
        local, _, domain = key.rpartition("@")
        if key in excluded or is_no_reply(key) or _UNHELPFUL_LOCAL.match(local):
            continue
        score = 0
        registrable = _registrable(domain)
        at_employer = bool(own_domain) and registrable == own_domain
        named_after_employer = bool(company_key) and company_key in _squash(
            registrable.split(".")[0]
        )
        if at_employer or named_after_employer:
            score += 4
        elif own_domain or company_key:
            # An address at another company (an agency, a vendor) only when nothing better.
            score += 0 if registrable not in FREEMAIL_DOMAINS else -1
        if not _RECRUITING_LOCAL.match(local):
            score += 2
        if contact and contact.split()[0].lower() in local:
            score += 1
        candidate = (score, -index, address)
        if best is None or candidate > best:
            best = candidate
    if best is None or best[0] < 1:
        return None
    address = best[2]
    name = named.get(address.lower(), "")
    if _team_like(name):
        name = ""
    if not name and contact and contact.split()[0].lower() in address.lower():
        name = contact
    return Address(_one_line(name), address)


# -- details ------------------------------------------------------------------------------


def _company_patterns() -> list[re.Pattern[str]]:
    name = rf"(?P<company>{_NAME})"
    lead = [
        # English
        rf"(?i:(?:position|role|job|opening|vacancy|opportunity)\s+(?:of\s+{_ROLE_CHARS}+?\s+)?"
        rf"(?:at|with))\s+{name}",
        rf"(?i:interest\s+in\s+(?:joining\s+|working\s+(?:at|for|with)\s+)?(?:the\s+team\s+at\s+)?)"
        rf"{name}",
        rf"(?i:(?:your\s+)?(?:application|applying|applied)\s+(?:to|at|with)\s+)"
        rf"(?:(?i:the\s+team\s+at\s+))?{name}",
        rf"(?i:(?:careers|everyone|here|us|all\s+of\s+us)\s+at)\s+{name}",
        rf"(?i:on\s+behalf\s+of(?:\s+the\s+team\s+at)?)\s+{name}",
        rf"(?i:for\s+considering|to\s+join)\s+{name}",
        # German
        rf"(?i:(?:bewerbung|interesse|tätigkeit|stelle|position)\b[^\n.]{{0,60}}?\s+bei)\s+"
        rf"(?:(?i:der|dem|den)\s+)?{name}",
        rf"(?i:interesse\s+an)\s+(?:(?i:der|dem|den)\s+)?{name}",
        # French
        rf"(?i:(?:candidature|intérêt|poste)\b[^\n.]{{0,60}}?\s+(?:chez|pour|au\s+sein\s+de))\s+"
        rf"(?:(?i:la|le|l')\s*)?{name}",
        # Spanish / Portuguese
        rf"(?i:(?:candidatura|interés|interesse|puesto|vaga|posición|posição)\b[^\n.]{{0,60}}?"
        rf"\s+(?:en|na|no|em|con|para))\s+(?:(?i:la|el|a|o)\s+)?{name}",
        # Dutch
        rf"(?i:(?:sollicitatie|interesse|functie|vacature)\b[^\n.]{{0,60}}?\s+(?:bij|in))\s+{name}",
    ]
    return [re.compile(p) for p in lead]


def _role_patterns() -> list[re.Pattern[str]]:
    role = rf"(?P<role>[A-Z0-9ÄÖÜÀ-Þ]{_ROLE_CHARS}{{1,80}}?)"
    lead = [
        # "... for the Senior Data Engineer position" / "interest in our Data Analyst role"
        rf"(?i:(?:for|in|to|about|regarding|concerning)\s+(?:the|our|this|your)\s+){role}\s+(?i:{_ROLE_NOUNS})\b",
        # "the role of Senior Data Engineer at Acme", "the position as Data Analyst"
        rf"(?i:{_ROLE_NOUNS}\s+(?:of|as|for)\s+(?:an?\s+)?){role}"
        rf"(?=\s+(?i:at|with|in|here|bei|chez|en|na|bij)\b|\s*[.,;:!\n(]|$)",
        # "your application for Senior Data Engineer at Acme"
        rf"(?i:(?:application|applying|applied)\s+for\s+(?:the\s+|our\s+)?){role}"
        rf"(?=\s+(?i:at|with)\s|\s*\(|\s*[.,;:!\n]|$)",
        # German: "Ihre Bewerbung als Senior Data Engineer (m/w/d) bei ..."
        rf"(?i:(?:bewerbung|stelle|position|tätigkeit|rolle)\s+(?:als|zum|zur)\s+){role}"
        rf"(?=\s+(?i:bei|in|im)\b|\s*[.,;:!\n(]|$)",
        rf"(?i:(?:stelle|position|rolle)\s+(?:des|der|eines|einer)\s+){role}"
        rf"(?=\s+(?i:bei|in|im)\b|\s*[.,;:!\n(]|$)",
        # French / Spanish / Portuguese / Dutch: "au poste de", "el puesto de", "a vaga de"
        rf"(?i:(?:poste|puesto|vaga|posición|posição|cargo|functie|rol)\s+(?:de|d'|van|als)\s*)"
        rf"{role}(?=\s+(?i:chez|en|na|no|em|bij|at|con|para|pour|au|à)\b|\s*[.,;:!\n(]|$)",
    ]
    return [re.compile(p) for p in lead]


_COMPANY_PATTERNS = _company_patterns()
_ROLE_PATTERNS = _role_patterns()

_REPLY_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|sv|antw|r|res|vs|fw|fwd|wg)\s*(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE
)
_SUBJECT_COMPANY = [
    re.compile(
        rf"(?i:(?:your\s+)?(?:application|applying|candidacy)\s+(?:to|at|with)|thank\s+you\s+"
        rf"(?:for\s+applying|from)\s+(?:to\s+)?|update\s+from|bewerbung\s+bei|candidature\s+chez"
        rf"|sollicitatie\s+bij|candidatura\s+(?:en|na))\s+(?P<company>{_NAME})"
    ),
    # "Acme Robotics | Senior Data Engineer", "Acme - Your application"
    re.compile(rf"^(?P<company>{_NAME})\s+[|–—-]\s+(?i:your|ihre|votre|su|tu|je|uw|sua)\b"),
]
_SUBJECT_ROLE = [
    re.compile(
        rf"(?i:application\s+for|applying\s+for|bewerbung\s+als|bewerbung\s+für|candidature\s+"
        rf"(?:au\s+poste\s+de|pour)|candidatura\s+(?:para|a)|sollicitatie\s+(?:voor|als))\s+"
        rf"(?:(?i:the|de|le|la|el|a|o)\s+)?(?P<role>[A-Z0-9ÄÖÜÀ-Þ]{_ROLE_CHARS}{{1,80}}?)"
        rf"(?=\s+(?i:at|bei|chez|en|na|bij|with|-|–|\|)\s|\s*[(\[]|\s*$)"
    ),
]


def extract_details(email: Email) -> Details:
    """Company, role and the writer's first name, each ``None`` unless found safely."""
    text = email.new_text or email.text
    subject = _REPLY_PREFIX.sub("", email.subject)
    sender_name = email.sender.name if email.sender else ""

    role = _first_role(text) or _first_role_in_subject(subject)
    company = (
        _first_company(text, role)
        or _subject_company(subject, role)
        or _company_from_display_name(sender_name, email)
        or _company_from_domain(email)
    )
    contact = _contact_name(email, text, company)
    return Details(company=company, role=role, contact_name=contact)


def _first_role(text: str) -> str | None:
    found: list[tuple[int, str]] = []
    for pattern in _ROLE_PATTERNS:
        for match in pattern.finditer(text):
            role = _clean_role(match.group("role"))
            if role:
                found.append((match.start("role"), role))
                break
    return min(found)[1] if found else None


def _first_role_in_subject(subject: str) -> str | None:
    for pattern in _SUBJECT_ROLE:
        match = pattern.search(subject)
        if match:
            role = _clean_role(match.group("role"))
            if role:
                return role
    return None


def _first_company(text: str, role: str | None) -> str | None:
    found: list[tuple[int, str]] = []
    for pattern in _COMPANY_PATTERNS:
        for match in pattern.finditer(text):
            company = _clean_company(match.group("company"), role)
            if company:
                found.append((match.start(), company))
                break
    return min(found)[1] if found else None


def _subject_company(subject: str, role: str | None) -> str | None:
    for pattern in _SUBJECT_COMPANY:
        match = pattern.search(subject)
        if match:
            company = _clean_company(match.group("company"), role)
            if company:
                return company
    return None


def _company_from_display_name(name: str, email: Email) -> str | None:
    """ "Acme Robotics Recruiting" <no-reply@greenhouse-mail.io> -> "Acme Robotics"."""
    name = _one_line(name)
    if not name or "@" in name:
        return None
    words = name.replace(",", " ").split()
    match = re.search(rf"\b(?:at|from|bei|chez|@)\s+(?P<company>{_NAME})\s*$", name)
    if match:
        return _clean_company(match.group("company"), None)
    if not any(w.lower() in _TEAM_WORDS for w in words) and email.sender is not None:
        # A bare name is a company only when it matches the sending domain ("Acme" @acme.com)
        # or an ATS sends on its behalf (ATS mail carries the employer's name).
        domain = domain_of(email.sender.address)
        squashed = _squash(name)
        label = _squash(_registrable(domain).split(".")[0]) if domain else ""
        if is_ats_domain(domain) or (label and (squashed in label or label in squashed)):
            return _clean_company(name, None)
        return None
    kept = [w for w in words if w.lower() not in _TEAM_WORDS]
    if not kept:
        return None
    return _clean_company(" ".join(kept), None)


def _company_from_domain(email: Email) -> str | None:
    domain = company_domain(email)
    if not domain:
        return None
    label = domain.split(".")[0]
    if len(label) < 2 or label.isdigit():
        return None
    if len(label) <= 3:
        return label.upper()
    return " ".join(part.capitalize() for part in re.split(r"[-_]+", label) if part)


def _clean_company(value: str, role: str | None) -> str | None:
    value = _one_line(value).strip(" .,;:!?-–—|'\"")
    value = _LEGAL_FORMS.sub("", value).strip(" .,;:-")
    words = value.split()
    # "Acme Talent Acquisition Team" -> "Acme"
    while words and words[-1].lower() in _TEAM_WORDS:
        words.pop()
    while words and words[0].lower() in _TEAM_WORDS:
        words.pop(0)
    if not words:
        return None
    value = " ".join(words)
    if words[0].lower() in _NOT_COMPANY or value.lower() in _NOT_COMPANY:
        return None
    if re.search(rf"\b{_ROLE_NOUNS}$", value, re.IGNORECASE):
        return None
    if role and (value.lower() in role.lower()):
        return None
    if len(value) > 60 or not _safe(value):
        return None
    return value


_ROLE_NOISE = [
    re.compile(r"\s*[(\[]\s*(?:[mwfdxhgn*]\s*/\s*)+[mwfdxhgn*]\s*[)\]]", re.IGNORECASE),
    re.compile(r"\s*[(\[]\s*(?:all\s+genders?|alle\s+geschlechter|h/f|f/h)\s*[)\]]", re.I),
    re.compile(r"\s*[(\[]?\s*(?:job\s*)?(?:id|req|ref|#)\s*[:#]?\s*[\w-]*\d[\w-]*\s*[)\]]?$", re.I),
    re.compile(r"\s*[(\[][^()\[\]]*[)\]]\s*$"),
]
_NOT_ROLE = {
    "this",
    "that",
    "the",
    "a",
    "an",
    "our",
    "your",
    "open",
    "same",
    "above",
    "mentioned",
    "advertised",
    "current",
    "diese",
    "ausgeschriebene",
    "genannte",
    "cette",
    "este",
    "esta",
    "deze",
    "essa",
    "esta vaga",
    "you",
    "us",
    "we",
}


# Where a sentence goes on after the role ("au poste de X n'a pas été retenue").
_ROLE_STOP = re.compile(
    r"\s+(?:n['’]|ne\b|has\b|have\b|had\b|was\b|were\b|is\b|are\b|will\b|would\b"
    r"|which\b|that\b|we\b|you\b|wurde|ist\b|war\b|konnte|haben\b|hat\b|no\b|não\b|nao\b"
    r"|ha\b|fue\b|que\b|werd\b|wordt\b|heeft\b|foi\b|est\b|a\s+été)",
    re.IGNORECASE,
)


def _clean_role(value: str) -> str | None:
    value = _one_line(value)
    value = _ROLE_STOP.split(value, maxsplit=1)[0]
    for noise in _ROLE_NOISE:
        value = noise.sub("", value)
    value = value.strip(" .,;:!?-–—|'\"“”")
    value = re.sub(rf"\s+{_ROLE_NOUNS}$", "", value, flags=re.IGNORECASE)
    if not value or len(value) > 80 or len(value.split()) > 10:
        return None
    if value.lower() in _NOT_ROLE or value.split()[0].lower() in _NOT_ROLE:
        return None
    if not _safe(value):
        return None
    return value


# -- the person who wrote -----------------------------------------------------------------

_PERSON_WORD = re.compile(r"^[A-ZÄÖÜÀ-ÞĀ-Ž][a-zäöüßà-ÿā-ž'’-]+\.?$")
_INITIAL = re.compile(r"^[A-Z]\.$")


def _contact_name(email: Email, text: str, company: str | None) -> str | None:
    person = _signature_person(text)
    if person is not None and not _is_company_name(person, email, company):
        return person.split()[0]
    # The sender's display name, then Reply-To's: an ATS often sends from a team box
    # but sets Reply-To to the recruiter.
    for address in ([email.sender] if email.sender else []) + list(email.reply_to[:1]):
        person = _person_from_display_name(address.name, email, company, address.address)
        if person is not None:
            return person.split()[0]
    return None


def _is_company_name(name: str, email: Email, company: str | None) -> bool:
    """A signature or display name that is the employer's name, not a person's."""
    squashed = _squash(name)
    if company and (_squash(company) in squashed or squashed in _squash(company)):
        return True
    if email.sender is not None:
        label = _squash(_registrable(domain_of(email.sender.address)).split(".")[0])
        if label and (label == squashed or (len(squashed) >= 4 and squashed in label)):
            return True
    return False


def _signature_person(text: str) -> str | None:
    """The name on the line after a closing ("Best regards,\\nJane Doe")."""
    lines = [line.strip() for line in text.splitlines()]
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index]
        match = _CLOSING.match(line)
        if not match:
            # "Best, Jane" on one line.
            inline = re.match(
                r"^(?i:best|cheers|thanks|regards|best regards|kind regards)"
                r"\s*,\s*(?P<name>.+)$",
                line,
            )
            if inline and (name := _person_name(inline.group("name"))):
                return name
            continue
        for following in lines[index + 1 : index + 3]:
            if not following:
                continue
            return _person_name(following)
    return None


def _person_from_display_name(
    name: str, email: Email, company: str | None, address: str = ""
) -> str | None:
    name = _one_line(name)
    if not name or "@" in name:
        return None
    # "Jane from Acme", "Jane at Acme", "Jane | Acme"
    name = re.split(r"\s+(?:from|at|bei|chez|de|van|\||-|–)\s+", name, maxsplit=1)[0]
    if "," in name:
        last, _, first = name.partition(",")
        name = f"{first.strip()} {last.strip()}"
    person = _person_name(name)
    if person is None or _is_company_name(person, email, company):
        return None
    if len(person.split()) == 1:
        # A single word could be a brand ("Stripe"); accept it only from a person-like box.
        local = address.split("@")[0].lower()
        if person.lower() not in local:
            return None
    return person


def _person_name(value: str) -> str | None:
    """``value`` when it looks like a person's name (1-4 capitalised words, no team words)."""
    value = _one_line(value).strip(" ,.-–")
    value = re.sub(r"^(?:Dr|Prof|Mr|Mrs|Ms|Mx|Herr|Frau|M|Mme|Sr|Sra|Dhr|Mevr)\.?\s+", "", value)
    words = value.split()
    if not 1 <= len(words) <= 4:
        return None
    if any(w.lower().strip(".,") in _TEAM_WORDS | _NOT_COMPANY for w in words):
        return None
    if not all(_PERSON_WORD.match(w) or _INITIAL.match(w) for w in words):
        return None
    if _INITIAL.match(words[0]):
        return None
    return " ".join(words)


# -- helpers ------------------------------------------------------------------------------


def _one_line(value: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[\x00-\x1f\x7f\u2028\u2029\x85]", " ", value)).strip()


def _safe(value: str) -> bool:
    """No template syntax, markup or addresses in a value that goes into a reply."""
    return not any(token in value for token in ("{", "}", "<", ">", "@", "http", "%"))


def _squash(value: str) -> str:
    return re.sub(r"[^0-9a-zà-ÿ]+", "", value.lower())


def _team_like(name: str) -> bool:
    return any(word.lower() in _TEAM_WORDS for word in name.split()) if name else False
