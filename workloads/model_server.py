"""The demo's model server: a transformer with seeded random weights behind http.server.

Usage: model_server.py --port PORT [--model gpt2-small|tiny] [--seed N] [--profile-tokens N] [--host H]
                       [--kv-cache-mib N]

  gpt2-small  PyTorch on CPU (Debian's python3-torch): token + position embeddings (50257 x 768, 1024 x
              768), 12 pre-norm transformer layers (768 wide, 12 heads, 3072 feed-forward), a final
              LayerNorm and an LM head tied to the token embedding; ~124 M parameters, like GPT-2 small.
  tiny        the same server around a pure-Python stand-in (no torch): used by the tests so that the
              demo's flow runs in CI without the 2-minute torch install.

GET /generate answers JSON: the model's output for a fixed prompt (one causal forward, the argmax next
token at every position), the nonce drawn at start, a request counter, and where the start-up went. Weights are seeded, so every fresh start answers the same tokens but with a
new nonce and a counter from 1: a restored server proves itself with the same nonce and a counter that
continues. The listening socket is opened only when the model is ready (a connection refused means "not
yet"), and every answer closes its connection (HTTP/1.0), so no client connection outlives a request.

Like a serving engine, it reserves its KV cache at start (--kv-cache-mib, as vLLM sizes its cache by
--gpu-memory-utilization) and has vLLM's sleep mode (https://docs.vllm.ai/en/latest/features/sleep_mode/),
which snapback's hooks call around a checkpoint (docs/hooks.md):
  POST /sleep?level=1  drops the KV cache (its content is forgotten, as vLLM's level 1 forgets it);
  POST /sleep?level=2  also drops the weights, rebuilt from the seed on waking (vLLM reloads them);
  POST /wake_up        rebuilds what sleep dropped;
  GET  /is_sleeping    {"is_sleeping": …}.
While asleep, /generate answers 503. A checkpoint taken asleep holds none of what was dropped.
"""

import argparse
import ctypes
import http.server
import json
import mmap
import os
import random
import secrets
import sys
import time
import urllib.parse

PROMPT = "Spot instances get a two minute warning before they are reclaimed"


def prompt_tokens(vocab):
    """A fixed prompt as token ids: one per word, from the word's bytes (no tokenizer needed)."""
    return [sum((i + 1) * b for i, b in enumerate(w.encode())) % vocab for w in PROMPT.split()]


class Gpt2Small:
    name = "gpt2-small"
    vocab = 50257

    def __init__(self, seed):
        import torch
        from torch import nn

        torch.manual_seed(seed)
        self.torch = torch
        width, heads, ff, layers, context = 768, 12, 3072, 12, 1024
        self.wte = nn.Embedding(self.vocab, width)
        self.wpe = nn.Embedding(context, width)
        # Separately constructed layers (nn.TransformerEncoder would deep-copy one: identical weights).
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(
                width, heads, ff, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
            )
            for _ in range(layers)
        )
        self.ln_f = nn.LayerNorm(width)
        # GPT-2's initialisation (normal, std 0.02; zero biases), as a model built from its config gets.
        for module in (self.wte, self.wpe, *self.blocks.modules()):
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        for module in (self.wte, self.wpe, self.blocks, self.ln_f):
            module.eval()
        self.parameters = sum(
            p.numel() for m in (self.wte, self.wpe, self.blocks, self.ln_f) for p in m.parameters()
        )

    def predict(self, tokens):
        """One causal forward; the argmax next token at every position (LM head tied to wte)."""
        torch = self.torch
        with torch.inference_mode():
            n = len(tokens)
            h = self.wte(torch.tensor([tokens])) + self.wpe(torch.arange(n).unsqueeze(0))
            mask = torch.triu(torch.full((n, n), float("-inf")), diagonal=1)
            for block in self.blocks:
                h = block(h, src_mask=mask)
            logits = self.ln_f(h[0]) @ self.wte.weight.T
            return [int(t) for t in torch.argmax(logits, dim=-1)]


class Tiny:
    """Pure Python: seeded embeddings; at each position, the argmax of the dot products with the mean
    of the last four tokens' embeddings, among the tokens not in those four."""

    name = "tiny"
    vocab = 512

    def __init__(self, seed):
        rng = random.Random(seed)
        self.table = [[rng.uniform(-1, 1) for _ in range(16)] for _ in range(self.vocab)]
        self.parameters = self.vocab * 16

    def predict(self, tokens):
        out = []
        for i in range(len(tokens)):
            window = tokens[max(0, i - 3) : i + 1]
            mean = [sum(self.table[t][d] for t in window) / len(window) for d in range(16)]
            scores = [sum(a * b for a, b in zip(row, mean)) for row in self.table]
            out.append(max((t for t in range(self.vocab) if t not in window), key=lambda t: scores[t]))
        return out


class KvCache:
    """The engine's reserved cache: an anonymous mapping, written through (every page resident, as a
    cache in use is), that sleep unmaps. A mapping of its own, so that dropping it returns the memory to
    the kernel whatever the allocator would keep."""

    def __init__(self, mib):
        self.bytes = mib << 20
        self.mapping = None

    def allocate(self):
        if self.bytes == 0 or self.mapping is not None:
            return
        self.mapping = mmap.mmap(-1, self.bytes)
        block = bytes(range(256)) * 4096
        for offset in range(0, self.bytes, len(block)):
            self.mapping[offset : offset + len(block)] = block[: self.bytes - offset]

    def drop(self):
        if self.mapping is not None:
            self.mapping.close()
            self.mapping = None


def trim_heap():
    """Returns the heap's free memory to the kernel (glibc's malloc_trim), so dropped weights leave RSS."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--model", choices=["gpt2-small", "tiny"], default="gpt2-small")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument(
        "--profile-tokens",
        type=int,
        default=256,
        help="length of the warm-up's profile forward (0: none)",
    )
    parser.add_argument(
        "--kv-cache-mib",
        type=int,
        default=None,
        help="KV cache reserved at start, MiB (default: 256 for gpt2-small, 64 for tiny)",
    )
    args = parser.parse_args()
    kv_mib = args.kv_cache_mib if args.kv_cache_mib is not None else (256 if args.model == "gpt2-small" else 64)

    started = time.time()
    nonce = secrets.token_hex(16)
    startup = {}
    t = time.time()
    if args.model == "gpt2-small":
        import torch  # noqa: F401 -- timed on its own: part of every cold start
    startup["import"] = round(time.time() - t, 3)
    t = time.time()
    build = lambda: Gpt2Small(args.seed) if args.model == "gpt2-small" else Tiny(args.seed)  # noqa: E731
    model = build()
    startup["build"] = round(time.time() - t, 3)
    # Warm-up before taking traffic, as serving engines do: one forward at the largest batch the server
    # admits (vLLM's profile run sizes its buffers this way), then three forwards of the request's shape.
    t = time.time()
    if args.profile_tokens > 0:
        model.predict([i % model.vocab for i in range(args.profile_tokens)])
    prompt = prompt_tokens(model.vocab)
    for _ in range(3):
        model.predict(prompt)
    kv_cache = KvCache(kv_mib)
    kv_cache.allocate()
    startup["warmup"] = round(time.time() - t, 3)
    state = {"counter": 0, "model": model, "sleep_level": 0}
    name = model.name
    model = None  # the state holds it: level 2 sleep must be able to let it go

    def sleep(level):
        """vLLM's sleep levels: 1 forgets the KV cache, 2 the weights too (both rebuilt on waking)."""
        freed = kv_cache.bytes if kv_cache.mapping is not None else 0
        kv_cache.drop()
        if level >= 2 and state["model"] is not None:
            freed += state["model"].parameters * 4
            state["model"] = None
            trim_heap()
        state["sleep_level"] = max(state["sleep_level"], level)
        return {"is_sleeping": True, "level": state["sleep_level"], "freed_bytes": freed}

    def wake_up():
        t = time.time()
        if state["model"] is None:
            state["model"] = build()  # seeded: the same weights as before
        kv_cache.allocate()
        state["sleep_level"] = 0
        return {"is_sleeping": False, "woke_in": round(time.time() - t, 3)}

    class Handler(http.server.BaseHTTPRequestHandler):
        def answer(self, status, payload):
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            url = urllib.parse.urlsplit(self.path)
            if url.path == "/sleep":
                level = urllib.parse.parse_qs(url.query).get("level", ["1"])[0]
                if level not in ("1", "2"):
                    self.answer(400, {"error": "level must be 1 or 2"})
                    return
                self.answer(200, sleep(int(level)))
            elif url.path == "/wake_up":
                self.answer(200, wake_up())
            else:
                self.send_error(404)

        def do_GET(self):
            if self.path == "/is_sleeping":
                self.answer(200, {"is_sleeping": state["sleep_level"] > 0})
                return
            if self.path != "/generate":
                self.send_error(404)
                return
            if state["sleep_level"] > 0:
                self.answer(503, {"error": "asleep: POST /wake_up first"})
                return
            tokens = state["model"].predict(prompt)
            state["counter"] += 1
            body = json.dumps(
                {
                    "model": name,
                    "parameters": state["model"].parameters,
                    "prompt": prompt,
                    "tokens": tokens,
                    "nonce": nonce,
                    "counter": state["counter"],
                    "pid": os.getpid(),
                    "startup": startup,
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format, *args):
            sys.stderr.write("%s\n" % (format % args))

    http.server.HTTPServer.allow_reuse_address = True
    server = http.server.HTTPServer((args.host, args.port), Handler)
    print(f"ready: {name} on {args.host}:{args.port} after {time.time() - started:.1f} s {startup}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
