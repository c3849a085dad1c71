"""Business rules: a CertLogic engine, rules as data (dancu and EU formats), and their evaluation.

The CLI (`dancu.rules.cli.rules_app`) is not imported here, so importing the engine never pulls in typer.
"""

from dancu.rules.dates import DateTimeValue
from dancu.rules.errors import (
    CertLogicError,
    CertLogicEvaluationError,
    CertLogicValidationError,
    RuleFormatError,
    ValidationIssue,
)
from dancu.rules.evaluator import RuleLogicResult, evaluate_logic, evaluate_rule_logic
from dancu.rules.models import CertificateType, LocalizedText, Rule
from dancu.rules.service import (
    EvaluationInputError,
    EvaluationReport,
    RuleOutcome,
    RuleStatus,
    detect_certificate_type,
    evaluate,
)
from dancu.rules.validation import validate_expression, validation_issues
from dancu.rules.values import is_falsy, is_truthy, to_json

__all__ = [
    "CertLogicError",
    "CertLogicEvaluationError",
    "CertLogicValidationError",
    "CertificateType",
    "DateTimeValue",
    "EvaluationInputError",
    "EvaluationReport",
    "LocalizedText",
    "Rule",
    "RuleFormatError",
    "RuleLogicResult",
    "RuleOutcome",
    "RuleStatus",
    "ValidationIssue",
    "detect_certificate_type",
    "evaluate",
    "evaluate_logic",
    "evaluate_rule_logic",
    "is_falsy",
    "is_truthy",
    "to_json",
    "validate_expression",
    "validation_issues",
]
