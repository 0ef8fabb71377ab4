"""The prompt encoder of the built-in model: a word vocabulary and a small transformer.

No downloaded tokenizer or weights: the vocabulary is the words of the procedural world's
captions (colours, kinds, motions, grounds, times of day, camera moves) plus a few hundred
common English words, fixed when the model is created and stored in its config, so a model
always reads prompts the way it was trained. Words outside it become `<unk>`; the encoder
then leans on the words it knows, which is what a person typing freely needs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import torch
from torch import nn

PAD, BOS, UNK = "<pad>", "<bos>", "<unk>"
_WORD = re.compile(r"[a-z]+")

#: common words a person types around the world's nouns (articles, prepositions, adjectives)
_COMMON = """
a an the and or of on in at to over under across along behind beside by from into onto with
while as is are it its this that then there here up down left right forward back backward
camera shot view scene video clip slow slowly fast quickly gently small big large tiny
little one two three some very bright dark light sky floor ground field far near distance
moves moving goes going turns turning side top bottom center middle around through toward
towards away front above below after before again still static stays stay locked steady
""".split()


def build_vocabulary(extra: Sequence[str] = ()) -> tuple[str, ...]:
    """Special tokens, then every word of the world's phrase tables and the common words."""
    from ..synth import caption, palette

    words: set[str] = set(_COMMON) | {w.lower() for w in extra}
    tables = [caption.KIND_WORDS, caption.GROUND_WORDS, caption.TIME_WORDS, caption.TIME_NOUNS]
    for name in dir(caption):
        value = getattr(caption, name)
        if name.isupper() and isinstance(value, dict):
            tables.append(value)
    tables.append(palette.COLOUR_WORDS)
    for table in tables:
        _collect(table, words)
    return (PAD, BOS, UNK, *sorted(words))


def _collect(value: object, words: set[str]) -> None:
    if isinstance(value, str):
        words.update(_WORD.findall(value.lower()))
    elif isinstance(value, dict):
        for key, item in value.items():
            _collect(key, words)
            _collect(item, words)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            _collect(item, words)


class Tokenizer:
    """Lower-cased words to ids: `<bos>` first, unknown words to `<unk>`, padded to `length`."""

    def __init__(self, vocabulary: Sequence[str], length: int):
        self.vocabulary = tuple(vocabulary)
        self.length = int(length)
        self.index = {word: i for i, word in enumerate(self.vocabulary)}
        self.unk = self.index[UNK]

    def words(self, text: str) -> list[str]:
        return _WORD.findall(text.lower())

    def encode(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(ids (B, L) int64, mask (B, L) bool); an empty prompt is `<bos>` alone."""
        ids = torch.zeros(len(texts), self.length, dtype=torch.long)
        mask = torch.zeros(len(texts), self.length, dtype=torch.bool)
        for row, text in enumerate(texts):
            tokens = [self.index[BOS]]
            tokens += [self.index.get(w, self.unk) for w in self.words(text)]
            tokens = tokens[: self.length]
            ids[row, : len(tokens)] = torch.tensor(tokens)
            mask[row, : len(tokens)] = True
        return ids, mask

    def unknown_words(self, text: str) -> list[str]:
        """Words of `text` the model has never seen (the studio can show them to the user)."""
        return [w for w in self.words(text) if w not in self.index]


class TextEncoder(nn.Module):
    """Token embeddings, learned positions and a few pre-norm transformer layers.

    Returns per-token features for cross-attention and a pooled vector (mean over the real
    tokens) that joins the timestep in the generator's adaptive norms.
    """

    def __init__(self, vocabulary_size: int, length: int, width: int, layers: int, heads: int):
        super().__init__()
        self.embed = nn.Embedding(vocabulary_size, width)
        self.position = nn.Parameter(torch.zeros(1, length, width))
        nn.init.normal_(self.position, std=0.02)
        nn.init.normal_(self.embed.weight, std=0.02)
        layer = nn.TransformerEncoderLayer(
            width, heads, dim_feedforward=3 * width, dropout=0.0, batch_first=True, norm_first=True
        )
        self.layers = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.embed(ids) + self.position[:, : ids.shape[1]]
        x = self.norm(self.layers(x, src_key_padding_mask=~mask))
        weights = mask.to(x.dtype).unsqueeze(-1)
        pooled = (x * weights).sum(1) / weights.sum(1).clamp_min(1.0)
        return x, pooled
