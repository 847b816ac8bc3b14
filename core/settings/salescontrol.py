"""settings.yaml `salescontrol`: the limits and rules of SalesControl's core server
(uploads, logins, the job queue, workers, the speech pipeline, kinds of shop). Its
operational values (DATABASE_URL, the audio directory, tokens) come from the
environment."""

from __future__ import annotations

from pydantic import Field, model_validator

from core.chunk_limits import MAX_CHUNK_BYTES, MAX_CHUNK_S
from core.settings.base import Strict
from core.settings.speech import Business, SpeechSettings


class IngestSettings(Strict):
    max_chunk_bytes: int = Field(default=MAX_CHUNK_BYTES, ge=1024, le=512 * 1024 * 1024)
    """A larger upload is refused (413) before it is read whole."""
    max_chunk_s: float = Field(default=float(MAX_CHUNK_S), gt=0, le=3600)
    """A chunk longer than this by ffprobe, past a little slack for the container
    and the cut (salescontrol.ingest.chunks), is refused: the recorder cuts 60 s,
    and refuses to cut more than the default (core.chunk_limits)."""
    codecs: list[str] = Field(default_factory=lambda: ["opus"])
    """Codecs a chunk may have (ffprobe's codec names)."""


class AuthSettings(Strict):
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    """How long a login lasts."""
    logins_per_minute: int = Field(default=10, ge=1)
    """Login attempts per client address (and per login name) in a minute."""


class JobSettings(Strict):
    lease_s: float = Field(default=300.0, gt=0)
    """How long a worker holds a job without a heartbeat before another may take it."""
    max_attempts: int = Field(default=5, ge=1)
    """Attempts before a job is dead (kept, with its last error, for a person)."""
    retry_initial_s: float = Field(default=30.0, gt=0)
    retry_max_s: float = Field(default=1800.0, gt=0)


class WorkerSettings(Strict):
    poll_s: float = Field(default=2.0, gt=0, le=300)
    """How long an idle worker waits before asking for a job again."""
    renew_every_s: float = Field(default=30.0, gt=0)
    """A busy worker renews its lease this often (well within `jobs.lease_s`)."""


class RetentionSettings(Strict):
    audio_days: int | None = Field(default=90, ge=1)
    """Recordings older than this many days are deleted from disk (their dialogues,
    transcripts and analyses stay); None keeps them for ever. Customers' voices are
    personal data: keep them no longer than the business needs to check the results."""
    check_every_s: float = Field(default=3600.0, ge=10)


class DashboardSettings(Strict):
    timezone: str = "Asia/Almaty"
    """The zone of "today" and of the default period when points differ in zone
    (each dialogue is still counted on its own point's local day and hour)."""
    default_days: int = Field(default=7, ge=1, le=366)
    """The overview's and the dialogue list's period when none is chosen."""
    page_size: int = Field(default=50, ge=5, le=500)
    refresh_s: float = Field(default=15.0, ge=2, le=3600)
    """How often the overview and the devices page refresh themselves."""
    offline_after_s: float = Field(default=180.0, gt=0)
    """A device not heard from for this long is offline (it reports every 60 s)."""
    silent_after_s: float = Field(default=900.0, gt=0)
    """A device with no upload for this long during its point's hours is silent."""


class SalesControlSettings(Strict):
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    workers: WorkerSettings = Field(default_factory=WorkerSettings)
    speech: SpeechSettings = Field(default_factory=SpeechSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    businesses: dict[str, Business] = Field(default_factory=dict)
    """Kinds of shop by code (a point's `business`) with their upsell categories."""

    @model_validator(mode="after")
    def _renew_within_lease(self) -> SalesControlSettings:
        if self.workers.renew_every_s * 2 > self.jobs.lease_s:
            raise ValueError("workers.renew_every_s must be at most half of jobs.lease_s")
        return self
