"""Training (陪练): agents practise the standard against simulated customers (docs/training.md).

A scenario (``scenario.py``, YAML) is a customer as a small state machine and the protocol to
follow; a ``TrainingSession`` plays it through live assist (``guifan.assist``), so that what the
trainee did is recognized by the engine QA uses; ``grade`` checks the transcript exactly as
``guifan check`` does and ticks the scenario's checklist.
"""

from guifan.training.answers import AnswerError, Say, Wait, parse_answer, parse_answers, read_answers
from guifan.training.grading import ChecklistItem, ReportCard, behaves, grade, play_examples
from guifan.training.scenario import (
    OUTCOME_LABELS,
    Outcome,
    Scenario,
    ScenarioError,
    load_scenarios,
    read_scenario,
)
from guifan.training.session import CustomerVoice, Progress, TrainingSession

__all__ = [
    "AnswerError", "ChecklistItem", "CustomerVoice", "OUTCOME_LABELS", "Outcome", "Progress", "ReportCard",
    "Say", "Scenario", "ScenarioError", "TrainingSession", "Wait", "behaves", "grade", "load_scenarios",
    "parse_answer", "parse_answers", "play_examples", "read_answers", "read_scenario",
]
