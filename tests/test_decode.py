"""attention.decode: the confidence of a translation, the validity flag and the unsure verdict."""
import numpy as np
import pytest

import minigrad as mg
from attention.data import TASKS, BroadDateTask, ReverseTask, SequenceTask, machine_vocabulary
from attention.decode import (Translation, check_min_confidence, confidence, flag_rates,
                              output_probabilities, predict_with_confidence, task_class, translate)
from attention.seq2seq import ModelConfig, Seq2SeqAttention


@pytest.fixture
def small_model():
    mg.manual_seed(0)
    return Seq2SeqAttention(ModelConfig(input_vocab=9, output_vocab=11, Tx=6, Ty=10, n_a=4, n_s=5,
                                        attention_hidden=3, score="bahdanau"))


def test_confidence_is_the_smallest_of_the_largest_probability_at_each_position(small_model):
    X = np.random.default_rng(0).integers(0, 9, size=(7, 6))
    indices, confidence, alphas = predict_with_confidence(small_model, X, batch_size=3)
    logits, alpha = small_model(X)
    logits = logits.data.astype(np.float64)
    expected = np.ones(7)
    for row in range(7):
        for t in range(10):
            probabilities = np.exp(logits[row, t]) / np.exp(logits[row, t]).sum()
            expected[row] = min(expected[row], probabilities.max())
    np.testing.assert_allclose(confidence, expected, rtol=1e-6)
    np.testing.assert_array_equal(indices, small_model.predict(X)[0])
    np.testing.assert_allclose(alphas, alpha.data, rtol=1e-5)  # batches of 3 vs one of 7: float32 rounding
    assert ((0 < confidence) & (confidence <= 1)).all()


def test_output_probabilities_are_the_softmax_of_the_logits(small_model):
    X = np.random.default_rng(2).integers(0, 9, size=(4, 6))
    probabilities, _ = output_probabilities(small_model, X, batch_size=3)
    logits = small_model(X)[0].data.astype(np.float64)
    expected = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(probabilities, expected, rtol=1e-6)
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0)
    np.testing.assert_allclose(confidence(probabilities[:1]),  # batch of 3 vs of 1: float32 rounding
                               predict_with_confidence(small_model, X[:1])[1], rtol=1e-5)


def test_translate_flags_outputs_that_are_not_calendar_dates(small_model):
    X = np.random.default_rng(1).integers(0, 9, size=(5, 6))
    translations, _ = translate(small_model, machine_vocabulary(), BroadDateTask, list("abcde"), X)
    assert [t.text for t in translations] == list("abcde")
    for translation in translations:  # an untrained model writes digit soup
        assert translation.valid == BroadDateTask.is_valid(translation.output)
        assert len(translation.output) == 10
    assert not all(t.valid for t in translations)


def test_the_verdict():
    sure = Translation("3 may 1979", "1979-05-03", 0.97, True)
    assert sure.describe(0.9) == "1979-05-03  (confidence 0.970)" and not sure.unsure(0.9)
    assert sure.unsure(0.98)
    assert sure.describe(0.98) == "unsure  (best guess 1979-05-03, confidence 0.970 < 0.98)"
    invalid = Translation("3 foo 1975", "1975-00-09", 1.0, False)
    assert invalid.unsure(0.0)  # an invalid output is never an answer, however confident
    assert invalid.describe(0.0).startswith("unsure  (best guess 1975-00-09 is not a valid output")


def test_min_confidence_is_a_probability():
    assert check_min_confidence(0.0) == 0.0 and check_min_confidence(1.0) == 1.0
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="--min-confidence is a probability between 0 and 1, got"):
            check_min_confidence(bad)


def test_flag_rates():
    correct = np.array([True, True, True, True, False, False])
    unsure = np.array([False, False, False, True, True, False])
    assert flag_rates(correct, unsure) == {"wrong_flagged": 0.5, "right_flagged": 0.25, "wrong": 2, "right": 4}
    assert flag_rates(np.ones(3, bool), np.zeros(3, bool))["wrong_flagged"] == 0.0


def test_task_class_of_a_checkpoint():
    assert task_class({"task": "dates"}) is BroadDateTask is TASKS["dates"]
    assert task_class({"task": "reverse"}) is ReverseTask
    assert task_class({"task": "from a later version"}) is SequenceTask
    assert SequenceTask.clean(" Keep As Is, ") == " Keep As Is, "
