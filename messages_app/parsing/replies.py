# ruff: noqa: RUF001, RUF003 (quote headers and sign-offs in Cyrillic and other scripts)
"""The new words of a mail: its text without quoted history, signature or list footer.

Pure functions, no Django. The text is cut into lines and every line is marked:

* `e` empty, `m` quoted (`>`), `t` text,
* `s` a quote header ("On ... wrote:", an Outlook "From:/Sent:" block, "-----Original
  Message-----", or a separator rule directly above one of those),
* `f` a forward marker ("---------- Forwarded message ---------").

Then a few rules, each named below, choose the lines to keep. Kept lines are never
changed: the reply is made of verbatim slices of the text, so it can never hold a word
the text lacks. When a rule is unsure it keeps the text: a quote left in costs the
operator a scroll, a lost answer costs the requester.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Lines looked at; a reply's new words are at its top (or right under a short quote).
MAX_LINES = 3000
# A quote header is read over at most this many lines (clients wrap long ones).
HEADER_MAX_LINES = 4
HEADER_MAX_CHARS = 400
# A signature after "-- " or a sign-off is a short block; a longer one is kept.
SIGNATURE_MAX_LINES = 8
SIGN_OFF_MAX_LINES = 4
# Lines dropped from the end at most; past that the rest is kept (it is not a signature).
MAX_TAIL_DROPS = 100

# "wrote" in the languages mail clients write quote headers in.
_WROTE = (
    r"wrote|a\s+écrit|écrit|schrieb|geschrieben|geschreven|schreef|verzond|skrev|kirjoitti"
    r"|napisał(?:\(a\))?|napisała|napisal|escribió|escreveu|ha\s+scritto|scrisse|đã\s+viết"
    r"|napsal(?:\(a\))?|írta|yazdı|пишет|писал[аи]?|написал(?:\(а\)|а|и)?|пише|писав"
    r"|написав(?:\(ла\)|ла)?|pisze|pisał(?:\(a\))?|έγραψε|写道|寫道|작성|のメール"
)
# Words that open a quote header ("On <date>, <name> wrote:") in those languages.
_ON = (
    r"On|Le|Am|Op|På|Den|W\s+dniu|Dnia|El|Il(?:\s+giorno)?|Em|Vào|Dne|В|У|Kiedy"
    r"|Le\s+\w+\s+\d|\d"
)
_EMAIL = r"[^\s<>()\"']+@[^\s<>()\"']+"
_DATE = r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}|\d{1,2}:\d{2}|\b\d{4}\b"

# "On Tue, Apr 29, 2014 at 4:22 PM, Jane <jane@example.com> wrote:", in many languages,
# also framed in dashes ("------On 12/29/1987, Julius wrote-----").
_WROTE_HEADER = re.compile(
    rf"^[\s>*-]*(?:(?:{_ON})\b.*|.*(?:{_DATE}|@).*)\b(?:{_WROTE})\s*[:：][\s*-]*$"
    rf"|^[\s>]*-+\s*(?:(?:{_ON})\b.*|.*(?:{_DATE}|@).*)\b(?:{_WROTE})\s*-+\s*$",
    re.IGNORECASE,
)
# "Am 1. Jan. 2023 um 17:22 schrieb John <john@example.com>:", "ons 4 dec. 2024 kl. 20:42
# skrev Person <p@example.com>:", "John <john@example.com> kirjoitti 16.10.2023 kello
# 17.02:": a date, an address and the verb in any order.
_WROTE_NAME_HEADER = re.compile(
    rf"^(?=.*(?:{_DATE}))(?=.*@)(?=.*\b(?:{_WROTE})).*[:：]\s*$",
    re.IGNORECASE,
)
# "On <date>, <name> sent:" (talon's form).
_SENT_HEADER = re.compile(rf"^[\s>*-]*On\s.*(?:{_DATE}).*\bsent\s*:\s*$", re.IGNORECASE)
# "---- Jane Doe wrote ----" (Android).
_ANDROID_HEADER = re.compile(rf"^[\s>]*-{{2,}}\s*\S.{{0,150}}\b(?:{_WROTE})\s*-{{2,}}\s*$", re.I)
# Gmail's date-first forms: "2011/4/7 Jane <jane@example.com>",
# "пн, 16 нояб. 2026 г. в 12:15, Jane <jane@example.com>:",
# "2022年1月1日(金) 9:00 田中太郎 <taro@example.com>:".
_DATE_ADDRESS_HEADER = re.compile(
    rf"^\s*\d{{2,4}}[/.-]\d{{1,2}}[/.-]\d{{1,4}}\b.*<\s*{_EMAIL}\s*>(?:.{{0,30}}[:：])?\s*$"
    rf"|^.*(?:{_DATE}).*[<(]\s*(?:mailto:)?{_EMAIL}\s*[>)]+\s*[:：]\s*$",
    re.IGNORECASE,
)
# Separator lines of Outlook and others: "-----Original Message-----" in many languages.
_ORIGINAL_MESSAGE = re.compile(
    r"^[\s>]*-{2,}\s*(?:Original\s+Message|Reply\s+Message|Ursprüngliche\s+Nachricht"
    r"|Antwort\s+Nachricht|Originalnachricht|Oprindelig\s+meddelelse|Originalmeddelelse"
    r"|Oorspronkelijk\s+bericht|Origineel\s+bericht|Message\s+d'origine|Mensaje\s+original"
    r"|Messaggio\s+originale|Mensagem\s+original|Ursprungligt\s+meddelande"
    r"|Opprinnelig\s+melding|Alkuperäinen\s+viesti|Wiadomość\s+oryginalna|Oryginalna\s+wiadomość"
    r"|Původní\s+zpráva|Исходное\s+сообщение|Оригинальное\s+сообщение"
    r"|Оригінальне\s+повідомлення|Вихідне\s+повідомлення|Thư\s+gốc)\s*-*\s*$",
    re.IGNORECASE,
)
# Forward markers: the text under them is the forwarded mail, kept.
_FORWARD = re.compile(
    r"^\s*-{2,}\s*(?:Forwarded\s+message|Weitergeleitete\s+Nachricht|Message\s+transféré"
    r"|Mensaje\s+reenviado|Messaggio\s+inoltrato|Mensagem\s+encaminhada|Doorgestuurd\s+bericht"
    r"|Videresendt\s+meddelelse|Videresendt\s+melding|Vidarebefordrat\s+meddelande"
    r"|Wiadomość\s+przekazana(?:\s+dalej)?|Пересылаемое\s+сообщение|Переслане\s+повідомлення"
    r"|Пересланное\s+сообщение|Перенаправленное\s+сообщение)\s*-{2,}\s*$"
    r"|^\s*(?:Begin\s+forwarded\s+message|Anfang\s+der\s+weitergeleiteten\s+Nachricht"
    r"|Début\s+du\s+message\s+réexpédié|Начало\s+переадресованного\s+сообщения)\s*:\s*$",
    re.IGNORECASE,
)
# Field labels of a quoted message's header block (Outlook, Apple Mail, forwards).
_FIRST_LABELS = (
    r"From|Van|De|Von|Fra|Från|Od|Da|Kimden|Feladó|Lähettäjä|Từ|От|Від|Date|Datum|Sent|Sendt"
    r"|Skickat|Gesendet|Envoyé|Enviado|Verzonden|Wysłano|Inviato|Отправлено|Дата|Надіслано"
)
_LABELS = (
    _FIRST_LABELS + r"|To|Cc|Subject|Reply-To|Aan|Onderwerp|An|Betreff|Cc|À|A|Objet|Para"
    r"|Asunto|Fecha|Til|Emne|Till|Ämne|Do|Temat|Data|Oggetto|Enviada|Assunto|Kime|Konu"
    r"|Komu|Předmět|Odesláno|Vastaanottaja|Aihe|Đến|Chủ\s+đề|Ngày|Кому|Тема|Копия|Копія"
    r"|Kopia|Kopie|Kopi|Kopio"
)
_FIRST_FIELD = re.compile(rf"^[\s>]*[*_]*(?:{_FIRST_LABELS})[*_]*\s?:[*_]*(?:\s|$)", re.I)
_FIELD = re.compile(rf"^[\s>]*[*_]*(?:{_LABELS})[*_]*\s?:[*_]*(?:\s|$)", re.IGNORECASE)
# A rule: a line of dashes, underscores or equals signs only.
_RULE = re.compile(r"^\s*(?:[-_=]\s?){5,}\s*$")
_QUOTED = re.compile(r"^\s*>")
_WORD = re.compile(r"\w")
# "reply On Wed, Apr 4, 2012 at 3:59 PM, bob@example.com wrote:": a header after text.
_INLINE_HEADER = re.compile(
    rf"(?<=[^\s-])(?=(?:[ \t]+|-+[ \t]*)(?:On|Le|Am|Op|El|Il|Em|Den|På)[ \t].*(?:{_DATE}).*"
    rf"\b(?:{_WROTE})[ \t]*:[ \t]*-*[ \t]*$)"
)

# Signatures: "-- " and its variants, and the phone and mail apps' lines.
_SIGNATURE_DELIMITER = re.compile(r"^(?:--|—|__)\s*$")
_MOBILE_SIGNATURE = re.compile(
    r"^\s*(?:Sent\s+from\s+(?:my\s+)?[\w.'-]+(?:\s+[\w.'-]+){0,4}"
    r"|Sent\s+from\s+(?:Mail|Yahoo\s+Mail|Outlook)\s+for\s+[\w\s]{1,30}"
    r"|Sent\s+(?:from|with|via)\s+[\w.'-]+(?:\s+[\w.'-]+){0,4}\s+(?:app|mobile)"
    r"|Get\s+Outlook\s+for\s+\S.*"
    r"|Envoyé\s+de\s+mon\s+[\w\s]{1,30}|Von\s+meinem\s+[\w\s]{1,30}\s+gesendet"
    r"|Enviado\s+(?:desde|de)\s+mi\s+[\w\s]{1,30}|Inviato\s+da\s+[\w\s]{1,30}"
    r"|Verzonden\s+(?:vanaf|met)\s+(?:mijn\s+)?[\w\s]{1,30}|Skickat\s+från\s+min\s+[\w\s]{1,30}"
    r"|Sendt\s+fra\s+min\s+[\w\s]{1,30}|Wysłane\s+z\s+(?:mojego\s+)?[\w\s]{1,30}"
    r"|Отправлено\s+(?:с|из)\s+[\w\s.]{1,40}|Надіслано\s+з\s+[\w\s.]{1,40})\s*$",
    re.IGNORECASE,
)
# Valedictions that open a sign-off block ("Regards,\nJane", "Kh\nPeter").
_VALEDICTIONS = (
    r"(?:best|kind|warm|with\s+kind)?\s*regards|best(?:\s+wishes)?|cheers|sincerely"
    r"|yours(?:\s+(?:truly|sincerely))?|all\s+the\s+best|br|mvh|med\s+venlig\s+hilsen"
    r"|venlig\s+hilsen|hilsen|kh|med\s+vennlig\s+hilsen|vennlig\s+hilsen"
    r"|med\s+vänlig(?:a)?\s+hälsning(?:ar)?|vänliga\s+hälsningar|hälsningar|pozdrawiam"
    r"|z\s+powa[żz]aniem|pozdrowienia|mit\s+freundlichen\s+grü(?:ß|ss)en"
    r"|freundliche\s+grü(?:ß|ss)e|viele\s+grü(?:ß|ss)e|beste\s+grü(?:ß|ss)e|lg|vg|gruß|grüße"
    r"|cordialement|bien\s+à\s+vous|bien\s+cordialement|salutations|saludos(?:\s+cordiales)?"
    r"|atentamente|un\s+saludo|cordiali\s+saluti|saluti|distinti\s+saluti|atenciosamente"
    r"|abraços|cumprimentos|met\s+vriendelijke\s+groet(?:en)?|vriendelijke\s+groet(?:en)?"
    r"|groeten|groetjes|trân\s+trọng|с\s+уважением|с\s+наилучшими\s+пожеланиями"
    r"|всего\s+доброго|з\s+повагою"
)
# Thanks sign off only with a name under them; alone they are part of the message.
_THANKS = r"thanks(?:\s+(?:again|a\s+lot))?|thank\s+you|many\s+thanks|спасибо|дякую|danke|merci"
# A name after the valediction on its line: capitalised words, not a sentence going on.
_SIGNED_NAME = (
    r"(?:\s*[,-]?\s*(?-i:[^\W\d_a-zа-яё][\w.'-]*)(?:\s+(?-i:[^\W\d_a-zа-яё][\w.'-]*)){0,2})?"
)
_VALEDICTION = re.compile(rf"^\s*(?:{_VALEDICTIONS})\s*[,.!]?{_SIGNED_NAME}\s*$", re.I)
_THANKS_LINE = re.compile(rf"^\s*(?:{_THANKS})\s*[,.!]?{_SIGNED_NAME}\s*$", re.I)
# A signed name alone: "-Abhishek Kona", "/John", "— Jane".
_DASHED_NAME = re.compile(r"^\s*(?:[-/~]|[—–]\s?)[^\W\d_][\w.'-]*(?:\s+[\w.'-]+){0,3}\s*$")
# A mailing-list footer under a rule: "riak-users mailing list" and its addresses.
_LIST_FOOTER = re.compile(r"\bmailing\s+list\b|\blistinfo\b|^\s*unsubscribe\b", re.I)


@dataclass
class _Line:
    start: int
    end: int
    text: str
    mark: str = "t"


def _lines(text: str) -> list[_Line]:
    """The lines of `text` as slices, a header that follows text on its line split off."""
    lines: list[_Line] = []
    position = 0
    for raw in text.split("\n"):
        start, end = position, position + len(raw)
        position = end + 1
        if len(lines) >= MAX_LINES:
            break
        inline = None
        if len(raw) <= HEADER_MAX_CHARS and raw.rstrip().endswith((":", "-")):
            inline = _INLINE_HEADER.search(raw)
        if inline and raw[: inline.start()].strip() and not _QUOTED.match(raw):
            lines.append(_Line(start, start + inline.start(), raw[: inline.start()]))
            lines.append(_Line(start + inline.end(), end, raw[inline.end() :]))
        else:
            lines.append(_Line(start, end, raw))
    return lines


def _is_wrote_header(window: str) -> bool:
    # Every form ends with ":", a dash frame or an address in angle brackets.
    if len(window) > HEADER_MAX_CHARS or window.rstrip()[-1:] not in (":", "-", ">", "："):
        return False
    return bool(
        _WROTE_HEADER.match(window)
        or _WROTE_NAME_HEADER.match(window)
        or _SENT_HEADER.match(window)
        or _ANDROID_HEADER.match(window)
        or _DATE_ADDRESS_HEADER.match(window)
    )


def _header_length(lines: list[_Line], index: int) -> int:
    """How many lines from `index` form a quote header, 0 when none starts there."""
    first = lines[index].text
    if _ORIGINAL_MESSAGE.match(first):
        return 1
    fields = _field_block_length(lines, index)
    if fields:
        return fields
    window = first.strip()
    if _is_wrote_header(window):
        return 1
    # A wrapped header: its first line carries the date, no line of it is empty.
    if not re.search(r"\d", first):
        return 0
    for extra in range(1, HEADER_MAX_LINES):
        if index + extra >= len(lines) or not lines[index + extra].text.strip():
            return 0
        window = f"{window} {lines[index + extra].text.strip()}"
        if _is_wrote_header(window):
            return extra + 1
    return 0


def _field_block_length(lines: list[_Line], index: int) -> int:
    """Lines of a "From: / Sent: / To: / Subject:" block starting at `index` (0: none)."""
    if not _FIRST_FIELD.match(lines[index].text):
        return 0
    fields, end = 1, index + 1
    # Up to 8 lines: fields and the continuation lines of wrapped values.
    while end < len(lines) and end - index < 8 and lines[end].text.strip():
        if _FIELD.match(lines[end].text):
            fields += 1
        elif fields == 1 and end - index > 2:
            break
        end += 1
    return end - index if fields >= 2 else 0


def _mark(lines: list[_Line]) -> None:
    """Set each line's mark (see the module docstring)."""
    index = 0
    while index < len(lines):
        line = lines[index]
        if not line.text.strip():
            line.mark = "e"
        elif _QUOTED.match(line.text):
            line.mark = "m"
        elif _FORWARD.match(line.text):
            line.mark = "f"
        else:
            length = _header_length(lines, index)
            for offset in range(length):
                lines[index + offset].mark = "s"
            index += max(length, 1)
            continue
        index += 1
    _mark_separator_rules(lines)


def _mark_separator_rules(lines: list[_Line]) -> None:
    """A rule line directly above a quote header is part of it ("____" over "From:")."""
    for index, line in enumerate(lines):
        if line.mark != "t" or not _RULE.match(line.text):
            continue
        after = index + 1
        while after < len(lines) and lines[after].mark == "e":
            after += 1
        if after < len(lines) and lines[after].mark in "sf":
            line.mark = "s"


def _next_content(lines: list[_Line], index: int) -> int:
    while index < len(lines) and lines[index].mark == "e":
        index += 1
    return index


def _choose(lines: list[_Line]) -> list[int]:
    """Indexes of the lines that are new text, in order."""
    marks = "".join(line.mark for line in lines)
    first_other = re.search(r"[msf]", marks)
    if first_other and marks[first_other.start()] == "f":
        # Rule `forward_keeps_forwarded_text`: a forward is all new to this conversation.
        return list(range(len(lines)))
    kept: list[int] = []
    seen_text = skipped_quote = answered_under_quote = False
    index = 0
    while index < len(lines):
        mark = lines[index].mark
        if mark in "tef":
            kept.append(index)
            if mark != "e":
                seen_text = True
            if _WORD.search(lines[index].text):
                answered_under_quote = answered_under_quote or skipped_quote
            index += 1
            continue
        end = index
        while end < len(lines) and lines[end].mark == mark:
            end += 1
        if mark == "s":
            after = _next_content(lines, end)
            if after < len(lines) and lines[after].mark == "m":
                # Rule `quote_header_and_quote_are_history`: skip both, text below is new.
                skipped_quote = True
                index = after
            elif not seen_text:
                # Rule `header_at_the_top_is_content`: nothing new above it, so this is a
                # pasted or forwarded mail, not history under a reply.
                for header_line in range(index, end):
                    lines[header_line].mark = "t"
                    kept.append(header_line)
                seen_text = True
                index = end
            else:
                # Rule `unquoted_history_ends_the_reply`: a header over unquoted text
                # (Outlook, Gmail's HTML) starts the history; all below is old.
                break
        else:  # a run of quoted lines
            while end < len(lines) and lines[end].mark in "me":
                end += 1
            # Rule `quote_between_answers_is_context`: once an answer was written under
            # a quote, a later quote followed by more answers is what they refer to.
            if answered_under_quote and "t" in marks[end:]:
                kept.extend(range(index, end))
            skipped_quote = True
            index = end
    return kept


def _trim_tail(lines: list[_Line], kept: list[int]) -> list[int]:
    """Drop what ends a reply but is not new: quotes, rules, signatures, sign-offs, footers."""
    for _ in range(MAX_TAIL_DROPS):
        before = len(kept)
        kept = _drop_trailing(lines, kept)
        if len(kept) == before:
            break
    return kept


def _content(lines: list[_Line], kept: list[int]) -> list[int]:
    """Positions in `kept` of the non-empty lines."""
    return [pos for pos, k in enumerate(kept) if lines[k].mark != "e"]


def _drop_trailing(lines: list[_Line], kept: list[int]) -> list[int]:
    content = _content(lines, kept)
    if len(content) <= 1:
        return kept
    last = content[-1]
    text = lines[kept[last]].text
    # Rules `trailing_quote_is_history`, `trailing_separator_is_history`: a quote, a
    # header or a forward marker with nothing new under it.
    if lines[kept[last]].mark in "msf" or _RULE.match(text):
        return kept[:last]
    # Rule `mobile_signature`: "Sent from my iPhone" as the last line.
    if _MOBILE_SIGNATURE.match(text):
        return kept[:last]
    # Rule `dashed_name_signs_off`: "-Abhishek Kona" as the last line.
    if _DASHED_NAME.match(text) and len(text.strip()) <= 40:
        return kept[:last]
    tail = content[-SIGNATURE_MAX_LINES - 1 :]
    # Rule `signature_delimiter`: "-- " on its own line and a short block under it.
    for pos in tail:
        if pos != content[0] and _SIGNATURE_DELIMITER.match(lines[kept[pos]].text):
            return kept[:pos]
    # Rule `list_footer`: a rule, then "<list> mailing list" and its addresses.
    for pos in content[-5:]:
        if pos != content[0] and _RULE.match(lines[kept[pos]].text):
            footer = "\n".join(lines[kept[p]].text for p in content if p > pos)
            if _LIST_FOOTER.search(footer):
                return kept[:pos]
    # Rule `sign_off_block`: a valediction over a few short lines (a name, a phone), at
    # the end.
    for pos in content[-SIGN_OFF_MAX_LINES - 1 :]:
        line = lines[kept[pos]].text
        strong = _VALEDICTION.match(line)
        if pos == content[0] or not (strong or _THANKS_LINE.match(line)):
            continue
        block = [lines[kept[p]].text.strip() for p in content if p > pos]
        if not block or (not strong and any(_VALEDICTION.match(line) for line in block)):
            # A valediction alone ("Regards, Roman") is kept: only a block signs off.
            continue
        if all(len(line) <= 50 and not line.endswith(("?", ":")) for line in block):
            return kept[:pos]
    return kept


def _join(text: str, lines: list[_Line], kept: list[int]) -> str:
    """The kept lines as verbatim slices of `text`; separate runs joined by a blank line."""
    runs: list[str] = []
    run_start = run_end = None
    previous = None
    for k in kept:
        line = lines[k]
        if previous is not None and k == previous + 1 and lines[previous].end <= line.start:
            run_end = line.end
        else:
            if run_start is not None:
                runs.append(text[run_start:run_end])
            run_start, run_end = line.start, line.end
        previous = k
    if run_start is not None:
        runs.append(text[run_start:run_end])
    return "\n\n".join(run.strip("\n").rstrip() for run in runs if run.strip()).strip()


def is_forward_marker(line: str) -> bool:
    """True for a line that opens a forwarded mail ("---------- Forwarded message ---")."""
    return bool(_FORWARD.match(line))


def extract_reply(text: str) -> str:
    """The new text of a mail (see the module docstring); `text` itself when all is quoted."""
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        return ""
    lines = _lines(text)
    _mark(lines)
    chosen = _choose(lines)
    kept = _trim_tail(lines, chosen)
    if not any(lines[k].mark == "t" and _WORD.search(lines[k].text) for k in kept):
        # Rule `keep_when_nothing_new_is_left`: a marker alone is no reply.
        kept = chosen
    reply = _join(text, lines, kept)
    if not reply or reply == text[: lines[-1].end].strip():
        # Nothing cut from what was looked at: the reply is the whole text.
        return text.strip()
    return reply


# The new text of a reply is at its top, so a long tail adds cost and nothing else: the
# rules look at this many characters at most.
MAX_REPLY_SCAN = 50_000


def split_reply(text: str) -> str:
    """The new text of a mail without quoted history and signature; the text itself if none.

    Line ends are normalised first; the reply is made of verbatim slices of the text, so
    it never holds a word the body lacks.
    """
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        return ""
    if len(text) <= MAX_REPLY_SCAN:
        return extract_reply(text)
    # Only the head is looked at, cut at a line end so that no word is cut in two.
    head = text[:MAX_REPLY_SCAN]
    head = head[: head.rfind("\n")] if "\n" in head.strip() else head
    reply = extract_reply(head)
    return text.strip() if reply == head.strip() else reply
