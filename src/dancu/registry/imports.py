"""Register imports started from the web: the upload is stored, a job row tracks progress, and the import
runs as a background job in the server process (the job is its own edge and commits per batch)."""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.permissions import Actor, Permission
from dancu.audit.service import record_event
from dancu.config import Settings
from dancu.core.db import Database, utcnow
from dancu.core.errors import DomainError, Forbidden, NotFound, PayloadTooLarge, ValidationFailed
from dancu.core.files import data_folder
from dancu.registry import repository as repo
from dancu.registry.models import ImportJob
from dancu.units import repository as units_repo

log = logging.getLogger("dancu.imports")
ALLOWED_SUFFIXES = {".csv", ".xlsx"}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_tasks: set[asyncio.Task[None]] = set()


def _safe_name(filename: str) -> str:
    name = _UNSAFE.sub("_", Path(filename or "upload").name)[-100:]
    return name or "upload"


async def store_upload(
    session: AsyncSession, actor: Actor, settings: Settings, filename: str, stream: BinaryIO
) -> ImportJob:
    """Save the uploaded file under the data directory and create its job (queued)."""
    if not actor.can(Permission.REGISTRY_IMPORT):
        raise Forbidden("Your role does not allow register imports.")
    suffix = Path(filename or "").suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        raise ValidationFailed(
            "Upload a .csv or .xlsx file (got {name}).", field="file", params={"name": (filename or "")[:80]}
        )
    folder = data_folder(settings.data_dir, "imports")  # error files are kept RETENTION_DAYS (personal data)
    path = folder / f"{uuid.uuid4().hex[:12]}-{_safe_name(filename)}"
    size = 0
    with path.open("wb") as out:
        while chunk := stream.read(1 << 20):
            size += len(chunk)
            if size > settings.upload_max_bytes:
                out.close()
                path.unlink(missing_ok=True)
                raise PayloadTooLarge("The file is larger than the upload limit.", field="file")
            out.write(chunk)
    if size == 0:
        path.unlink(missing_ok=True)
        raise ValidationFailed("The file is empty.", field="file")
    job = await repo.add_job(
        session,
        ImportJob(
            kind="registry",
            account_id=actor.account_id,
            unit_code=actor.unit_code,
            filename=path.name,
            status="queued",
            bytes_total=size,
        ),
    )
    await record_event(
        session, actor, "registry:import", subject_type="import_job", subject_id=job.id, details={"bytes": size}
    )
    return job


async def allowed_units_for(session: AsyncSession, actor: Actor) -> set[str] | None:
    """Units an import by this actor may place people in (None = anywhere, for national accounts)."""
    if actor.unit_path.count("/") <= 1:
        return None
    return await units_repo.codes_in_subtree(session, actor.unit_path)


async def run_job(db: Database, settings: Settings, job_id: int, allowed_units: set[str] | None) -> None:
    """The background job: import the stored file, then record the outcome on the job row."""
    from dancu.registry.importer import import_file

    async with db.unit_of_work() as s:
        job = await repo.get_job(s, job_id)
        if job is None:
            return
        job.status = "running"
        path = settings.data_dir / "imports" / job.filename
    errors_path = path.with_suffix(".errors.csv")
    try:
        summary = await import_file(db, path, errors_path=errors_path, job_id=job_id, allowed_units=allowed_units)
        status, message = "done", None
        error_file = errors_path.name if summary.rejected else None
    except DomainError as exc:
        status, message, error_file = "failed", exc.message, None
    except Exception:  # the job must always end in a visible state
        log.exception("import job failed", extra={"job_id": job_id})
        status, message, error_file = "failed", "Internal error while importing; see the server log.", None
    async with db.unit_of_work() as s:
        job = await repo.get_job(s, job_id)
        if job is not None:
            job.status, job.message, job.error_file, job.finished_at = status, message, error_file, utcnow()
            if status == "done":
                job.bytes_done = job.bytes_total


def start_job(db: Database, settings: Settings, job_id: int, allowed_units: set[str] | None) -> None:
    task = asyncio.get_running_loop().create_task(run_job(db, settings, job_id, allowed_units))
    _tasks.add(task)  # keep a strong reference until it finishes
    task.add_done_callback(_tasks.discard)


async def get_job(session: AsyncSession, actor: Actor, job_id: int) -> ImportJob:
    if not actor.can(Permission.REGISTRY_IMPORT):
        raise Forbidden("Your role does not allow register imports.")
    job = await repo.get_job(session, job_id)
    if job is None or job.unit_code is None:
        raise NotFound("No such import.")
    unit = await units_repo.get(session, job.unit_code)
    if unit is None or not unit.path.startswith(actor.unit_path):
        raise NotFound("No such import.")
    return job


async def error_file_path(session: AsyncSession, actor: Actor, settings: Settings, job_id: int) -> Path:
    job = await get_job(session, actor, job_id)
    if not job.error_file:
        raise NotFound("This import has no rejected rows.")
    path = settings.data_dir / "imports" / job.error_file
    if not path.exists():
        raise NotFound("The error file is no longer available.")
    return path


async def recent_jobs(session: AsyncSession, actor: Actor) -> list[ImportJob]:
    if not actor.can(Permission.REGISTRY_IMPORT):
        raise Forbidden("Your role does not allow register imports.")
    return list(await repo.jobs_of_subtree(session, actor.unit_path))
