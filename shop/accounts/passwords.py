"""Password rules every way of setting a password shares: the sign-up, change and reset
forms, the sign-up service (console staff accounts, `flask console create-admin`)."""

from __future__ import annotations

MIN_PASSWORD = 10
MAX_PASSWORD = 200
TOO_SHORT_MESSAGE = f"Use at least {MIN_PASSWORD} characters."
TOO_LONG_MESSAGE = f"Use at most {MAX_PASSWORD} characters."
GUESSABLE_MESSAGE = (
    "That password is too easy to guess. Try a few words that have nothing to do with "
    "each other, such as “kettle mango harbour”."
)
# Passwords of 10 or more characters at the top of every leaked-password list: the first
# ones an attacker tries.
_COMMON_PASSWORDS = frozenset(
    [
        "0123456789",
        "1234567890",
        "12345678910",
        "0987654321",
        "9876543210",
        "123123123123",
        "password12",
        "password123",
        "password1234",
        "password12345",
        "passw0rd123",
        "p@ssw0rd123",
        "qwertyuiop",
        "qwerty1234",
        "qwerty12345",
        "qwerty123456",
        "1q2w3e4r5t",
        "1qaz2wsx3edc",
        "zaq12wsxcde",
        "abcdefghij",
        "abcd123456",
        "abc1234567",
        "iloveyou12",
        "iloveyou123",
        "letmein123",
        "welcome123",
        "football123",
        "baseball123",
        "sunshine123",
        "princess123",
        "monkey1234",
        "dragon1234",
        "changeme123",
    ]
)


def is_guessable(password: str, email: str | None = None) -> bool:
    """True for a password anyone could guess: only spaces, one character repeated, one of
    the most common ones, or the account's own e-mail address."""
    plain = password.strip().lower()
    if len(set(plain)) <= 1 or plain in _COMMON_PASSWORDS:
        return True
    email = (email or "").strip().lower()
    return bool(email) and (email in plain or plain == email.partition("@")[0])


def password_problem(password: str, email: str | None = None) -> str | None:
    """What is wrong with a new password, or None when it may be used."""
    if len(password) < MIN_PASSWORD:
        return TOO_SHORT_MESSAGE
    if len(password) > MAX_PASSWORD:
        return TOO_LONG_MESSAGE
    if is_guessable(password, email):
        return GUESSABLE_MESSAGE
    return None
