"""notnow.text: realistic HTML mail, reply chains in six languages, footers, language
detection, and properties that must hold for any input."""

from __future__ import annotations

import email
import email.policy
import time
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notnow import text
from notnow.language import LANGUAGES
from notnow.message import parse
from notnow.text import (
    detect_language,
    html_to_text,
    new_part,
    prepare,
    quoted_part,
    trim_footer,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "eml" / "text"


def load(name: str) -> tuple[str, str]:
    """(subject, visible body) of a fixture, read with the standard library only."""
    message = email.message_from_bytes((FIXTURES / name).read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    part = message.get_body(("html", "plain"))
    assert isinstance(part, EmailMessage)
    content = part.get_content()
    body = html_to_text(content) if part.get_content_subtype() == "html" else content
    return str(message["subject"]), body


# -- html_to_text -------------------------------------------------------------------------


class TestHtmlToText:
    def test_ats_table_layout(self) -> None:
        _, body = load("ats_table_layout.eml")
        assert "Hi Alice," in body.splitlines()
        assert "we’ve decided to move forward with other candidates" in body
        # Link text stays, the address does not.
        assert "careers page" in body
        assert "gh_src" not in body and "https://" not in body
        # Head, style, conditional comments, preheader, script, tracking pixel: gone.
        for invisible in (
            "margin: 0",
            "PixelsPerInch",
            "An update on your application",
            "SCRIPT_MUST_NOT_SHOW",
            "tracking pixel",
            "Your application to Acme",  # <title>
        ):
            assert invisible not in body
        # Alt text of a real image stays; <br> makes lines; no zero-width padding.
        assert body.splitlines()[0] == "Acme"
        assert "Best wishes,\nJordan Lee\nTalent Acquisition, Acme" in body
        assert "\u200c" not in body and "\u034f" not in body and "\xa0" not in body

    def test_german_workday_with_hidden_blocks(self) -> None:
        _, body = load("workday_de.eml")
        assert body.startswith("Sehr geehrte Frau Example,\n\nvielen Dank für Ihre Bewerbung")
        assert "Vorschau" not in body
        assert "versteckter Text" not in body
        assert "pixel" not in body
        assert "Mit freundlichen Grüßen\nIhr Recruiting-Team der Beispiel AG" in body

    def test_paragraphs_lines_and_inline_whitespace(self) -> None:
        markup = (
            "<div><div><p>First   paragraph\n spans\tsource lines.</p></div></div>"
            "<div>A line</div><div>Next line<br>after a break</div>"
            "<p><b>bold</b> <i>italic</i>&nbsp;text</p>"
        )
        assert html_to_text(markup) == (
            "First paragraph spans source lines.\n\n"
            "A line\nNext line\nafter a break\n\n"
            "bold italic text"
        )

    def test_lists_and_tables(self) -> None:
        markup = (
            "<p>Next steps:</p><ul><li>One<li>Two</li><li><a href='x'>Three</a></ul>"
            "<table><tr><th>Role</th><th>Status</th></tr>"
            "<tr><td>Engineer</td><td></td><td>Closed</td></tr></table>"
        )
        assert html_to_text(markup) == (
            "Next steps:\n\nOne\nTwo\nThree\n\nRole | Status\nEngineer | Closed"
        )

    def test_entities(self) -> None:
        markup = "<p>Caf&eacute; &amp; co &mdash; we&#8217;re sorry &lt;3 &#x1F600;</p>"
        assert html_to_text(markup) == "Café & co — we’re sorry <3 😀"

    @pytest.mark.parametrize(
        "hidden",
        [
            '<div style="display: none">SECRET</div>',
            '<span style="DISPLAY:NONE !important">SECRET</span>',
            '<div style="visibility:hidden">SECRET</div>',
            "<div hidden>SECRET</div>",
            '<span style="max-height:0;overflow:hidden">SECRET</span>',
            '<span style="font-size:0">SECRET</span>',
            '<span style="font-size:1px;color:#fff">SECRET</span>',
            '<span style="mso-hide:all">SECRET</span>',
            '<span style="opacity:0">SECRET</span>',
            '<div class="preheader">SECRET</div>',
            "<!-- SECRET -->",
            "<!--[if mso]>SECRET<![endif]-->",
            "<style>p::after{content:'SECRET'}</style>",
            "<script>document.write('SECRET')</script>",
            "<noscript>SECRET</noscript>",
            "<template>SECRET</template>",
            '<img src="p.gif" width="1" height="1" alt="SECRET">',
            '<img src="p.gif" style="width:1px;height:1px" alt="SECRET">',
            '<img src="p.gif" style="display:none" alt="SECRET">',
            "<head><title>SECRET</title></head>",
        ],
    )
    def test_hidden_content(self, hidden: str) -> None:
        result = html_to_text(f"<p>before</p>{hidden}<p>after</p>")
        assert "SECRET" not in result
        assert result == "before\n\nafter"

    def test_small_but_visible_text_stays(self) -> None:
        markup = '<p style="font-size:0.9em">small</p><p style="font-size:10px">print</p>'
        assert html_to_text(markup) == "small\n\nprint"

    def test_image_alt_text_stays(self) -> None:
        assert html_to_text('<img src="logo.png" width="120" alt="Acme Corp">') == "Acme Corp"

    def test_broken_markup(self) -> None:
        assert html_to_text("<p>unclosed <b>bold<div>block") == "unclosed bold\nblock"
        assert html_to_text("if a < b and c > d then") == "if a < b and c > d then"
        assert html_to_text("<head><meta charset=utf-8>Body text without body tag") == (
            "Body text without body tag"
        )
        assert html_to_text("<div>end tag without start</span></div>") == ("end tag without start")
        # Hidden element closed implicitly by its parent's end tag, as in browsers.
        assert html_to_text("<table><tr><td><div hidden>x</td><td>shown</td></table>") == "shown"
        # An unterminated comment or tag hides the rest, as in browsers.
        assert html_to_text("visible <!-- never closed <p>gone") == "visible"
        assert html_to_text('visible <a href="never closed>gone') == "visible"

    def test_empty(self) -> None:
        assert html_to_text("") == ""
        assert html_to_text("<html><body></body></html>") == ""

    @pytest.mark.parametrize(
        "unit",
        ["<a", "<!--", "<a b='", "a<b ", "<div>", "<p><table><td><span>", "<li>", "&amp;", "<"],
    )
    def test_huge_input_is_linear(self, unit: str) -> None:
        small, large = unit * 2_000, unit * 16_000
        start = time.perf_counter()
        html_to_text(small)
        small_time = time.perf_counter() - start
        start = time.perf_counter()
        html_to_text(large)
        large_time = time.perf_counter() - start
        # 8x the input; quadratic would be 64x. Generous for noisy machines.
        assert large_time < max(0.5, 20 * small_time)


# -- new_part / quoted_part ---------------------------------------------------------------

REPLIES = {
    "en": (
        "Hi Alice,\n\nThanks for your time. We went with another candidate.\n\nBest,\nBob\n\n"
        "On Mon, 3 Jun 2024 at 10:12, Alice Example <alice@example.org> wrote:\n"
        "> Hi Bob, any news?\n",
        "Hi Alice,\n\nThanks for your time. We went with another candidate.\n\nBest,\nBob",
    ),
    "en-wrapped": (
        "We decided not to proceed.\n\n"
        "On Mon, Jun 3, 2024 at 10:12 AM Alice Example <\nalice@example.org> wrote:\n\n"
        "> Any news?\n",
        "We decided not to proceed.",
    ),
    "de": (
        "Hallo Alice,\n\nleider haben wir uns anders entschieden.\n\n"
        "Am 03.06.2024 um 10:12 schrieb Alice Example <alice@example.org>:\n"
        "> Gibt es Neuigkeiten?",
        "Hallo Alice,\n\nleider haben wir uns anders entschieden.",
    ),
    "fr": (
        "Bonjour,\n\nMalheureusement nous ne retenons pas votre candidature.\n\n"
        "Le lun. 3 juin 2024 à 10:12, Alice Example <alice@example.org> a écrit :\n"
        "> Des nouvelles ?",
        "Bonjour,\n\nMalheureusement nous ne retenons pas votre candidature.",
    ),
    "es": (
        "Hola Alice:\nLamentablemente no seguiremos adelante.\n\n"
        "El lun, 3 jun 2024 a las 10:12, Alice Example (<alice@example.org>) escribió:\n"
        "> ¿Alguna novedad?",
        "Hola Alice:\nLamentablemente no seguiremos adelante.",
    ),
    "nl": (
        "Hoi Alice,\nHelaas gaan we niet verder.\n\n"
        "Op ma 3 jun. 2024 om 10:12 schreef Alice Example <alice@example.org>:\n"
        "> Nog nieuws?",
        "Hoi Alice,\nHelaas gaan we niet verder.",
    ),
    "pt": (
        "Olá Alice,\nInfelizmente não vamos avançar.\n\n"
        "Em seg., 3 de jun. de 2024 às 10:12, Alice Example <alice@example.org> escreveu:\n"
        "> Alguma novidade?",
        "Olá Alice,\nInfelizmente não vamos avançar.",
    ),
    "quote-only": (
        "Sorry, the position has been filled.\n> Is the position still open?\n> Alice",
        "Sorry, the position has been filled.",
    ),
    "interleaved": (
        "> Is the position still open?\nNo, it has been filled.\n> Can I apply again?\nYes.",
        "No, it has been filled.\nYes.",
    ),
}


@pytest.mark.parametrize("case", sorted(REPLIES))
def test_new_part_of_replies(case: str) -> None:
    source, expected = REPLIES[case]
    assert new_part(source) == expected
    assert quoted_part(source)
    assert expected not in quoted_part(source)


OUTLOOK_BLOCKS = {
    "en": "From: Alice <alice@example.org>\nSent: Tuesday, June 4, 2024 9:15 AM\n"
    "To: Bob <bob@acme.example>\nSubject: Interview",
    "de": "Von: Alice <alice@example.org>\nGesendet: Dienstag, 4. Juni 2024 09:15\n"
    "An: Bob <bob@acme.example>\nBetreff: Bewerbung",
    "fr": "De : Alice <alice@example.org>\nEnvoyé : mardi 4 juin 2024 09:15\n"
    "À : Bob <bob@acme.example>\nObjet : Candidature",
    "es": "De: Alice <alice@example.org>\nEnviado: martes, 4 de junio de 2024 9:15\n"
    "Para: Bob <bob@acme.example>\nAsunto: Candidatura",
    "nl": "Van: Alice <alice@example.org>\nVerzonden: dinsdag 4 juni 2024 09:15\n"
    "Aan: Bob <bob@acme.example>\nOnderwerp: Sollicitatie",
    "pt": "De: Alice <alice@example.org>\nEnviado: terça-feira, 4 de junho de 2024 09:15\n"
    "Para: Bob <bob@acme.example>\nAssunto: Candidatura",
    "bold-html": "*From:* Alice <alice@example.org>\n*Sent:* Tuesday, June 4, 2024\n"
    "*To:* Bob\n*Subject:* Interview",
    "blank-lines": "From: Alice <alice@example.org>\n\nSent: Tuesday, June 4, 2024\n\nTo: Bob",
}


@pytest.mark.parametrize("language", sorted(OUTLOOK_BLOCKS))
def test_outlook_header_blocks(language: str) -> None:
    source = f"Our answer, written now.\n\nRegards\n\n{OUTLOOK_BLOCKS[language]}\n\nOld text"
    assert new_part(source) == "Our answer, written now.\n\nRegards"
    assert quoted_part(source).endswith("Old text")


@pytest.mark.parametrize(
    "separator",
    [
        "-----Original Message-----",
        "----- Original Message -----",
        "-----Ursprüngliche Nachricht-----",
        "-----Message d'origine-----",
        "-----Mensaje original-----",
        "-----Oorspronkelijk bericht-----",
        "-----Mensagem original-----",
        "---------- Forwarded message ---------",
        "---------- Weitergeleitete Nachricht ---------",
        "---------- Message transféré ---------",
        "---------- Mensaje reenviado ---------",
        "---------- Doorgestuurd bericht ---------",
        "---------- Mensagem encaminhada ---------",
        "Begin forwarded message:",
        "Anfang der weitergeleiteten Nachricht:",
        "Début du message réexpédié :",
        "Inicio del mensaje reenviado:",
        "Begin doorgestuurd bericht:",
        "Início da mensagem reencaminhada:",
    ],
)
def test_separators(separator: str) -> None:
    source = f"New words.\n\n{separator}\nOld words: we regret to inform you."
    assert new_part(source) == "New words."
    assert quoted_part(source).startswith(separator.strip())


def test_outlook_reply_fixture() -> None:
    _, body = load("outlook_reply.eml")
    new = new_part(body)
    assert new.startswith("Hi Alice,")
    assert new.endswith("Bob")
    assert "I wanted to follow up" not in new
    assert "_____" not in new
    assert "I wanted to follow up" in quoted_part(body)


def test_forward_without_new_text_has_an_empty_new_part() -> None:
    subject, body = load("forward_only.eml")
    assert new_part(body) == ""
    assert "Unfortunately, we will not be moving forward" in quoted_part(body)
    # The classifier sees only the subject, not the forwarded rejection.
    assert prepare(subject, body) == "Fwd: Update on your application"


def test_forward_with_fyi_keeps_the_short_note() -> None:
    source = (
        "FYI\n\n---------- Forwarded message ---------\nFrom: Acme <no-reply@acme.example>\n"
        "Date: Wed, Jun 5, 2024\nSubject: Update\n\nWe regret to inform you..."
    )
    assert new_part(source) == "FYI"


def test_a_from_line_in_the_body_is_not_a_header_block() -> None:
    source = "From: the whole team, thank you.\n\nWe will not proceed, sadly."
    assert new_part(source) == source


def test_a_line_mentioning_wrote_is_not_an_attribution() -> None:
    source = "Here is what the panel wrote:\nStrong skills, not the right fit now."
    assert new_part(source) == source


# -- trim_footer --------------------------------------------------------------------------

ATS_BODY = (
    "Dear Alice,\n\n"
    "Thank you for applying to the Backend Engineer position at Acme. Unfortunately, we "
    "have decided to move forward with other candidates.\n\n"
    "We wish you the best in your search.\n\n"
    "Best regards,\nThe Acme Talent Team"
)


def test_trim_footer_cuts_trailing_boilerplate_and_keeps_the_body() -> None:
    footer = (
        "\n\nAcme is an equal opportunity employer. All qualified applicants will receive "
        "consideration for employment without regard to race, color, religion, sex or "
        "national origin.\n\n"
        "This email was sent by Acme Careers via Greenhouse. To unsubscribe, click here.\n"
        "Privacy Policy | Terms of Use\n"
        "Acme Inc., 123 Market Street, San Francisco, CA 94105\n"
    )
    assert trim_footer(ATS_BODY + footer) == ATS_BODY


@pytest.mark.parametrize(
    "footer",
    [
        "\nSent from my iPhone",
        "\n\nGesendet von meinem iPhone",
        "\n\nEnvoyé de mon iPhone",
        "\n\nEnviado desde mi iPhone",
        "\n\nVerzonden vanaf mijn iPhone",
        "\n\nEnviado do meu iPhone",
        "\n\nGet Outlook for Android",
        "\n-- \nBob Smith\nRecruiter, Acme\n+1 555 123 4567\nwww.acme.example",
        "\n\nCONFIDENTIALITY NOTICE: This e-mail message, including any attachments, is for the\n"
        "sole use of the intended recipient(s) and may contain confidential information.\n"
        "If you are not the intended recipient, please notify the sender and delete it.",
        "\n\nDiese E-Mail enthält vertrauliche Informationen. Wenn Sie nicht der richtige "
        "Adressat sind oder diese E-Mail irrtümlich erhalten haben, informieren Sie bitte "
        "sofort den Absender.",
        "\n\nAcme GmbH · Hauptstraße 5 · 10115 Berlin\n"
        "Geschäftsführer: Max Mustermann · Amtsgericht Berlin HRB 12345",
        "\n\n© 2024 Acme Inc. All rights reserved.",
        "\n\nPlease do not reply to this email. This mailbox is not monitored.",
    ],
)
def test_trim_footer_variants(footer: str) -> None:
    assert trim_footer(ATS_BODY + footer) == ATS_BODY


def test_trim_footer_keeps_body_sentences_that_mention_boilerplate_words() -> None:
    body = (
        "Hi Alice,\n\n"
        "Unfortunately we will not proceed with your application at this point. Your data "
        "is handled under our privacy policy.\n\nBob"
    )
    assert trim_footer(body) == body
    eeo_in_body = (
        "Dear Alice,\n\nThank you for your interest. Unfortunately, we will not be moving "
        "forward. As an equal opportunity employer we encourage you to apply again."
    )
    assert trim_footer(eeo_in_body) == eeo_in_body


def test_trim_footer_never_cuts_the_middle() -> None:
    body = (
        "Hi Alice,\n\nPlease do not reply to this email.\n\n"
        "We have decided to go with another candidate, and we wish you well in your search."
        "\n\nJordan"
    )
    assert trim_footer(body) == body


def test_trim_footer_keeps_the_first_paragraph() -> None:
    only = "This message is confidential and intended only for the addressee."
    assert trim_footer(only) == only


def test_a_dashes_divider_far_from_the_end_is_not_a_signature() -> None:
    body = "Intro\n--\n" + "\n".join(f"Line {n} of the real message." for n in range(40))
    assert trim_footer(body) == body


# _has_address is _ADDRESS split into guarded parts for speed; it must answer exactly as the
# single pattern does. Each case says whether the single pattern finds an address in it, so
# every part is seen both matching and just missing (start and end of text, after a
# newline, non-ASCII letters, digits next to letters).
ADDRESS_CASES = [
    # "+" and a phone number
    ("+31 20 123 4567", True),
    ("call a+4930123456\n", True),
    ("+31 20 12", False),
    ("+ 31 20 123 4567", False),
    # phone keywords
    ("tel: +31", True),
    ("\ntel.: 030 123", True),
    ("phone (555) 123", True),
    ("fax:0301", True),
    ("mobile +49", True),
    ("téléphone : 01 23", True),
    ("teléfono: 91", True),
    ("telefoon 020", True),
    ("telefone: (11)", True),
    ("tel:", False),
    ("tel: x", False),
    ("hotel: 5", False),
    ("telex: 5", False),
    # street names before a number
    ("123 main street", True),
    ("5 baker st.lukes", True),
    ("10a, high road", True),
    ("42 wallaby way suite", True),
    ("5 baker st.", False),  # \b after the dot: only before a letter
    ("123456 main street", False),
    ("abc123 main street", False),
    ("5 streets", False),
    ("main street", False),
    ("hauptstraße 5", True),
    ("hauptstr. 12", True),
    ("keizersgracht 123", True),
    ("dorfplatz\n3", True),
    ("straße 5", False),
    ("hauptstraße5", False),
    ("hauptstraße", False),
    ("12, rue de rivoli", True),
    ("5 avenue foch", True),
    ("3 bd haussmann", True),
    ("7 quai d'orsay", True),
    ("12 rueda", False),
    ("rue de rivoli", False),
    # street words without a number
    ("calle mayor 5", True),
    ("c/ mayor", True),
    ("avda. de america", True),
    ("plaza mayor", True),
    ("rua augusta", True),
    ("praça do comércio", True),
    ("travessa\nx", True),
    ("calle", False),
    ("february 5", False),
    ("callejón", False),
    # postal codes
    ("80331 münchen", True),
    ("12345 münchen", True),
    ("12345 ölberg", True),
    ("75008 paris", True),
    ("12345 ñandú", False),
    ("12345 2nd", False),
    ("ca 94043", True),
    ("ny 10001-1234", True),
    ("ny 1000", False),
    ("nyc 100001", False),
    ("1012 ab amsterdam", True),
    ("1012ab amsterdam", True),
    ("1012 ab", False),
    ("01310-100", True),
    ("01310-1000", False),
    ("sw1a 1aa", True),
    ("m1 1ae", True),
    ("ec1a 1bb\n", True),
    ("sw1a1aa", False),
    ("abc1 1aa", False),
    ("sw1a 1aab", False),
    # company registration
    ("registered office: london", True),
    ("registered in england", True),
    ("registered user", False),
    ("company no. 123", True),
    ("company registration", True),
    ("company news", False),
    ("ust-id", True),
    ("ustidnr", True),
    ("ust id", False),
    ("handelsregister", True),
    ("amtsgericht münchen", True),
    ("geschäftsführer", True),
    ("geschaftsfuhrer", False),
    ("sitz der gesellschaft", True),
    ("capital social", True),
    ("registro mercantil", True),
    ("hrb 12345", True),
    ("hrb12345", True),
    ("hrb x", False),
    ("thrb 1", False),
    ("vat", True),
    ("vat no.", True),
    ("private", False),
    ("vat123", False),
    ("siret", True),
    ("siren 123", True),
    ("sirens", False),
    ("rcs paris", True),
    ("kvk 123", True),
    ("kvkx", False),
    ("btw nl", True),
    ("cnpj", True),
    ("xcnpj", False),
    # a line that is only a link
    ("www.example.com", True),
    ("  https://example.com/a  ", True),
    ("text\nhttp://x.example\nmore", True),
    ("\n\nwww.example.com", True),
    ("see www.example.com", False),
    ("http://", False),
    ("http:/x.example", False),
    ("www.example.com is ours", False),
    # a link bar
    ("a | b | c", True),
    ("home · about · contact", True),
    ("x • y", True),
    ("a | b\nc", True),
    ("a\nb | c", True),
    ("a|b", False),
    ("a |b", False),
    ("| a", False),
    ("x" * 41 + " | b", False),
    ("privacy policy | terms", True),
    # nothing at all
    ("", False),
    ("hello there, thanks for your time.", False),
    ("on 3 june at 10:12 we met", False),
]


@pytest.mark.parametrize(("sample", "found"), ADDRESS_CASES)
def test_has_address_on_each_alternative(sample: str, found: bool) -> None:
    assert (text._ADDRESS.search(sample) is not None) is found
    assert text._has_address(sample) is found


def test_has_address_equals_the_single_pattern_on_the_test_mail() -> None:
    kinds = {kind for kind, _ in text._ADDRESS_ALTERNATIVES}
    assert kinds == {"literal", "word", "digit", "url", "bar"}  # each one is searched
    samples: list[str] = []
    for path in sorted((Path(__file__).resolve().parents[1] / "data").rglob("*.eml")):
        lowered = parse(path.read_bytes()).text.lower()
        lines = lowered.splitlines()
        samples += lines
        block: list[str] = []
        for line in [*lines, ""]:
            if line.strip():
                block.append(line)
            elif block:
                samples.append("\n".join(block))
                block = []
    assert len(samples) > 1000
    different = [
        s for s in samples if text._has_address(s) != (text._ADDRESS.search(s) is not None)
    ]
    assert different == []


# -- prepare ------------------------------------------------------------------------------


def test_prepare() -> None:
    subject, body = load("ats_table_layout.eml")
    prepared = prepare(subject, body)
    assert prepared.startswith("Your application to Acme\n")
    assert "decided to move forward with other candidates" in prepared
    assert "equal opportunity" not in prepared
    assert "Unsubscribe" not in prepared


def test_prepare_placeholders_and_digits() -> None:
    prepared = prepare(
        "Re: Req #4711",
        "See https://acme.example/jobs/4711?ref=mail or www.acme.example,\n"
        "write to jobs+eu@acme.example.  Call   +49 30 1234567.\nThanks.",
    )
    assert prepared == ("Re: Req #0\nSee URL or URL ,\nwrite to EMAIL . Call +0 0 0.\nThanks.")


def test_prepare_caps_the_length() -> None:
    prepared = prepare("Subject", "word " * 5000)
    assert len(prepared) <= text.MAX_PREPARED_CHARS
    assert prepared.endswith("word")


# -- detect_language ----------------------------------------------------------------------

SNIPPETS = {
    "en": [
        "Thank you for taking the time to interview with us. After careful consideration, "
        "we have decided to move forward with other candidates.",
        "Unfortunately we went with someone else.",
    ],
    "de": [
        "Vielen Dank für Ihre Bewerbung. Leider müssen wir Ihnen mitteilen, dass wir uns für "
        "einen anderen Kandidaten entschieden haben.",
        "Leider haben wir uns anders entschieden.",
    ],
    "fr": [
        "Nous vous remercions de l'intérêt que vous portez à notre entreprise. "
        "Malheureusement, nous ne pouvons pas donner une suite favorable à votre candidature.",
        "Malheureusement, votre profil ne correspond pas.",
    ],
    "es": [
        "Gracias por tu interés en el puesto. Lamentablemente, hemos decidido continuar con "
        "otros candidatos.",
        "Lamentablemente no seguiremos con tu candidatura.",
    ],
    "nl": [
        "Bedankt voor je sollicitatie. Helaas hebben we besloten om niet verder te gaan met "
        "je kandidatuur.",
        "Helaas gaan we niet verder met je sollicitatie.",
    ],
    "pt": [
        "Obrigado pelo seu interesse na vaga. Infelizmente, decidimos seguir com outros "
        "candidatos neste momento.",
        "Infelizmente não vamos avançar com a sua candidatura.",
    ],
}


@pytest.mark.parametrize(
    ("language", "snippet"),
    [(language, snippet) for language, items in SNIPPETS.items() for snippet in items],
)
def test_detect_language(language: str, snippet: str) -> None:
    assert detect_language(snippet) == language


def test_detect_language_judges_the_new_part_not_the_quote_or_footer() -> None:
    german_reply = (
        "Leider müssen wir Ihnen mitteilen, dass wir uns anders entschieden haben.\n\n"
        "On Mon, 3 Jun 2024 at 10:12, Alice <alice@example.org> wrote:\n"
        "> Hello, I wanted to follow up on my application and ask about next steps in the "
        "process. I am still very interested in the role and the team."
    )
    assert detect_language(german_reply) == "de"
    with_footer = (
        "Malheureusement, nous ne pouvons pas donner une suite favorable à votre candidature."
        "\n\nThis email was sent by Acme Careers. To unsubscribe from these emails, click "
        "here. Privacy Policy. All rights reserved. You are receiving this email because you "
        "applied for a job. Please do not reply to this email."
    )
    assert detect_language(with_footer) == "fr"


@pytest.mark.parametrize("sample", ["", "   \n", "12345", "https://acme.example", "OK", "Hi"])
def test_detect_language_without_evidence_is_english(sample: str) -> None:
    assert detect_language(sample) == "en"


# -- properties ---------------------------------------------------------------------------

HTML_FRAGMENTS = st.sampled_from(
    [
        "<div>",
        "</div>",
        "<p>",
        "</p>",
        "<br>",
        "<table>",
        "<tr>",
        "<td>",
        "</td>",
        "</table>",
        "<b>",
        "</i>",
        "<ul><li>",
        "<span style='display:none'>",
        "</span>",
        "&amp;",
        "&nbsp;",
        "&#8217;",
        "a < b",
        "x > y",
        "<!-- c -->",
        "<img alt='logo'>",
        '<a href="https://x.example/?a=1&b=2">',
        "</a>",
        "<head>",
        "</head>",
        "<body>",
        "<![if !mso]>",
        "<![endif]>",
        "\n",
        " ",
        "<pre>",
        "</pre>",
        "<br/>",
        "<hr>",
    ]
)
SAFE_TEXT = st.text(
    alphabet=st.characters(blacklist_characters="<>&", blacklist_categories=("Cs",)),
    max_size=30,
)
HTML_PIECES = st.lists(st.one_of(HTML_FRAGMENTS, SAFE_TEXT), max_size=30).map("".join)

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.text())
def test_nothing_raises_on_arbitrary_text(source: str) -> None:
    html_to_text(source)
    new_part(source)
    quoted_part(source)
    trim_footer(source)
    assert len(prepare(source[:20], source)) <= text.MAX_PREPARED_CHARS
    assert detect_language(source) in LANGUAGES


@FAST
@given(st.lists(st.one_of(HTML_FRAGMENTS, st.text(max_size=20)), max_size=40).map("".join))
def test_html_to_text_never_raises_on_html_like_input(markup: str) -> None:
    result = html_to_text(markup)
    assert "\x1f" not in result
    assert result == result.strip()


@FAST
@given(HTML_PIECES, HTML_PIECES)
def test_script_content_never_shows(before: str, after: str) -> None:
    markup = f"{before}<script type='text/javascript'>var x = 'SCRIPTBODY';</script>{after}"
    assert "SCRIPTBODY" not in html_to_text(markup)
    markup = f"{before}<style>.SCRIPTBODY {{ color: red }}</style>{after}"
    assert "SCRIPTBODY" not in html_to_text(markup)


REPLY_LINES = st.sampled_from(
    [
        "Hi Alice,",
        "Thanks for your time.",
        "> quoted",
        "",
        "Best,",
        "Bob",
        "On Mon, 3 Jun 2024 at 10:12, Alice <alice@example.org> wrote:",
        "-----Original Message-----",
        "From: Alice <alice@example.org>",
        "Sent: Monday",
        "To: Bob",
        "Subject: Application",
        "-- ",
        "Sent from my iPhone",
        "FYI",
        "Am 03.06.2024 um 10:12 schrieb Alice <a@example.org>:",
        "____________________",
        "Unsubscribe here.",
        "We are an equal opportunity employer.",
    ]
)


@FAST
@given(st.lists(st.one_of(REPLY_LINES, st.text(max_size=40)), max_size=25).map("\n".join))
def test_new_part_and_trim_footer_only_keep_lines_of_the_input(source: str) -> None:
    for result in (new_part(source), trim_footer(source), trim_footer(new_part(source))):
        for line in result.splitlines():
            assert line in source


ADDRESS_PIECES = st.sampled_from(
    [
        *("tel", "fax", "téléphone", "c/", "rua", "vat", "rcs", "hrb", "straße", "str.", "gracht"),
        *("street", "st.", "rue", "company no", "ust-id", "http://", "www.", "x.example"),
        *(" | ", " · ", "•", "|", "+", "(", ".", "-", ",", ":", " ", "\n", "\t", "\xa0"),
        *("1", "12", "1234", "12345", "٣", "²", "ab", "sw", "1aa", "ä", "ß", "ñ", "_", "x" * 41),
    ]
)


@FAST
@given(st.one_of(st.text(max_size=40), st.lists(ADDRESS_PIECES, max_size=12).map("".join)))
def test_has_address_equals_the_single_pattern(sample: str) -> None:
    assert text._has_address(sample) == (text._ADDRESS.search(sample) is not None)
