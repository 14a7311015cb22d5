"""Notices rendered once per batch (drafts filled per request) are the notices rendered one
by one, byte for byte."""

import hypothesis
import pytest
from django.template import engines
from hypothesis import strategies as st

from messages_app.outbound.drafts import fill, placeholder, uses_plainly
from messages_app.outbound.notices import Notice, render_notice, render_notices
from operators_app.tests.factories import OperatorFactory
from requests_app.tests.factories import SupportRequestFactory

AWKWARD = [
    "",
    "Printer is broken",
    "A & B <b>bold</b> \"quoted\" 'single'",
    "Re: [#3] Fwd: the old one [#4]",
    "Нет доступа к общей папке",
    "tab\there\r\nBcc: x@example.org",
    "%(subject)s {token} \ue000subject&\ue001",
    "0",
    " ",
]


def request_of(pk: int, subject: str, name: str, operator_name: str | None):
    operator = None if operator_name is None else OperatorFactory.build(name=operator_name)
    return SupportRequestFactory.build(
        pk=pk, subject=subject, requester_name=name, operator=operator
    )


def assert_same_as_one_by_one(requests, notice):
    one_by_one = [render_notice(support_request=r, notice=notice) for r in requests]
    assert render_notices(support_requests=requests, notice=notice) == one_by_one


@pytest.mark.parametrize("language", ["en", "ru"])
@pytest.mark.parametrize("notice", list(Notice))
def test_a_batch_of_notices_is_the_notices_one_by_one(settings, language, notice):
    settings.LANGUAGE_CODE = language
    requests = [
        request_of(pk, subject, name, operator)
        for pk, (subject, name, operator) in enumerate(
            [
                (subject, name, operator)
                for subject in AWKWARD
                for name in ("", "Jane Doe", "O'Brien & <Co>")
                for operator in (None, "Alice & Bob", "")
            ],
            start=1,
        )
    ]

    assert_same_as_one_by_one(requests, notice)


@hypothesis.settings(max_examples=60, deadline=None, database=None, derandomize=True)
@hypothesis.given(
    notice=st.sampled_from(list(Notice)),
    values=st.lists(
        st.tuples(st.text(max_size=12), st.text(max_size=8), st.none() | st.text(max_size=6)),
        min_size=1,
        max_size=4,
    ),
)
def test_any_values_give_the_notices_one_by_one(notice, values):
    requests = [request_of(pk, *row) for pk, row in enumerate(values, start=7)]

    assert_same_as_one_by_one(requests, notice)


def test_an_edited_template_that_does_more_than_print_is_rendered_per_request(settings, tmp_path):
    folder = tmp_path / "messages_app" / "notices"
    folder.mkdir(parents=True)
    (folder / "acknowledgement_subject.txt").write_text(
        "{{ subject|upper }} {{ support_request.pk }}"
    )
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path]}]
    requests = [request_of(5, "printer", "Jane", None), request_of(6, "scanner", "Joe", None)]

    subjects = [
        s for s, _, _ in render_notices(support_requests=requests, notice="acknowledgement")
    ]

    assert subjects == ["PRINTER 5 [#5]", "SCANNER 6 [#6]"]
    assert_same_as_one_by_one(requests, Notice.ACKNOWLEDGEMENT)


@pytest.mark.parametrize(
    ("source", "plain"),
    [
        ("{{ subject }} {% if subject %}x{% else %}y{% endif %}", True),
        ("{% autoescape off %}{{ subject }}{% endautoescape %}", True),
        (
            "{% load i18n %}{% translate 'none' as none %}"
            "{% blocktranslate with s=subject|default:none %}{{ s }}{% endblocktranslate %}",
            True,
        ),
        ("{{ subject|upper }}", False),
        ("{{ subject.0 }}", False),
        ("{{ support_request.pk }}", False),
        ("{{ unknown }}", False),
        ('{% if subject == "x" %}x{% endif %}', False),
        ('{% now "Y" %}', False),
        ("{% for c in subject %}{{ c }}{% endfor %}", False),
        (
            "{% load i18n %}{% blocktranslate with s=subject|lower %}"
            "{{ s }}{% endblocktranslate %}",
            False,
        ),
        ("{% load i18n %}{% blocktranslate %}{{ support_request }}{% endblocktranslate %}", False),
    ],
)
def test_only_plain_uses_of_the_values_are_drafted(source, plain):
    template = engines["django"].engine.from_string(source)

    assert uses_plainly(template, ["subject"]) is plain


def test_a_draft_is_filled_escaped_where_the_template_escapes():
    engine = engines["django"]
    template = engine.from_string(
        "<b>{{ subject }}</b> {% autoescape off %}{{ subject }}{% endautoescape %}"
    )
    draft = template.render({"subject": placeholder("subject")})

    assert fill(draft, {"subject": "A & <B>"}) == template.render({"subject": "A & <B>"})
    assert fill(draft, {"subject": "A & <B>"}) == "<b>A &amp; &lt;B&gt;</b> A & <B>"
