"""Honest outputs: each translation with whether it is a valid output and how sure the model is.

The model's confidence in an output is the probability of its least sure character: the
smallest, over the Ty positions, of the largest softmax probability at that position. A wrong
answer is nearly always one misread character (a day's '0' read as a neighbouring digit), and
the product over all positions mostly adds the noise of the nine sure ones. Below
`min_confidence`, or when the output is not a valid one (for dates: not a day of the calendar,
such as 1975-00-09), the answer is "unsure" instead of a guess.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import minigrad as mg
from attention.data import TASKS, SequenceTask

# Measure and threshold chosen by `bench/bench_dates.py` on its validation strings (--validation-seed
# 11, 51,166 strings, 3 default models, 40 wrong answers): of the candidates (product, minimum, top-1
# minus top-2, log(top-1/top-2)) at the threshold flagging 0.5% of the right answers, the minimum
# flagged 39 of the 40 (the product 38) and is a probability; 0.9505 there, rounded. The same script
# reports both on other strings (--seed 7).
CONFIDENCE_MEASURE = "min of max p"
DEFAULT_MIN_CONFIDENCE = 0.95


@dataclass
class Translation:
    text: str          # the input as the user typed it
    output: str        # the model's best guess
    confidence: float  # the smallest per-position largest probability, 0..1
    valid: bool        # whether the output is a valid one for the task (a calendar date)

    def unsure(self, min_confidence: float) -> bool:
        return not self.valid or self.confidence < min_confidence

    def describe(self, min_confidence: float) -> str:
        """'1979-05-03  (confidence 0.999)', or 'unsure' with the guess and why."""
        if not self.valid:
            return f"unsure  (best guess {self.output} is not a valid output; confidence {self.confidence:.3f})"
        if self.confidence < min_confidence:
            return f"unsure  (best guess {self.output}, confidence {self.confidence:.3f} < {min_confidence})"
        return f"{self.output}  (confidence {self.confidence:.3f})"


def check_min_confidence(value: float) -> float:
    if not 0 <= value <= 1:
        raise ValueError(f"--min-confidence is a probability between 0 and 1, got {value}")
    return value


def output_probabilities(model, X: np.ndarray, batch_size: int = 500):
    """(probabilities (B, Ty, V) in float64, α (B, Ty, Tx)) for token indices X, without a graph."""
    probabilities, alphas = [], []
    for start in range(0, len(X), batch_size) if len(X) else [0]:  # no rows: arrays of 0 rows, as the model gives
        with mg.no_grad():
            logits, alpha = model(X[start:start + batch_size])
        logits = logits.data.astype(np.float64)
        exponentials = np.exp(logits - logits.max(axis=-1, keepdims=True))
        probabilities.append(exponentials / exponentials.sum(axis=-1, keepdims=True))
        alphas.append(alpha.data)
    return np.concatenate(probabilities), np.concatenate(alphas)


def confidence(probabilities: np.ndarray) -> np.ndarray:
    """CONFIDENCE_MEASURE of probabilities (B, Ty, V): one number in 0..1 per output."""
    return probabilities.max(axis=-1).min(axis=-1)


def predict_with_confidence(model, X: np.ndarray, batch_size: int = 500):
    """(indices (B, Ty), confidence (B,), α (B, Ty, Tx)) for token indices X, without a graph."""
    probabilities, alphas = output_probabilities(model, X, batch_size)
    return probabilities.argmax(axis=-1), confidence(probabilities), alphas


def translate(model, machine_vocab, task_class, texts, X: np.ndarray):
    """A Translation for each of `texts`, already encoded as X; and the α of each."""
    indices, confidences, alphas = predict_with_confidence(model, X)
    outputs = [machine_vocab.decode(row) for row in indices]
    return [Translation(text, output, float(confidence), task_class.is_valid(output))
            for text, output, confidence in zip(texts, outputs, confidences)], alphas


def flag_rates(correct: np.ndarray, unsure: np.ndarray) -> dict:
    """How well the unsure flag separates: the share of wrong answers flagged, of right ones
    flagged (0 when there are none)."""
    wrong = ~correct
    return {"wrong_flagged": float(unsure[wrong].mean()) if wrong.any() else 0.0,
            "right_flagged": float(unsure[correct].mean()) if correct.any() else 0.0,
            "wrong": int(wrong.sum()), "right": int(correct.sum())}


def task_class(metadata: dict):
    """The task class a checkpoint was trained on: its cleaning and its check of outputs."""
    return TASKS.get(metadata.get("task"), SequenceTask)
