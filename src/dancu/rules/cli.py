"""`dancu rules ...`: check and evaluate CertLogic rules from files.

Exit codes: 0 = the command did its job (for `eval`, whatever the logic evaluated to); 2 = the input is
unusable (unreadable or non-JSON file, malformed rule or expression, data file without payload/external).
A CertLogic error at evaluation time is not an input problem: per the spec's advice for validation rules it
evaluates to false, so `eval` prints `{"result": false, "error": "..."}` and exits 0.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from dancu.rules.errors import CertLogicError, RuleFormatError
from dancu.rules.evaluator import evaluate_rule_logic
from dancu.rules.loading import (
    DocumentError,
    LoadedRule,
    check_data_document,
    load_rule_source,
    parse_json,
    read_json_file,
)
from dancu.rules.values import to_json

rules_app = typer.Typer(
    help="CertLogic business rules: validate rule files and evaluate them against DCC data.",
    no_args_is_help=True,
)

RuleFile = Annotated[Path, typer.Argument(
    help="A bare CertLogic expression, a dancu rule (JSON) or an EU business rule (JSON).",
    metavar="RULE_FILE", show_default=False,
)]
DataFile = Annotated[Path, typer.Argument(
    help='JSON {"payload": <DCC payload>, "external": {"validationClock": ..., "valueSets": ...}}; '
         '"-" reads standard input.',
    metavar="DATA_FILE", show_default=False,
)]


def _fail(reason: str) -> NoReturn:
    typer.echo(f"error: {reason}", err=True)
    raise typer.Exit(code=2)


def _load_rule(path: Path) -> LoadedRule:
    try:
        return load_rule_source(read_json_file(path, "rule file"))
    except DocumentError as exc:
        _fail(str(exc))
    except RuleFormatError as exc:
        _fail(f"rule file {str(path)!r}: {exc.message}")
    except CertLogicError as exc:
        _fail(f"rule file {str(path)!r}: invalid CertLogic expression: {exc}")


def _load_data(path: Path) -> dict[str, Any]:
    try:
        if str(path) == "-":
            document = parse_json(sys.stdin.read(), "standard input")
        else:
            document = read_json_file(path, "data file")
        return check_data_document(document)
    except DocumentError as exc:
        _fail(str(exc))


def _emit(body: dict[str, Any]) -> None:
    typer.echo(json.dumps(body, ensure_ascii=False))


@rules_app.command("eval")
def eval_command(rule_file: RuleFile, data_file: DataFile) -> None:
    """Evaluate the rule's logic against the data; print {"result": <value>} (exit 0) or exit 2."""
    loaded = _load_rule(rule_file)
    data = _load_data(data_file)
    outcome = evaluate_rule_logic(loaded.logic, data)
    body: dict[str, Any] = {"result": to_json(outcome.value)}
    if outcome.error is not None:
        body["error"] = outcome.error
    _emit(body)


@rules_app.command("check")
def check_command(rule_file: RuleFile) -> None:
    """Validate a rule file (format and CertLogic structure): exit 0 if usable, 2 with the reason if not."""
    loaded = _load_rule(rule_file)
    body: dict[str, Any] = {"valid": True, "format": loaded.kind.value}
    if loaded.rule is not None:
        body.update(id=loaded.rule.id, version=loaded.rule.version,
                    certificate_type=loaded.rule.certificate_type)
    _emit(body)
