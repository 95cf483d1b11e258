"""The data: human dates and their ISO labels (the broad task and the assignment's), two toy
tasks, and character vocabularies."""
from attention.data.vocab import Vocabulary, human_vocabulary, machine_vocabulary
from attention.data.dates import (FORMATS, DlaiDateTask, SequenceTask, format_date, human_date,
                                  make_dataset, split_dataset)
from attention.data.spellings import BroadDateTask, two_digit_year
from attention.data.toy import TASKS, ReverseTask, SortTask, get_task

__all__ = ["Vocabulary", "human_vocabulary", "machine_vocabulary", "FORMATS", "format_date",
           "human_date", "make_dataset", "split_dataset", "SequenceTask", "DlaiDateTask",
           "BroadDateTask", "two_digit_year",
           "ReverseTask", "SortTask", "TASKS", "get_task"]
