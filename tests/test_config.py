"""The settings schema: every ModelConfig and TrainConfig field is checked for type and range."""
import dataclasses

import pytest

from attention.config import SettingError, accepts, check, from_json, setting
from attention.seq2seq import ModelConfig
from attention.train import TrainConfig


@pytest.mark.parametrize("field, value", [
    ("Tx", 0), ("Tx", -3), ("Tx", "30"), ("Tx", 30.5), ("Tx", 1e9), ("Tx", 10 ** 9), ("Tx", True),
    ("Tx", None), ("Tx", [30]), ("Ty", 0), ("input_vocab", 0), ("output_vocab", 2.0),
    ("n_a", 5000), ("n_s", -1), ("attention_hidden", "10"), ("cell", "transformer"), ("cell", 3),
    ("score", "dot"),
])
def test_model_config_refuses_wrong_types_and_ranges(field, value):
    """A hand-edited config.json value of the wrong type or range names the field, the value and
    what would fit: "30", 30.5 and 1e9 are not integers, true is not a number."""
    with pytest.raises(SettingError) as info:
        ModelConfig(**{field: value})
    assert info.value.field == field
    assert str(info.value).startswith(f"{field} must be ") and repr(value) in str(info.value)


@pytest.mark.parametrize("field, value", [
    ("epochs", 0), ("epochs", -1), ("batch_size", 0), ("batch_size", -5), ("seed", -1), ("seed", 2 ** 40),
    ("lr", 0), ("lr", -1.0), ("lr", float("nan")), ("lr", float("inf")), ("train_size", 0),
    ("train_size", -10), ("held_out_size", 0), ("target_exact", 0.0), ("target_exact", 1.5),
    ("target_exact", float("nan")), ("task", "translate"), ("cell", "LSTM"), ("score", ""),
    ("composed", None), ("composed", 1), ("last_date", 20200101),
])
def test_train_config_refuses_wrong_types_and_ranges(field, value):
    with pytest.raises(SettingError) as info:
        TrainConfig(**{field: value})
    assert info.value.field == field


@pytest.mark.parametrize("settings, message", [
    ({"task": "dlai-dates", "last_date": "1969-12-31"}, "before the first date"),
    ({"task": "dlai-dates", "last_date": "2020-02-30"}, "not a date written YYYY-MM-DD"),
    ({"task": "reverse", "last_date": "2020-01-01"}, "dlai-dates task only"),
])
def test_train_config_refuses_settings_that_do_not_go_together(settings, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**settings)


def test_the_defaults_and_the_edges_of_every_range_are_accepted():
    ModelConfig()
    TrainConfig()
    ModelConfig(Tx=1, Ty=1000, n_a=1024, cell="gru", score="bahdanau")
    TrainConfig(epochs=1, batch_size=1, seed=0, lr=1e-12, train_size=1, target_exact=1)
    TrainConfig(task="dlai-dates", last_date="1970-01-01")
    TrainConfig(seed=2 ** 32 - 1, lr=3, target_exact=None)


@pytest.mark.parametrize("data, message", [
    ([{"Tx": 30}], "must be a JSON object of settings, got a list"),
    ("Tx=30", "got a str"),
    (None, "got a NoneType"),
    ({"Tx": 30, "layers": 3}, r"unknown fields \['layers'\]"),
])
def test_from_json_refuses_what_is_not_an_object_of_known_fields(data, message):
    with pytest.raises(ValueError, match=message):
        from_json(ModelConfig, data, "the model config")


def test_a_config_round_trips_through_json():
    config = ModelConfig(Tx=8, Ty=8, cell="rnn")
    assert ModelConfig.from_json(config.to_json()) == config


def test_accepts_says_what_a_field_takes_in_words():
    @dataclasses.dataclass
    class Example:
        count: int = setting(int, 1, low=1, high=9)
        rate: float = setting(float, 0.5, above=0, high=1, optional=True)
        mode: str = setting(str, "a", choices=("a", "b"))
        flag: bool = setting(bool, False)
        unchecked: int = 0  # a field without a setting is left alone

    fields = {field.name: field for field in dataclasses.fields(Example)}
    assert accepts(fields["count"]) == "an integer from 1 to 9"
    assert accepts(fields["rate"]) == "a finite number above 0 and at most 1 (or none)"
    assert accepts(fields["mode"]) == "one of 'a', 'b'"
    assert accepts(fields["flag"]) == "true or false"
    check(Example(unchecked="anything"))
    with pytest.raises(SettingError, match="rate must be a finite number above 0 and at most 1"):
        check(Example(rate=0))
