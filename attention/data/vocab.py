"""Vocabularies: characters ↔ integer indices, for one side of a translation task.

The human side (the input) has two special tokens after its characters: `<unk>` for any
character the model never saw and `<pad>` to fill a short text up to Tx. The machine side
(the output) is always exactly Ty known characters, so it needs neither.
"""
from __future__ import annotations

import warnings

import numpy as np

UNKNOWN = "<unk>"
PADDING = "<pad>"


class Vocabulary:
    """An ordered list of characters, optionally followed by `<unk>` and `<pad>`."""

    def __init__(self, characters, specials: bool = True):
        characters = list(characters)
        for character in characters:
            if not isinstance(character, str) or len(character) != 1:
                raise ValueError(f"vocabulary entries must be single characters, got {character!r}")
        if len(set(characters)) != len(characters):
            raise ValueError(f"a vocabulary lists each character once: {''.join(characters)!r}")
        self.has_specials = specials
        self.tokens = characters + ([UNKNOWN, PADDING] if specials else [])
        self.index = {token: i for i, token in enumerate(self.tokens)}
        self.unk_index = self.index.get(UNKNOWN)  # None without specials
        self.pad_index = self.index.get(PADDING)

    def __len__(self) -> int:
        return len(self.tokens)

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocabulary) and self.tokens == other.tokens

    def __repr__(self) -> str:
        characters = self.tokens[:-2] if self.has_specials else self.tokens
        return f"Vocabulary({''.join(characters)!r}, specials={self.has_specials})"

    def encode_padded(self, text: str, length: int | None = None):
        """(indices, truncated, unknown) for `text`.

        With `length`, the indices are cut or padded to exactly that many; `truncated` says
        whether characters were cut off, and `unknown` lists the characters read as `<unk>`.
        """
        truncated = length is not None and len(text) > length
        if length is not None:
            text = text[:length]
        unknown = [character for character in text if character not in self.index]
        if unknown and self.unk_index is None:
            raise ValueError(f"{text!r} has characters {''.join(sorted(set(unknown)))!r} that this "
                             "vocabulary lacks, and it has no <unk> to stand for them")
        indices = [self.index.get(character, self.unk_index) for character in text]
        if length is not None and len(indices) < length:
            if self.pad_index is None:
                raise ValueError(f"{text!r} is shorter than {length} and this vocabulary has no <pad>")
            indices += [self.pad_index] * (length - len(indices))
        return np.array(indices, dtype=np.int64), truncated, unknown

    def encode(self, text: str, length: int | None = None) -> np.ndarray:
        """Indices for `text`: unknown characters become `<unk>`; with `length`, padded or cut.

        Cutting a text short warns; `encode_padded` says so in its result instead.
        """
        indices, truncated, _ = self.encode_padded(text, length)
        if truncated:
            warnings.warn(f"{text!r} is longer than {length} characters; only the first {length} are kept")
        return indices

    def decode(self, indices) -> str:
        """The text for a sequence of indices, leaving out `<pad>`."""
        characters = []
        for index in np.asarray(indices).reshape(-1).tolist():
            if not 0 <= index < len(self.tokens):
                raise ValueError(f"index {index} is outside this vocabulary of {len(self.tokens)} tokens")
            if index != self.pad_index:
                characters.append(self.tokens[index])
        return "".join(characters)

    def to_json(self) -> dict:
        """A plain dict, ready for json.dump, that `from_json` turns back into this vocabulary."""
        return {"tokens": list(self.tokens), "specials": self.has_specials}

    @classmethod
    def from_json(cls, data: dict) -> "Vocabulary":
        tokens = data["tokens"]
        if not isinstance(tokens, list):
            raise ValueError(f"a saved vocabulary's 'tokens' is a list, not {type(tokens).__name__}")
        specials = data.get("specials", tokens[-2:] == [UNKNOWN, PADDING])
        if specials:
            if tokens[-2:] != [UNKNOWN, PADDING]:
                raise ValueError(f"a saved vocabulary with specials ends with {UNKNOWN!r}, {PADDING!r}")
            tokens = tokens[:-2]
        return cls(tokens, specials=bool(specials))
