# ruff: noqa: RUF001 (quote headers in Cyrillic and other scripts are the point of these tests)
"""Reply extraction: one test per rule of messages_app.parsing.replies, on its fixtures."""

from pathlib import Path

import pytest

from messages_app.parsing.mime import parse_raw_email
from messages_app.parsing.replies import extract_reply, split_reply

EMAILS = Path(__file__).parent / "emails" / "replies"


def parse(name: str):
    return parse_raw_email((EMAILS / name).read_bytes())


def whole_reply(name: str) -> str:
    """The reply of a fixture whose reply must be its whole body."""
    email = parse(name)
    assert email.reply == email.body
    return email.reply


# --- quotes and what is below them -------------------------------------------------


def test_bottom_posted_answer_is_kept_with_the_greeting_above_the_quote():
    email = parse("reply_bottom_posted.eml")
    assert email.reply == (
        "Hi,\n\nTray 2 jams, every time I print more than three pages.\n"
        'The display says "Paper jam".'
    )


def test_a_quote_whose_header_is_the_first_line_is_dropped_and_the_answer_below_kept():
    assert (
        parse("reply_bottom_posted_header_first.eml").reply == "Only at home, never in the office."
    )


def test_interleaved_answers_keep_the_question_between_them():
    assert parse("reply_interleaved.eml").reply == (
        "A ThinkPad T14.\n\n> Since when does it fail to boot?\n\nSince Friday's update."
    )


def test_a_forward_keeps_the_forwarded_text():
    assert "The licence renews on 1 December." in whole_reply("forward_without_comment.eml")


def test_text_above_a_forward_keeps_the_forward_too():
    text = "FYI, see below.\n\n---------- Forwarded message ---------\nFrom: a@example.com\n\nOld."
    assert extract_reply(text) == text


# --- quote headers -----------------------------------------------------------------


def test_a_wrapped_quote_header_is_dropped_whole():
    assert parse("wrapped_quote_header.eml").reply == "It works again after the reboot."


def test_text_before_a_quote_header_on_the_same_line_is_kept():
    assert parse("header_after_text_on_one_line.eml").reply == "Fixed, thanks."


def test_ukrainian_gmail_quote_header():
    assert parse("reply_ukrainian.eml").reply == "Доброго дня!\n\nПринтер знову працює."


@pytest.mark.parametrize(
    "header",
    [
        "Op 17-feb.-2026, om 13:18 heeft Jan de Vries <jan@example.nl> het volgende geschreven:",
        "Op 13-02-2026 3:18 schreef Jan de Vries <jan@example.nl>:",
        "Den 14 september 2026 kl. 23:24 skrev Anna Svensson <anna@example.se>:",
        "ons 4 dec. 2026 kl. 20:42 skrev Anna Svensson <anna@example.se>:",
        "På 14 september 2026 på 02:23:18, Ola Nordmann (ola@example.no) skrev:",
        "Den 24. nov. 2026 kl. 10.00 skrev Peter Petersen <peter@example.dk>:",
        "W dniu 28 stycznia 2026 01:53 użytkownik Zofia Nowak <zofia@example.pl>\nnapisał:",
        "Dnia 28 lutego 2026 14:00 Anna Nowak <anna@example.pl> napisał(a):",
        "Vào 14:24 8 tháng 6, 2026, Hùng Nguyễn <hung@example.vn> đã viết:",
        "Am 18.03.2026 um 10:00 schrieb Jana Müller <jana@example.de>:",
        "Am So., 1. Jan. 2026 um 17:22 Uhr schrieb Jana Müller <\njana@example.de>:",
        "Le 23 janv. 2026 à 22:03, Brendan Martin <brendan@example.fr> a écrit :",
        "El 5 mar 2026, a las 10:00, Juan Pérez <juan@example.es> escribió:",
        "Il giorno 5 mar 2026, alle ore 10:00, Mario Rossi <mario@example.it> ha scritto:",
        "Em 5 de mar. de 2026, às 10:00, João Silva <joao@example.pt> escreveu:",
        "пн, 16 лист. 2026 р. о 10:15 Іван Коваль <ivan@example.ua> пише:",
        "16.11.2026 18:02, Service Desk пишет:",
        "20 нояб. 2026 г., в 10:15, Jane <jane@example.com> написал(а):",
        "2026/4/7 Jane Doe <jane@example.com>",
        "2026-10-17 11:28 GMT+03:00 Service Desk <\nsupport@example.com>:",
        "2026年1月1日(金) 9:00 田中太郎 <taro.tanaka@example.com>:",
        "2026/10/16 17:02、Jane Doe <jane@example.jp> のメール：",
        "Jane Doe <jane@example.fi> kirjoitti 16.10.2026 kello 17.02:",
        "W dniu 16.10.2026 17:02, Jane Doe pisze:",
        "在 2026年10月16日，17:02，Jane Doe <jane@example.cn> 写道：",
        "2026년 10월 16일 오후 5:02, Jane Doe <jane@example.kr>님이 작성:",
        "Στις 16/10/2026 5:02 μ.μ., ο/η Jane Doe <jane@example.gr> έγραψε:",
        "16 Eki 2026 tarihinde 17:02 saatinde, Jane Doe <jane@example.tr> şunu yazdı:",
        "2026. október 16. 17:02 Jane Doe <jane@example.hu> írta:",
        "---- Jane Doe wrote ----",
        "On Mon, Jan 5, 2026 at 10:00 AM Jane Doe <jane@example.com> sent:",
        "------On 12/29/2026 17:32 PM, Julius Caesar wrote-----",
    ],
)
def test_quote_headers_in_many_languages_and_forms(header):
    reply = extract_reply(f"Neue Antwort.\n\n{header}\n\n> die alte Nachricht\n> zweite Zeile\n")
    assert reply == "Neue Antwort."


@pytest.mark.parametrize(
    "block",
    [
        "Von: Service Desk <support@example.com>\nGesendet: Dienstag, 25. November 2026 14:59\n"
        "An: Jana\nBetreff: Drucker",
        "De : Service Desk [mailto:support@example.com]\nEnvoyé : vendredi 23 janvier 2026 16:39\n"
        "À : Camille\nObjet : Imprimante",
        "Fra: Service Desk <support@example.com>\nSendt: 24. november 2026 09:30\nTil: Søren\n"
        "Emne: Printer",
        "Från: Service Desk <support@example.com>\nSkickat: den 26 augusti 2026 14:45\nTill: Leif\n"
        "Ämne: Skrivare",
        "Van: Service Desk <support@example.com>\nVerzonden: donderdag 9 februari 2026 13:36\n"
        "Aan: Jan\nOnderwerp: Printer",
        "Od: Service Desk <support@example.com>\nWysłano: środa, 1 marca 2026 12:00\nDo: Jan\n"
        "Temat: Drukarka",
        "Від: Service Desk <support@example.com>\nНадіслано: 16 листопада 2026 р. 17:40\n"
        "Кому: Іван\nТема: Принтер",
        "Date: Wed, 16 May 2026 00:15:02 -0600\nTo: jane@example.com",
    ],
)
def test_header_blocks_over_unquoted_history_end_the_reply(block):
    reply = extract_reply(f"New answer.\n\n{block}\n\nThe old message, not quoted.\n")
    assert reply == "New answer."


def test_a_header_block_at_the_top_is_the_mail_itself():
    text = "From: Jan <jan@example.pl>\nSent: 1 March 2026\nSubject: Test\n\nThe printer is fine."
    assert extract_reply(text) == text


# --- separators and lines of dashes ------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reply"),
    [
        ("separator_original_message.eml", "The VPN works again, thank you."),
        ("separator_underscores.eml", "The share opens now."),
        ("separator_dashes_outlook_mobile.eml", "Badge works on the front door."),
    ],
)
def test_separator_lines_do_not_stay_at_the_end_of_the_reply(name, reply):
    assert parse(name).reply == reply


def test_a_forward_of_quoted_text_alone_keeps_the_quoted_text():
    text = "-------- Forwarded message --------\n> old\n> older"
    assert extract_reply(text) == text


def test_a_forward_marker_over_a_quote_does_not_stay_at_the_end():
    text = "New text.\n\n-------- Forwarded message --------\n> old\n> older\n"
    assert extract_reply(text) == "New text."


def test_a_line_of_dashes_inside_the_text_is_kept_verbatim():
    reply = whole_reply("dash_line_in_text.eml")
    assert "------------------------------------- Enter Feedback Below ---" in reply
    assert "fast.   The docking" in reply


# --- signatures and sign-offs ------------------------------------------------------


def test_sentences_that_start_like_sign_offs_are_kept():
    reply = whole_reply("not_a_sign_off.eml")
    assert "Thanks, but the printer still leaves" in reply
    assert reply.endswith("Sent from my desk, because the printer next to it is the broken one.")


def test_a_sign_off_block_at_the_end_is_cut():
    assert parse("sign_off_block.eml").reply == "Hej,\n\nKortet virker nu. Tak for hjælpen."


def test_a_valediction_alone_on_its_line_is_kept():
    assert extract_reply("It works.\n\nRegards, Roman") == "It works.\n\nRegards, Roman"


def test_thanks_alone_at_the_end_is_kept():
    assert extract_reply("It works now.\n\nThanks!") == "It works now.\n\nThanks!"


@pytest.mark.parametrize(
    "signature",
    ["-- \nJane Doe\nIT", "Sent from my iPhone", "Get Outlook for iOS", "-Jane", "/Jane"],
)
def test_signatures_at_the_end_are_cut(signature):
    assert extract_reply(f"The badge works.\n\n{signature}") == "The badge works."


def test_a_double_dash_inside_a_line_is_not_a_signature():
    text = "Here is a fix -- this is not a signature.\n\nkthxbai"
    assert extract_reply(text) == text


def test_a_mailing_list_footer_is_cut():
    assert parse("mailing_list_footer.eml").reply == (
        "Hi folks\n\nWhat is the best way to clear a bucket after a test?"
    )


# --- whole-text fallbacks ----------------------------------------------------------


def test_a_mail_that_is_all_quote_keeps_its_text():
    assert split_reply("> only quoted\n> lines") == "> only quoted\n> lines"


def test_kept_lines_are_never_rewritten():
    text = (
        "Line  with   spaces\t and tabs.\n   - indented bullet\n\n"
        "On Mon, Jan 5, 2026 at 10:00 AM Jane <j@example.com> wrote:\n> old"
    )
    assert extract_reply(text) == "Line  with   spaces\t and tabs.\n   - indented bullet"


# --- HTML mail, split on its own structure -----------------------------------------


def test_gmail_html_attribution_in_an_unknown_language_goes_with_its_quote():
    email = parse("gmail_html_reply_indonesian.eml")
    assert email.reply == "Terima kasih, printer sudah jalan lagi."
    assert "> Silakan nyalakan ulang printer." in email.body


def test_outlook_web_reply_header_and_all_below_it_are_the_quote():
    email = parse("outlook_web_reply_html_indonesian.eml")
    assert email.reply == "Sudah beres, terima kasih."
    assert "> Dari: Service Desk <support@example.com>" in email.body
    assert "> Silakan nyalakan ulang printer." in email.body


def test_gmail_html_forward_keeps_the_forwarded_text():
    assert "Your invoice is attached." in whole_reply("gmail_html_forward.eml")


@pytest.mark.parametrize("name", sorted(path.name for path in EMAILS.glob("*.eml")))
def test_every_reply_is_unchanged_lines_of_its_body(name):
    email = parse(name)
    assert email.reply
    for line in email.reply.split("\n"):
        assert line in email.body


def test_a_long_mail_without_quotes_is_its_own_reply():
    text = "\n".join(f"Line {n} of a long log." for n in range(10_000))
    assert split_reply(text) == text


def test_a_long_mail_is_cut_at_its_quote_header():
    text = "Long log below.\n" + "log line\n" * 1_000 + "On Mon, Jan 5, 2026 Jane wrote:\n> old"
    assert split_reply(text + "\n" + "> more\n" * 10_000) == text.split("\nOn Mon")[0]


@pytest.mark.parametrize("blank_lines", [0, 1, 2, 3])
def test_an_answer_under_a_quote_is_kept_however_many_blank_lines_follow_its_header(
    blank_lines,
):
    header = "On Mon, Nov 16, 2026 at 10:15 AM Jane <j@x.com> wrote:"
    text = f"Top.\n\n{header}\n" + "\n" * blank_lines + "> old\n\nAnswer below."
    assert extract_reply(text) == "Top.\n\nAnswer below."
