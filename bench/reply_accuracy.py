#!/usr/bin/env python3
"""Accuracy of reply extraction against public reply-parser suites.

Each fixture of the corpus (see its README) is wrapped into a `text/plain; charset=utf-8`
message and parsed by the same function the webhook uses (`parse_raw_email`); the
checks each suite states for it are applied to the stored field. Prints, per suite and
overall, the share of fixtures stating an exact reply that get it exactly, the share of
all fixtures whose every check passes, and the fixtures whose `body` lost text or whose
`reply` has words `body` lacks (both must be none).

    python bench/reply_accuracy.py [--corpus ../shared/corpus/replies] [--verbose]
"""

import argparse
import json
import re
import sys
from collections import defaultdict
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from messages_app.parsing.mime import parse_raw_email  # noqa: E402

DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "replies"


def normalise(value: str, how: str | None) -> str:
    if how == "ws":
        return " ".join(value.split())
    if how == "nows":
        return "".join(value.split())
    return value


def check_passes(check: dict, stored: dict) -> bool:
    value = normalise(stored[check["field"]], check.get("normalise"))
    expected = check["value"]
    kind = check["kind"]
    if kind in ("exact", "contains", "absent"):
        expected = normalise(expected, check.get("normalise"))
    if kind == "exact":
        return value == expected
    if kind == "contains":
        return expected in value
    if kind == "absent":
        return expected not in value
    if kind == "starts_re":
        return re.match(expected, value, re.MULTILINE) is not None
    if kind == "search_re":
        return re.search(expected, value, re.MULTILINE) is not None
    if kind == "absent_re":
        return re.search(expected, value, re.MULTILINE) is None
    raise ValueError(f"Unknown check kind {kind!r}")


def as_message(text: str) -> bytes:
    message = EmailMessage()
    message["From"] = "Requester <requester@example.com>"
    message["To"] = "support@example.com"
    message["Subject"] = "Re: reply accuracy"
    message["Message-ID"] = "<reply-accuracy@example.com>"
    message.set_content(text, charset="utf-8")
    return message.as_bytes()


def words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--verbose", "-v", action="store_true", help="print every failure")
    args = parser.parse_args()

    fixtures = json.loads((args.corpus / "expectations.json").read_text("utf-8"))
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    lost: list[str] = []
    for fixture in fixtures:
        text = (args.corpus / fixture["file"]).read_text("utf-8")
        parsed = parse_raw_email(as_message(text))
        stored = {"reply": parsed.reply, "body": parsed.body}
        if normalise(parsed.body, "nows") != normalise(text, "nows"):
            lost.append(f"{fixture['file']}: body differs from the mail's text")
        if not words(parsed.reply) <= words(parsed.body):
            lost.append(f"{fixture['file']}: reply has words the body lacks")
        failed = [check for check in fixture["checks"] if not check_passes(check, stored)]
        exact = [check for check in fixture["checks"] if check["kind"] == "exact"]
        for suite in (fixture["suite"], "all"):
            counts = totals[suite]
            counts["fixtures"] += 1
            counts["all_pass"] += not failed
            counts["exact_stated"] += bool(exact)
            counts["exact_ok"] += bool(exact) and not any(c in failed for c in exact)
        if failed and args.verbose:
            print(f"FAIL {fixture['file']}")
            for check in failed:
                print(f"  {check['kind']} {check['value'][:120]!r}")
            print("  reply: " + repr(parsed.reply[:400]))

    print(f"{'suite':<8} {'exact':>14} {'all checks':>16}")
    for suite in sorted(totals, key=lambda name: (name == "all", name)):
        counts = totals[suite]
        exact_rate = counts["exact_ok"] / counts["exact_stated"] if counts["exact_stated"] else 1
        all_rate = counts["all_pass"] / counts["fixtures"]
        print(
            f"{suite:<8} {counts['exact_ok']:>3}/{counts['exact_stated']:<3} {exact_rate:6.1%}"
            f" {counts['all_pass']:>4}/{counts['fixtures']:<3} {all_rate:6.1%}"
        )
    exact_by_text: dict[str, dict[str, str]] = defaultdict(dict)
    for fixture in fixtures:
        text = (args.corpus / fixture["file"]).read_text("utf-8")
        for check in fixture["checks"]:
            if check["kind"] == "exact":
                exact_by_text[text][fixture["file"]] = normalise(check["value"], "ws")
    for files in exact_by_text.values():
        if len(set(files.values())) > 1:
            print("suites disagree on the same text: " + ", ".join(sorted(files)))
    print(f"text lost or invented: {len(lost)}")
    for line in lost:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
