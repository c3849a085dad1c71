#!/usr/bin/env bash
# Extract every translatable string into var/messages.pot, then create (first time) or update the Vietnamese
# catalog src/dancu/locale/vi/LC_MESSAGES/messages.po. Translate the new empty msgstr entries afterwards;
# the app compiles the .po in memory at start-up (dancu.core.i18n), so there is no .mo to build.
#
# Besides `_()`/`gettext()`/`ngettext()`, it extracts:
#   - the first argument of domain errors (their English template is translated when a page shows it);
#   - strings that pages pass to `_()` as variables (roles, purposes, statuses, codes), listed below,
#     and the verdict messages of checkpoints/scanning.py REASONS; they get the comment `#. dynamic`;
#   - texts Babel cannot see that reach gettext at run time: `gettext_for(request)("...")`, module-level
#     constants raised as domain errors, `problems.add(field, "...")`, `Outcome(..., "...")`.
# The first run (`pybabel init`) may warn "msg has more translations than num_plurals": harmless, Vietnamese
# has one plural form.
#
# Usage: scripts/i18n.sh   (from anywhere; uses the project's .venv)
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=.venv/bin
POT=var/messages.pot
LOCALE_DIR=src/dancu/locale
PO=$LOCALE_DIR/vi/LC_MESSAGES/messages.po

# Domain errors: DomainError and its subclasses (find more with
#   grep -rn "class .*(.*\(ValidationFailed\|DomainError\|NotFound\|Forbidden\|Conflict\)" src/dancu).
# Only classes whose first positional argument is the message template belong here.
ERRORS=(
  DomainError ValidationFailed NotFound Unauthenticated Forbidden Conflict TooManyRequests PayloadTooLarge
  InvalidPlate InvalidIdNumber CccdFormatError ImportFileError PaperFileError EvaluationInputError
  SigningUnavailable NotRecorded ExportTooLarge
)
# Subclasses added since this list was written are found too: any class deriving from one of these whose
# constructor still takes the message first (not e.g. RuleFormatError(field, reason) or DeclarationInvalid(list)).
mapfile -t FOUND < <("$BIN/python" - "${ERRORS[@]}" <<'PY'
import ast
import sys
from pathlib import Path

known = set(sys.argv[1:])
skip: set[str] = set()
classes = []
for path in sorted(Path("src/dancu").rglob("*.py")):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.ClassDef):
            bases = {b.id if isinstance(b, ast.Name) else b.attr if isinstance(b, ast.Attribute) else "" for b in node.bases}
            init = next((f for f in node.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)
            own_init = None if init is None else [a.arg for a in init.args.args[1:2]] == ["message"]
            classes.append((node.name, bases, own_init))
changed = True
while changed:
    changed = False
    for name, bases, own_init in classes:
        if name in known or name in skip or not bases & (known | skip):
            continue
        takes_message = own_init if own_init is not None else bool(bases & known)
        (known if takes_message else skip).add(name)
        changed = True
print("\n".join(sorted(known - set(sys.argv[1:]))))
PY
)
KEYWORDS=(-k _ -k gettext -k ngettext:1,2)
for name in "${ERRORS[@]}" "${FOUND[@]}"; do [[ -n "$name" ]] && KEYWORDS+=(-k "$name:1"); done
ERRORS+=("${FOUND[@]}")

mkdir -p var
# babel.cfg's patterns (src/dancu/**.py, src/dancu/templates/**.html) are relative to the directory scanned,
# so scan the repository root: scanning src/dancu would match nothing. Babel only descends into directories
# that can match a pattern, so node_modules and .venv are not walked.
"$BIN/pybabel" -q extract -F babel.cfg "${KEYWORDS[@]}" --no-location --sort-output \
  --project=dancu --copyright-holder=dancu -o "$POT" .

# Add the strings extraction cannot see, then write the template back sorted and without locations.
"$BIN/python" - "$POT" "${ERRORS[*]}" <<'PY'
import ast
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

# Identifiers that templates translate with `_(variable)`; keep in step with the enums and Literals.
DYNAMIC = [
    # roles (accounts.permissions.Role)
    "citizen", "checkpoint_officer", "venue_staff", "health_worker", "official", "admin", "agency",
    # purposes of access (accounts.permissions.Purpose)
    "case_management", "contact_tracing", "verification", "citizen_request", "data_correction", "social_support",
    # import job statuses, pass statuses, person statuses
    "queued", "running", "done", "failed", "valid", "expired", "revoked", "alive", "deceased",
    # transport modes
    "private_car", "motorbike", "coach", "train", "plane", "ship", "other",
    # symptoms
    "fever", "cough", "shortness_of_breath", "pneumonia", "sore_throat", "fatigue", "loss_of_taste_smell",
    # exposures
    "contact_with_case", "from_affected_area", "contact_with_symptomatic",
    # checkpoint kinds
    "provincial_border", "city_gateway", "internal",
    # refusal reasons
    "no_pass", "identity_mismatch", "symptoms", "wrong_route",
    # directions, decisions, verdicts, notice kinds, passage kinds, declaration sources
    "in", "out", "confirm", "refuse", "green", "amber", "red", "arrival", "departure",
    "declaration", "passage", "online", "paper",
]


ERRORS = set(sys.argv[2].split())


def _text(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _name(node: ast.AST) -> str | None:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None


def python_literals() -> list[str]:
    """English texts that reach `gettext` at run time without a literal `_()` call:
    - `gettext_for(request)("literal")`;
    - a domain error raised with a module-level constant (`raise NotFound(NO_DECLARATION)`);
    - `problems.add(field, "literal", ...)` (declaration checks, raised later as ValidationFailed);
    - `Outcome(status, detail, id, "literal")` (passage results, raised as NotRecorded or Conflict);
    - the officer messages of the scan verdicts (checkpoints/scanning.py REASONS, shown with `_(v.message)`).
    """
    found: list[str] = []
    for path in sorted(Path("src/dancu").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        constants: dict[str, str] = {}
        for stmt in tree.body:
            target = stmt.target if isinstance(stmt, ast.AnnAssign) else (
                stmt.targets[0] if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 else None)
            if not isinstance(target, ast.Name):
                continue
            if _text(stmt.value) is not None:
                constants[target.id] = _text(stmt.value)
            elif (target.id == "REASONS" and path.as_posix().endswith("checkpoints/scanning.py")
                    and isinstance(stmt.value, ast.Dict)):
                for value in stmt.value.values:
                    if isinstance(value, ast.Tuple) and len(value.elts) > 1 and _text(value.elts[1]):
                        found.append(_text(value.elts[1]))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func, args = node.func, node.args
            if isinstance(func, ast.Call) and _name(func.func) == "gettext_for" and args and _text(args[0]):
                found.append(_text(args[0]))
            elif _name(func) in ERRORS and args and isinstance(args[0], ast.Name) and args[0].id in constants:
                found.append(constants[args[0].id])
            elif (isinstance(func, ast.Attribute) and func.attr == "add" and _name(func.value) == "problems"
                    and len(args) > 1 and _text(args[1])):
                found.append(_text(args[1]))
            elif _name(func) == "Outcome" and len(args) > 3 and _text(args[3]):
                found.append(_text(args[3]))
    return found


pot_path = Path(sys.argv[1])
with pot_path.open("rb") as f:
    catalog = read_po(f)
for msgid in python_literals():
    if msgid not in catalog:
        catalog.add(msgid)
for msgid in DYNAMIC:
    message = catalog.get(msgid)
    if message is None:
        catalog.add(msgid, auto_comments=["dynamic"])
    elif "dynamic" not in message.auto_comments:
        message.auto_comments.append("dynamic")
with pot_path.open("wb") as f:
    write_po(f, catalog, no_location=True, sort_output=True)
PY

if [[ -f "$PO" ]]; then
  "$BIN/pybabel" -q update -i "$POT" -d "$LOCALE_DIR" -D messages -l vi --no-fuzzy-matching --ignore-obsolete
else
  "$BIN/pybabel" -q init -i "$POT" -d "$LOCALE_DIR" -D messages -l vi
fi

"$BIN/python" - "$PO" <<'PY'
import sys

from babel.messages.pofile import read_po

with open(sys.argv[1], "rb") as f:
    catalog = read_po(f, locale="vi")
todo = [m.id for m in catalog if m.id and not (all(m.string) if isinstance(m.string, tuple) else m.string)]
total = sum(1 for m in catalog if m.id)
print(f"{sys.argv[1]}: {total} messages, {len(todo)} untranslated")
for msgid in todo:
    print("  untranslated:", msgid if isinstance(msgid, str) else msgid[0])
PY
