"""notnow.drafts.details: company, role, contact name, no-reply and human addresses."""

from __future__ import annotations

from pathlib import Path

import pytest

from notnow.drafts.details import Details, extract_details, human_address, is_no_reply
from notnow.message import Address, Email, parse

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "eml" / "drafts"


def load(name: str) -> Email:
    return parse((FIXTURES / name).read_bytes())


def email(
    text: str,
    subject: str = "Your application",
    sender: Address | None = None,
    reply_to: str = "",
) -> Email:
    return Email(
        message_id="<test@example.net>",
        subject=subject,
        sender=sender,
        text=text,
        address_headers={"reply-to": reply_to, "to": "Alice Example <alice@example.org>"},
    )


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        (
            "greenhouse_noreply.eml",
            Details(company="Acme Robotics", role="Senior Data Engineer", contact_name="Jane"),
        ),
        (
            "personal_manager.eml",
            Details(company="Brightfield", role="Product Designer", contact_name="Mark"),
        ),
        (
            "workday_html.eml",
            Details(company="Globex", role="Financial Analyst", contact_name=None),
        ),
        (
            "reply_to.eml",
            Details(company="Initech", role="Backend Engineer", contact_name="Sam"),
        ),
        (
            "german.eml",
            Details(company="Muster", role="Softwareentwickler", contact_name="Katrin"),
        ),
        (
            "no_message_id.eml",
            Details(company="Hooli", role="Site Reliability Engineer", contact_name=None),
        ),
        (
            "re_re.eml",
            Details(company="Umbrella", role="Security Analyst", contact_name="Claire"),
        ),
    ],
)
def test_details_from_fixtures(fixture: str, expected: Details) -> None:
    assert extract_details(load(fixture)) == expected


@pytest.mark.parametrize(
    ("text", "company", "role"),
    [
        (
            "Thank you for applying for the role of Data Scientist at Wayne Enterprises.",
            "Wayne Enterprises",
            "Data Scientist",
        ),
        ("Thank you for your interest in Stark Industries.", "Stark Industries", None),
        (
            "We appreciate your application for the Staff Engineer position at Soylent.",
            "Soylent",
            "Staff Engineer",
        ),
        (
            "Merci pour votre candidature au poste de Chef de projet chez Dupont SA.",
            "Dupont",
            "Chef de projet",
        ),
        (
            "Gracias por tu candidatura para el puesto de Analista de Datos en Tecnova.",
            "Tecnova",
            "Analista de Datos",
        ),
        (
            "Bedankt voor je sollicitatie voor de functie van Data Engineer bij Bolcom.",
            "Bolcom",
            "Data Engineer",
        ),
        (
            "Obrigado pela sua candidatura para a vaga de Desenvolvedor Backend na Nubank.",
            "Nubank",
            "Desenvolvedor Backend",
        ),
        (
            "vielen Dank für Ihr Interesse an einer Tätigkeit bei der Beispiel AG.",
            "Beispiel",
            None,
        ),
    ],
)
def test_phrases(text: str, company: str | None, role: str | None) -> None:
    details = extract_details(email(text, subject="Update"))
    assert details.company == company
    assert details.role == role


def test_subject_gives_company_when_body_does_not() -> None:
    details = extract_details(
        email("We will not move forward.", subject="Your application to Acme Robotics")
    )
    assert details.company == "Acme Robotics"


def test_sender_domain_is_the_last_resort_for_the_company() -> None:
    sender = Address("Jobs", "jobs@blue-harbor.com")
    assert extract_details(email("We went another way.", sender=sender)).company == "Blue Harbor"


@pytest.mark.parametrize(
    "address",
    [
        "no-reply@us.greenhouse-mail.io",
        "no-reply@hire.lever.co",
        "acme@myworkday.com",
        "notifications@smartrecruiters.com",
        "jobs@icims.com",
        "talent@ashbyhq.com",
        "jobs@acme.jobs.personio.de",
        "careers@teamtailor.com",
        "jobs@workablemail.com",
        "jobs@jobvite.com",
        "acme@bamboohr.com",
        "noreply@acme.com",
        "donotreply@acme.com",
        "do-not-reply@acme.com",
        "MAILER-DAEMON@mx.acme.com",
        "hr-noreply@acme.com",
        "notifications@acme.com",
        "",
        "not an address",
    ],
)
def test_no_reply(address: str) -> None:
    assert is_no_reply(address)


@pytest.mark.parametrize(
    "address",
    ["jane.doe@acme.com", "careers@acme.com", "replyall@acme.com", "noreen@acme.com"],
)
def test_replyable(address: str) -> None:
    assert not is_no_reply(address)


def test_team_display_names_are_not_people() -> None:
    for name in ("Talent Acquisition Team", "Careers", "no-reply", "Acme Recruiting"):
        sender = Address(name, "talent@acme.com")
        assert extract_details(email("We went another way.", sender=sender)).contact_name is None


def test_a_persons_display_name_gives_the_first_name() -> None:
    sender = Address("Doe, Jane", "jane.doe@acme.com")
    assert extract_details(email("We went another way.", sender=sender)).contact_name == "Jane"


def test_human_address_from_signature_under_ats_sender() -> None:
    found = human_address(load("greenhouse_noreply.eml"))
    assert found == Address("Jane Doe", "jane.doe@acmerobotics.com")


def test_human_address_skips_privacy_and_no_reply() -> None:
    assert human_address(load("workday_html.eml")) is None


def test_human_address_never_the_users_own() -> None:
    text = "Reach me at alice@example.org or jane@acme.com.\n\nBest,\nJane"
    sender = Address("Acme", "no-reply@greenhouse.io")
    found = human_address(email(text, sender=sender), exclude=["jane@acme.com"])
    assert found is None


def test_values_carrying_template_syntax_are_dropped() -> None:
    details = extract_details(email("Thank you for your interest in {{ Evil }}.", subject="x"))
    assert details.company is None


def test_a_signature_that_is_the_company_is_not_a_person() -> None:
    text = "We have decided to move forward with other candidates.\n\nBest regards,\nAcme"
    details = extract_details(email(text, sender=Address("Acme", "jobs@acme.io")))
    assert details.contact_name is None
    assert details.company == "Acme"


@pytest.mark.parametrize(
    ("text", "role"),
    [
        (
            "Votre candidature au poste de Développeur Python n'a pas été retenue.",
            "Développeur Python",
        ),
        ("Your application for the role of Chef de projet was not successful.", "Chef de projet"),
        ("I'm writing regarding the Data Analyst opening.", "Data Analyst"),
        ("Thank you for your interest in the position.", None),
        ("Thank you for your application for this position.", None),
    ],
)
def test_role_stops_where_the_sentence_goes_on(text: str, role: str | None) -> None:
    assert extract_details(email(text, subject="Update")).role == role


def test_contact_name_from_reply_to_when_the_sender_is_a_team_box() -> None:
    raw = (
        b"From: Acme Recruiting <no-reply@us.greenhouse-mail.io>\r\n"
        b"Reply-To: Dana Whitfield <dana.whitfield@acme.example>\r\n"
        b"Subject: Your application to Acme\r\nMessage-ID: <x1@acme.example>\r\n\r\n"
        b"Hi Alex,\r\n\r\nWe have decided to move forward with another candidate.\r\n"
    )
    assert extract_details(parse(raw)).contact_name == "Dana"
