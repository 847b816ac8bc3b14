"""Typed settings: the business configuration of settings.yaml, one model per
area, plus operational values from the environment (`load_settings`)."""

from core.settings.base import SettingsError
from core.settings.environment import Environment
from core.settings.flow import (
    FlowSettings,
    HandoffSettings,
    ObjectionSettings,
    ObjectionStrategy,
    PhaseSettings,
)
from core.settings.guards import ActionClaim, GuardSettings
from core.settings.kb import DenseSettings, KBSettings
from core.settings.llm import LLMSettings
from core.settings.loader import BusinessSettings, Settings, load_settings
from core.settings.salescontrol import (
    AuthSettings,
    IngestSettings,
    JobSettings,
    SalesControlSettings,
    WorkerSettings,
)
from core.settings.service import APISettings, FeatureFlags, RateLimitSettings, ServerSettings
from core.settings.speech import (
    AnalysisSettings,
    AsrSettings,
    Business,
    DialogueSettings,
    SecondPass,
    SpeechSettings,
    VadSettings,
)

__all__ = [
    "APISettings",
    "ActionClaim",
    "AnalysisSettings",
    "AsrSettings",
    "AuthSettings",
    "Business",
    "BusinessSettings",
    "DenseSettings",
    "DialogueSettings",
    "Environment",
    "FeatureFlags",
    "FlowSettings",
    "GuardSettings",
    "HandoffSettings",
    "IngestSettings",
    "JobSettings",
    "KBSettings",
    "LLMSettings",
    "ObjectionSettings",
    "ObjectionStrategy",
    "PhaseSettings",
    "RateLimitSettings",
    "SalesControlSettings",
    "SecondPass",
    "ServerSettings",
    "Settings",
    "SettingsError",
    "SpeechSettings",
    "VadSettings",
    "WorkerSettings",
    "load_settings",
]
