"""The data, read top-down: character vocabularies (vocab.py); what a task is and the registry of
tasks by name (task.py); the assignment's dates (dates.py); the broad dates people write
(spellings.py); two toy tasks (toy.py)."""
from attention.data.vocab import Vocabulary
from attention.data.task import TASKS, SequenceTask, get_task
from attention.data.dates import (FORMATS, DlaiDateTask, format_date, human_date, human_vocabulary,
                                  machine_vocabulary)
from attention.data.spellings import BroadDateTask, two_digit_year
from attention.data.toy import ReverseTask, SortTask

__all__ = ["Vocabulary", "TASKS", "SequenceTask", "get_task", "FORMATS", "DlaiDateTask",
           "format_date", "human_date", "human_vocabulary", "machine_vocabulary", "BroadDateTask",
           "two_digit_year", "ReverseTask", "SortTask"]
