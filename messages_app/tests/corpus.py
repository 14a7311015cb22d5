"""The stored mail corpus the parsing tests read: one real client's message a file."""

from pathlib import Path

EMAILS = Path(__file__).parent / "emails"
FIXTURES = sorted(path.name for path in EMAILS.glob("*.eml"))


def fixture_bytes(name: str) -> bytes:
    return (EMAILS / name).read_bytes()
