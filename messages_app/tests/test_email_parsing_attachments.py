"""The MIME walk keeps everything: every part that is not the body is an attachment, and
text is never lost (API.md, "Messages")."""

from email.message import EmailMessage

import pytest

from messages_app.parsing.html import rewrite_cid_urls
from messages_app.parsing.mime import parse_field_email, parse_raw_email
from messages_app.parsing.text import InvalidRawError, clean_filename, decode_raw


def mail(body: str = "Hello.") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Jane <jane@example.com>"
    message["To"] = "support@example.com"
    message["Subject"] = "Files"
    message.set_content(body)
    return message


def listed(email) -> list[tuple]:
    return [(a.filename, a.content_type, a.size, a.omitted) for a in email.attachments]


def test_an_attached_message_is_one_eml_attachment_and_its_text_is_in_the_body():
    inner = mail("The original complaint about the VPN.")
    inner.replace_header("Subject", "VPN down")
    inner.add_attachment(b"inner file", "application", "octet-stream", filename="inner.bin")
    outer = mail("See the forwarded mail.")
    outer.add_attachment(inner)

    email = parse_raw_email(bytes(outer))

    assert [(a.filename, a.content_type) for a in email.attachments] == [
        ("VPN down.eml", "message/rfc822")
    ]
    eml = email.attachments[0].data
    assert b"Subject: VPN down" in eml
    assert b"inner.bin" in eml
    assert email.body.startswith("See the forwarded mail.")
    assert "Subject: VPN down" in email.body
    assert "The original complaint about the VPN." in email.body
    assert email.reply == "See the forwarded mail."


def test_a_text_part_with_a_file_name_is_an_attachment_and_the_body_when_there_is_no_other():
    message = EmailMessage()
    message["From"] = "jane@example.com"
    message["Subject"] = "log"
    message.add_attachment("ERROR disk full\nERROR retry", filename="app.log")

    email = parse_raw_email(bytes(message))

    assert listed(email) == [("app.log", "text/plain", 28, None)]
    assert email.body == "ERROR disk full\nERROR retry"


def test_a_text_attachment_beside_a_body_stays_out_of_the_body():
    message = mail("Please look at the log.")
    message.add_attachment("ERROR disk full", filename="app.log")

    email = parse_raw_email(bytes(message))

    assert email.body == "Please look at the log."
    assert listed(email) == [("app.log", "text/plain", 16, None)]


def test_a_multipart_without_a_boundary_keeps_its_text_in_the_body():
    raw = (
        b"From: jane@example.com\r\nSubject: broken\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed\r\n\r\nThe printer is on fire.\r\n"
    )

    email = parse_raw_email(raw)

    assert email.body == "The printer is on fire."
    assert email.attachments == []


def test_a_multipart_without_a_declared_boundary_is_read_with_the_one_it_uses():
    raw = (
        b"From: jane@example.com\r\nSubject: broken\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed\r\n\r\n"
        b"--XYZ\r\nContent-Type: text/plain\r\n\r\nThe text.\r\n"
        b"--XYZ\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; "
        b'filename="a.pdf"\r\n\r\n%PDF-1.4\r\n--XYZ--\r\n'
    )

    email = parse_raw_email(raw)

    assert email.body == "The text."
    assert [a.filename for a in email.attachments] == ["a.pdf"]


def test_multipart_containers_are_never_attachments_and_parts_keep_document_order():
    message = mail("Body.")
    message.add_alternative("<p>Body.</p>", "html")
    message.add_attachment(b"1", "application", "octet-stream", filename="one.bin")
    message.add_attachment(b"22", "image", "png", filename="two.png")
    message.add_attachment(b"333", "application", "zip", filename="three.zip")

    email = parse_raw_email(bytes(message))

    assert [a.filename for a in email.attachments] == ["one.bin", "two.png", "three.zip"]
    assert not any(a.content_type.startswith("multipart/") for a in email.attachments)
    assert email.html == "<p>Body.</p>"


def test_inline_text_split_around_an_image_is_all_in_the_body():
    raw = (
        b"From: jane@example.com\r\nSubject: apple\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\n\r\nFirst half.\r\n"
        b"--B\r\nContent-Type: image/png\r\nContent-Disposition: inline; filename=a.png\r\n"
        b"Content-ID: <a@x>\r\n\r\nPNG\r\n"
        b"--B\r\nContent-Type: text/plain\r\n\r\nSecond half.\r\n--B--\r\n"
    )

    email = parse_raw_email(raw)

    assert email.body == "First half.\n\nSecond half."
    assert [(a.filename, a.inline, a.content_id) for a in email.attachments] == [
        ("a.png", True, "a@x")
    ]


@pytest.mark.parametrize(
    ("disposition", "name"),
    [
        ("attachment; filename*=utf-8''%D0%BE%D1%82%D1%87%D1%91%D1%82.pdf", "отчёт.pdf"),
        (
            "attachment; filename*0*=utf-8''%D0%BE%D1%82; filename*1*=%D1%87%D1%91%D1%82.pdf",
            "отчёт.pdf",
        ),
        ('attachment; filename="=?UTF-8?B?0L7RgtGH0ZHRgi5wZGY=?="', "отчёт.pdf"),
        ('attachment; filename="=?koi8-r?Q?=CF=D4=DE=A3=D4?=.pdf"', "отчёт.pdf"),
        ('attachment; filename="..\\\\..\\\\windows\\\\evil.exe"', "evil.exe"),
        ('attachment; filename="/etc/passwd"', "passwd"),
        ('attachment; filename="a\tb\x7f.txt"', "ab.txt"),
        ('attachment; filename="\u202egnp.exe"', "gnp.exe"),
        ('attachment; filename=".."', "attachment-1.pdf"),
    ],
)
def test_file_names_are_decoded_and_stripped_of_paths_and_control_characters(disposition, name):
    raw = (
        "From: jane@example.com\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nHi\r\n"
        f"--B\r\nContent-Type: application/pdf\r\nContent-Disposition: {disposition}\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n--B--\r\n"
    ).encode()

    email = parse_raw_email(raw)

    assert [a.filename for a in email.attachments] == [name]


def test_long_file_names_keep_their_extension():
    assert clean_filename("a" * 400 + ".pdf") == "a" * 251 + ".pdf"


def test_files_over_the_size_limit_and_past_the_count_are_listed_as_omitted():
    message = mail()
    message.add_attachment(b"x" * 11, "application", "octet-stream", filename="big.bin")
    for number in range(3):
        message.add_attachment(b"ok", "application", "octet-stream", filename=f"{number}.bin")

    email = parse_raw_email(bytes(message), max_attachment_bytes=10, max_attachments=2)

    assert listed(email) == [
        ("big.bin", "application/octet-stream", 11, "too_large"),
        ("0.bin", "application/octet-stream", 2, None),
        ("1.bin", "application/octet-stream", 2, None),
        ("2.bin", "application/octet-stream", 2, "too_many"),
    ]
    assert [a.data for a in email.attachments] == [None, b"ok", b"ok", None]


def test_inline_images_keep_cid_references_until_they_are_rewritten():
    message = mail("see picture")
    message.add_alternative('<p>Look:</p><img src="cid:pic%401@x">', "html")
    message.get_payload()[1].add_related(b"PNG", "image", "png", cid="<pic@1@x>")

    email = parse_raw_email(bytes(message))

    assert email.attachments[0].inline
    assert email.attachments[0].filename == "attachment-1.png"
    assert 'src="cid:pic%401@x"' in email.html
    rewritten = rewrite_cid_urls(
        email.html, {"pic@1@x": "/api/v1/attachments/7/?disposition=inline"}
    )
    assert 'src="/api/v1/attachments/7/?disposition=inline"' in rewritten
    assert rewrite_cid_urls(email.html, {"other@x": "/nope"}) == email.html


def test_field_form_lists_the_files_the_forwarder_left_out():
    email = parse_field_email(
        user_email="jane@example.com",
        description="Too big to forward.",
        attachments_omitted=[
            {"filename": "C:\\scans\\scan.tiff", "content_type": "Image/TIFF", "size": 41_000_000},
            {"filename": "", "content_type": "", "size": 0},
        ],
    )

    assert listed(email) == [
        ("scan.tiff", "image/tiff", 41_000_000, "not_forwarded"),
        ("attachment-2", "application/octet-stream", 0, "not_forwarded"),
    ]


@pytest.mark.parametrize(
    ("text", "data"),
    [
        ("SGVsbG8=", b"Hello"),
        ("SGVs\r\nbG8=", b"Hello"),
        ("SGVsbG8", b"Hello"),
        ("SGVsbG8===", b"Hello"),
        ("-_-_", bytes.fromhex("fbffbf")),
        (" SGVsbG8= \n", b"Hello"),
    ],
)
def test_raw_base64_is_decoded_with_either_alphabet_and_any_padding(text, data):
    assert decode_raw(text) == data


@pytest.mark.parametrize("text", ["", "  \n", "SGVs*G8=", "SG=VsbG8=", "SGVsbG8=x", "Q", "Ы"])
def test_raw_that_is_not_base64_of_a_message_is_refused(text):
    with pytest.raises(InvalidRawError):
        decode_raw(text)
