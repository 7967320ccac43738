"""Load Tessera's shared model in PyTorch and sample from it.

The files come from a relay (docs/model-download.md):
    curl -O https://RELAY/api/model.safetensors -O https://RELAY/api/model.json

Usage:
    python3 tessera_gpt.py model.safetensors model.json [--prompt "The "] [--bytes 200] [--temperature 0.8]
    python3 tessera_gpt.py model.safetensors model.json --logits 84,104,101   # prints the logits of the last position as JSON

The architecture is GPT-2's over a byte vocabulary: learned positions,
pre-LayerNorm blocks (eps 1e-5), causal self-attention with one fused qkv
projection (split q, k, v in that order), a 4x MLP with tanh-approximated GELU,
a final LayerNorm, and logits through the token embedding (tied weights).
Weights are stored (out, in), as torch.nn.Linear keeps them.
Reads the file with the `safetensors` package when it is installed
(pip install safetensors), otherwise with the 15-line reader below.
"""
import argparse
import json
import math
import struct

import torch
from torch import nn
from torch.nn import functional as F


def load_safetensors(path):
    try:
        from safetensors.torch import load_file
        return load_file(path)
    except ImportError:
        pass
    # The format: 8-byte little-endian header length, a JSON header, raw little-endian data.
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        assert entry["dtype"] == "F32", entry["dtype"]
        begin, end = entry["data_offsets"]
        tensors[name] = torch.frombuffer(bytearray(data[begin:end]), dtype=torch.float32).reshape(entry["shape"])
    return tensors


class Attention(nn.Module):
    def __init__(self, C, n_head):
        super().__init__()
        self.n_head = n_head
        self.qkv = nn.Linear(C, 3 * C)
        self.proj = nn.Linear(C, C)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // self.n_head)
        att = att.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf")).softmax(dim=-1)
        return self.proj((att @ v).transpose(1, 2).reshape(B, T, C))


class MLP(nn.Module):
    def __init__(self, C):
        super().__init__()
        self.fc = nn.Linear(C, 4 * C)
        self.proj = nn.Linear(4 * C, C)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x), approximate="tanh"))


class Block(nn.Module):
    def __init__(self, C, n_head, eps):
        super().__init__()
        self.ln1 = nn.LayerNorm(C, eps=eps)
        self.attn = Attention(C, n_head)
        self.ln2 = nn.LayerNorm(C, eps=eps)
        self.mlp = MLP(C)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class TesseraGPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        C, eps = config["nEmbd"], config["layerNormEpsilon"]
        self.block_size = config["blockSize"]
        self.wte = nn.Embedding(config["vocabSize"], C)
        self.wpe = nn.Embedding(config["blockSize"], C)
        self.h = nn.ModuleList(Block(C, config["nHead"], eps) for _ in range(config["nLayer"]))
        self.lnf = nn.LayerNorm(C, eps=eps)

    def forward(self, tokens):  # (B, T) int64 bytes -> (B, T, 256) logits
        T = tokens.shape[1]
        x = self.wte(tokens) + self.wpe(torch.arange(T))
        for block in self.h:
            x = block(x)
        return self.lnf(x) @ self.wte.weight.T  # tied embeddings

    @classmethod
    def from_files(cls, safetensors_path, card_path):
        with open(card_path) as f:
            card = json.load(f)
        model = cls(card["config"])
        state = load_safetensors(safetensors_path)
        # The file names the embeddings "wte" and "wpe"; nn.Embedding calls its tensor "weight".
        state = {{"wte": "wte.weight", "wpe": "wpe.weight"}.get(k, k): v for k, v in state.items()}
        model.load_state_dict(state)
        return model.eval(), card


@torch.no_grad()
def sample(model, prompt, n_bytes, temperature, seed=0):
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.tensor([list(prompt.encode("utf-8"))], dtype=torch.long)
    for _ in range(n_bytes):
        logits = model(tokens[:, -model.block_size:])[:, -1, :]
        if temperature == 0:
            nxt = logits.argmax(dim=-1, keepdim=True)
        else:
            nxt = torch.multinomial((logits / temperature).softmax(dim=-1), 1, generator=generator)
        tokens = torch.cat([tokens, nxt], dim=1)
    return bytes(tokens[0].tolist()).decode("utf-8", errors="backslashreplace")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("safetensors")
    parser.add_argument("card")
    parser.add_argument("--prompt", default="The ")
    parser.add_argument("--bytes", type=int, default=200)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--logits", help="comma-separated byte values: print the last position's logits as JSON")
    args = parser.parse_args()
    model, card = TesseraGPT.from_files(args.safetensors, args.card)
    if args.logits:
        tokens = torch.tensor([[int(b) for b in args.logits.split(",")]], dtype=torch.long)
        with torch.no_grad():
            print(json.dumps(model(tokens)[0, -1].tolist()))
    else:
        print(f"{card['runId']} v{card['version']} ({card['parameterCount']} parameters, hash {card['modelHash']})")
        print(sample(model, args.prompt, args.bytes, args.temperature))
