"""Checking one scanned code at a checkpoint (recording nothing): the verdict and what to compare."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from dancu.accounts.permissions import Actor
from dancu.audit.service import record_event
from dancu.checkpoints import labels
from dancu.checkpoints import passage_repository as repo
from dancu.checkpoints.access import CheckpointRef
from dancu.checkpoints.passages import CLOCK_SKEW, lookups_for
from dancu.checkpoints.scanning import (
    ALREADY_SCANNED_WINDOW,
    Assessment,
    as_already_scanned,
    assess,
    dedupe_key,
    read_code,
)
from dancu.checkpoints.schemas import HolderOut, ScanOut
from dancu.credentials.cwt import TrustLookup


async def _already_scanned(session: AsyncSession, checkpoint_id: int, a: Assessment, now: datetime) -> bool:
    key = dedupe_key(a)
    if key is None or a.verdict == "red":
        return False
    recent = await repo.recent_confirmed(
        session,
        {checkpoint_id},
        {str(key[1])} if key[0] == "pass" else set(),
        {int(key[1])} if key[0] == "person" else set(),
        now - ALREADY_SCANNED_WINDOW,
        now + CLOCK_SKEW,
    )
    return bool(recent)


async def to_scan_out(session: AsyncSession, a: Assessment) -> ScanOut:
    info = await labels.unit_info(session, {a.origin_unit_code, a.destination_unit_code})
    holder = a.holder
    return ScanOut(
        verdict=a.verdict,
        reason=a.reason,
        message=a.message,
        kind=a.kind,
        green_lane=a.green_lane,
        already_scanned=a.already_scanned,
        holder=HolderOut(
            full_name=holder.full_name, dob=holder.dob, birth_year=holder.birth_year, id_last4=holder.id_last4
        )
        if holder is not None
        else None,
        origin_unit_code=a.origin_unit_code,
        origin_name=labels.name_of(info, a.origin_unit_code),
        destination_unit_code=a.destination_unit_code,
        destination_name=labels.name_of(info, a.destination_unit_code),
        valid_until=a.valid_until,
        vehicle_plate=a.vehicle_plate,
        pass_id=a.pass_id,
        suggested_refusal=a.suggested_refusal,
    )


async def check_code(
    session: AsyncSession,
    actor: Actor,
    checkpoint: CheckpointRef,
    code: str,
    *,
    keyring: TrustLookup,
    now: datetime,
) -> ScanOut:
    """Verify a code at a checkpoint and say green/amber/red; a staff read of name and DOB is audited."""
    reading = read_code(code, keyring=keyring, now=now)
    lookups = await lookups_for(session, [reading], now)
    assessment = assess(reading, lookups, now)
    if await _already_scanned(session, checkpoint.id, assessment, now):
        assessment = as_already_scanned(assessment)
    if assessment.person_id is not None:
        await record_event(
            session,
            actor,
            "pass:scan",
            person_id=assessment.person_id,
            subject_type="checkpoint",
            subject_id=checkpoint.id,
            purpose="verification",
            details={"verdict": assessment.verdict, "reason": assessment.reason, "kind": assessment.kind},
        )
    return await to_scan_out(session, assessment)
