"""The one exception hierarchy, and every exit code freezekit uses.

The core raises these errors (chaining the cause); only the CLI turns them into
one line on stderr and the exit code the class carries. Anything that is not a
FreezekitError is a bug and keeps its traceback.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes, listed in docs/cli.md (and summed up in the README). Never renumber: pipelines match on them."""

    OK = 0
    INTERNAL = 1  # a bug: unexpected exception, traceback printed
    USAGE = 2  # bad command line (unknown option, value of the wrong type, conflicting flags)
    CONFIG = 3  # config file unreadable, not YAML, wrong keys or types
    MODEL = 4  # unknown model, builder or factory failed
    WEIGHTS = 5  # weight/checkpoint file missing, damaged or not matching the model
    UNSAFE_PICKLE = 6  # a file would run code on load and --trust-pickle (or --trust-code) was not given
    RULE = 7  # a rule is malformed: bad regex, unknown type, through: names no module
    NO_MATCH = 8  # strict mode: a rule selected no parameter
    EXPECTATION = 9  # an expect: / --expect-* check failed
    VERIFY = 10  # verify: a backward-pass or BatchNorm check failed
    DRIFT = 11  # check: the model no longer matches the manifest
    OUTPUT = 12  # an output file could not be written (exists, no folder, no permission)
    INTERRUPTED = 130  # SIGINT or SIGTERM: stopped, nothing half-written (128 + SIGINT, as shells report it)


def one_line(text: str) -> str:
    """Escape newlines and other control characters: user text (a YAML key, a pattern) inside a
    message must never break the one-line error a pipeline greps for."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


MAX_QUOTED = 80  # characters of a user value an error message shows


def quoted(value: object) -> str:
    """A user value inside an error message, as repr() writes it, cut to MAX_QUOTED characters with
    its length: a 5,000-digit number from a config must not become a 5,000-character error line."""
    try:
        text = repr(value)
    except ValueError:  # an int over Python's 4,300-digit str() limit
        return f"an integer of {_digits(value):,} digits"  # type: ignore[arg-type]
    return shortened(text, len(value) if isinstance(value, str) else len(text))


def shortened(text: str, size: int | None = None) -> str:
    """`text` cut to MAX_QUOTED characters, followed by its length (`size`, default len(text))."""
    if len(text) <= MAX_QUOTED:
        return text
    return f"{text[:MAX_QUOTED]}\u2026 ({len(text) if size is None else size:,} characters)"


MAX_QUOTED_PATH = 240  # characters of a path an error message shows: real paths fit, crafted ones are cut


def shortened_path(path: object) -> str:
    """A path inside an error message, cut like a quoted value when it is long: its first and last
    MAX_QUOTED_PATH/2 characters (the file's name stays visible), then its length. A path read from a
    file (a shard of an index) can be thousands of characters; the error stays one readable line."""
    text = one_line(str(path))
    if len(text) <= MAX_QUOTED_PATH:
        return text
    half = MAX_QUOTED_PATH // 2
    return f"{text[:half]}\u2026{text[-half:]} ({len(text):,} characters)"


def _digits(value: int) -> int:
    digits = int((abs(value).bit_length() - 1) * 0.30102999566398) + 1  # log10(2): may be one short
    return digits + 1 if abs(value) >= 10**digits else digits


class FreezekitError(Exception):
    """Base of every error the user can cause. `exit_code` says how the CLI exits."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str):
        message = one_line(message)
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(FreezekitError):
    exit_code = ExitCode.USAGE


class ConfigError(FreezekitError):
    exit_code = ExitCode.CONFIG


class ModelError(FreezekitError):
    exit_code = ExitCode.MODEL


class InterruptedByUser(FreezekitError):
    """Ctrl-C (SIGINT), SIGTERM, or a KeyboardInterrupt raised while the user's code ran (a factory):
    a line and exit 130, not a traceback."""

    exit_code = ExitCode.INTERRUPTED


class WeightsError(FreezekitError):
    exit_code = ExitCode.WEIGHTS


class UnsafePickleError(WeightsError):
    exit_code = ExitCode.UNSAFE_PICKLE


class UnsafeCodeError(UnsafePickleError):
    """The same refusal as an unsafe pickle (exit 6), for code the user did not consent to run with
    --trust-code: a factory named by a manifest, or an hf: model's own code (its config's auto_map)."""


class RuleError(FreezekitError):
    exit_code = ExitCode.RULE


class NoMatchError(RuleError):
    exit_code = ExitCode.NO_MATCH


class ExpectationError(FreezekitError):
    exit_code = ExitCode.EXPECTATION


class VerifyError(FreezekitError):
    """verify's checks failed; also freezekit.guard and the trainer callbacks: a frozen tensor moved,
    became trainable or got a gradient."""

    exit_code = ExitCode.VERIFY


class DriftError(FreezekitError):
    exit_code = ExitCode.DRIFT


class OutputError(FreezekitError):
    exit_code = ExitCode.OUTPUT


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C's KeyboardInterrupt so the same cleanup runs (temp files removed,
    a half-committed pair of outputs rolled back); the CLI exits INTERRUPTED for both."""
