"""`redis-scaffold new`: `copier copy` with the same answers, and one line for a bad one.

copier's own command line lets a bad `--data` answer escape as a Python traceback of
about 40 lines (copier raises a plain ValueError from its validation, and its CLI prints
only its own error types cleanly); a template cannot change that. This is a thin wrapper
over copier's `run_copy` API that takes the same arguments as `copier copy` and turns
that ValueError into one line naming the field, the rule and the value
(docs/questions.md, "Bad answers").
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import yaml

from redis_scaffold.errors import UsageError

# copier's messages: Validation error for question 'NAME': RULE (got 'VALUE')
VALIDATION = re.compile(r"Validation error for question '(?P<name>[^']+)': (?P<rule>.*)", re.S)
REQUIRED = re.compile(r'Question "(?P<name>[^"]+)" is required')
# copier casts an int answer with int(), whose error names only the value.
NOT_A_NUMBER = re.compile(r"invalid literal for int\(\) with base 10: '(?P<value>[^']*)'")


class BadAnswer(UsageError):
    """An answer (given or defaulted) that breaks the question's rule; nothing is written."""


def one_line(error: Exception, data: dict) -> str:
    """copier's error for an answer, as `field: rule (got 'value')`."""
    text = " ".join(str(error).split())
    if match := VALIDATION.search(text):
        return f"{match['name']}: {match['rule']}"
    if (match := NOT_A_NUMBER.search(text)) and (
        names := [k for k, v in data.items() if str(v) == match["value"]]
    ):
        return f"{names[0]}: must be a whole number (got '{match['value']}')"
    if match := REQUIRED.search(text):
        name = match["name"]
        return f"{name}: required, it has no default here; answer it with --data {name}=VALUE"
    return text


def parse_data(pairs: list[str], data_file: Path | None) -> dict:
    """--data-file first, then each --data KEY=VALUE (copier's order of precedence)."""
    data: dict = {}
    if data_file is not None:
        try:
            loaded = yaml.safe_load(data_file.read_text()) or {}
        except (OSError, yaml.YAMLError) as error:
            raise UsageError(f"--data-file {data_file}: {error}") from error
        if not isinstance(loaded, dict):
            raise UsageError(f"--data-file {data_file}: must be a YAML mapping of answers")
        data.update(loaded)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--data {pair!r}: must be KEY=VALUE")
        data[key] = value  # a string, as copier's CLI passes it; copier casts it by type
    return data


def run(args: argparse.Namespace) -> int:
    import copier
    from copier.errors import UserMessageError

    data = parse_data(args.data, args.data_file)
    try:
        copier.run_copy(
            args.template,
            args.destination,
            data=data,
            defaults=args.defaults,
            unsafe=args.trust,
            vcs_ref=args.vcs_ref,
            quiet=args.quiet,
        )
    except UserMessageError as error:  # copier's own clean errors (trust, versions, ...)
        raise UsageError(" ".join(str(error).split())) from error
    except ValueError as error:  # a refused answer: copier wrote nothing yet
        raise BadAnswer(one_line(error, data)) from error
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "new",
        help="copier copy, with a bad answer reported in one line",
        description=(
            "Generate a repository from the template: `copier copy` with the same "
            "arguments, but a bad answer is one line naming the field, the rule and "
            "the value (exit 2), and nothing is written."
        ),
    )
    parser.add_argument("template", help="the template: a git URL or a local path")
    parser.add_argument("destination", type=Path, help="the directory to generate into")
    parser.add_argument(
        "-d",
        "--data",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an answer, as copier's --data (repeatable)",
    )
    parser.add_argument("--data-file", type=Path, help="a YAML file of answers")
    parser.add_argument(
        "-l", "--defaults", action="store_true", help="take the default of every other question"
    )
    parser.add_argument("-r", "--vcs-ref", help="the template release (a git tag) to use")
    parser.add_argument(
        "--trust", action="store_true", help="allow the template's hooks (as copier's --trust)"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print less")
    parser.set_defaults(func=run)
