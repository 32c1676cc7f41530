from __future__ import annotations

import dataclasses
import json
import socket
import sys
import threading
import time
import types
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from xling.backends import BACKENDS, UnknownBackendError, get_backend
from xling.backends.base import GenerationParams, Output, Request
from xling.errors import XlingError


def _req(text: str, system: str | None = None) -> Request:
    msgs = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": text}
    ]
    return Request(messages=tuple(msgs))


# ---------------------------------------------------------------------------- registry


def test_unknown_backend_lists_known_names() -> None:
    with pytest.raises(UnknownBackendError) as err:
        get_backend("nope", "m")
    for name in BACKENDS:
        assert name in str(err.value)
    assert isinstance(err.value, XlingError)


def test_unknown_option_is_a_clear_error() -> None:
    with pytest.raises(XlingError, match=r"does not accept option.*bogus"):
        get_backend("openai", "m", bogus=1)


def test_registry_imports_lazily() -> None:
    import subprocess

    code = (
        "import sys, xling.backends; "
        "print(sorted(m for m in ('torch', 'transformers', 'openai', 'vllm') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------------- hf backend


@pytest.fixture(scope="module", params=["off", "on"], ids=["generate", "engine"])
def hf_backend(tiny_model_dir: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    """The hf backend through transformers `generate` and through xling's engine: one
    output contract."""
    backend = get_backend(
        "hf", str(tiny_model_dir), batch_size=4, device="cpu", engine=request.param
    )
    assert (backend.engine is not None) == (request.param == "on")
    yield backend
    backend.close()


REQS = [_req("What is 2+2?"), _req("¿Cuánto es 3·4? " * 3, system="Sé breve."), _req("二加二")]


def test_hf_counts_and_order(hf_backend: Any) -> None:
    params = GenerationParams(temperature=1.0, n=2, max_new_tokens=6, seed=3)
    out = hf_backend.generate(REQS, params)
    assert len(out) == 3 and all(len(o) == 2 for o in out)
    assert all(isinstance(x, Output) and isinstance(x.text, str) for o in out for x in o)
    # Order: the backend sorts by length internally; reversing the input reverses the output.
    greedy = GenerationParams(temperature=0.0, n=1, max_new_tokens=6)
    forward = hf_backend.generate(REQS, greedy)
    backward = hf_backend.generate(REQS[::-1], greedy)
    assert backward == forward[::-1]
    assert len({o[0].text for o in forward}) == 3  # distinct prompts, distinct continuations


def test_hf_same_seed_same_outputs(hf_backend: Any) -> None:
    params = GenerationParams(temperature=1.0, n=2, max_new_tokens=6, seed=11)
    first = hf_backend.generate(REQS, params)
    assert hf_backend.generate(REQS, params) == first
    other = hf_backend.generate(
        REQS, GenerationParams(temperature=1.0, n=2, max_new_tokens=6, seed=12)
    )
    assert other != first
    # The two samples of one prompt differ (a random 1k-token model never repeats 6 tokens).
    assert first[0][0].text != first[0][1].text


def test_hf_max_new_tokens_and_finish_reason(hf_backend: Any) -> None:
    params = GenerationParams(temperature=1.0, n=3, max_new_tokens=5, seed=0)
    outs = [x for o in hf_backend.generate(REQS, params) for x in o]
    for x in outs:
        assert x.n_tokens is not None and 1 <= x.n_tokens <= 5
        assert x.finish_reason in ("stop", "length")
        if x.finish_reason == "length":
            assert x.n_tokens == 5
    # A random model almost never emits EOS: most samples run out of tokens.
    assert sum(x.finish_reason == "length" for x in outs) >= len(outs) // 2


def test_hf_greedy_is_deterministic_and_copies_n(hf_backend: Any) -> None:
    params = GenerationParams(temperature=0.0, n=3, max_new_tokens=6, seed=0)
    a = hf_backend.generate(REQS, params)
    b = hf_backend.generate(REQS, GenerationParams(temperature=0.0, n=3, max_new_tokens=6, seed=9))
    assert a == b
    assert all(len(o) == 3 and o[0] == o[1] == o[2] for o in a)


def test_hf_engine_and_generate_agree(tiny_model_dir: Path) -> None:
    """Greedy outputs are identical (float32), with and without stop strings, and so are
    sampled ones: both paths draw a seed's tokens from the same counter-based stream."""
    paths = {
        mode: get_backend("hf", str(tiny_model_dir), batch_size=2, device="cpu", engine=mode)
        for mode in ("off", "on")
    }
    try:
        greedy = GenerationParams(max_new_tokens=10, n=2)
        off, on = (paths[m].generate(REQS, greedy) for m in ("off", "on"))
        assert on == off
        # A stop string taken from a greedy output: cut before it, counted through it.
        text = off[0][0].text
        stop = text[len(text) // 2 : len(text) // 2 + 2]
        stopped = GenerationParams(max_new_tokens=10, stop=(stop,))
        off, on = (paths[m].generate(REQS, stopped) for m in ("off", "on"))
        assert on == off
        assert off[0][0].text == text[: text.find(stop)] and off[0][0].finish_reason == "stop"
        assert off[0][0].n_tokens is not None and off[0][0].n_tokens < 10
        sampled = GenerationParams(temperature=0.9, top_p=0.9, n=2, max_new_tokens=10, seed=4)
        off, on = (paths[m].generate(REQS, sampled) for m in ("off", "on"))
        assert on == off and off != paths["off"].generate(REQS, greedy)
    finally:
        for backend in paths.values():
            backend.close()


def test_hf_engine_modes(tiny_model_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    auto = get_backend("hf", str(tiny_model_dir), device="cpu")
    assert auto.engine is None  # auto: the engine runs on CUDA only
    auto.close()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    config = GPT2Config(vocab_size=len(tokenizer), n_layer=1, n_embd=16, n_head=2)
    config.eos_token_id = config.bos_token_id = tokenizer.eos_token_id
    GPT2LMHeadModel(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    with pytest.raises(XlingError, match=r"engine=on, but xling.s engine cannot run .*gpt2"):
        get_backend("hf", str(tmp_path), device="cpu", engine="on")
    with pytest.raises(XlingError, match="engine must be one of auto, on, off"):
        get_backend("hf", str(tiny_model_dir), device="cpu", engine="fast")


@pytest.mark.parametrize("engine", ["off", "on"], ids=["generate", "engine"])
def test_hf_samples_do_not_depend_on_batch_or_company(
    tiny_model_dir: Path, engine: str, one_torch_thread: None
) -> None:
    """A sample is a function of (seed, request key, sample index): the same at any batch
    size, in any request order, beside any other requests; another seed changes it."""
    reqs = [
        Request(messages=_req(f"What is {i} + {2 * i}? " * (1 + i % 3)).messages, seed_key=f"q{i}")
        for i in range(6)
    ]
    params = GenerationParams(temperature=1.0, top_p=0.95, n=3, max_new_tokens=6, seed=7)
    by_size = {}
    for size in (1, 2, 5, 8):
        backend = get_backend(
            "hf", str(tiny_model_dir), batch_size=size, device="cpu", engine=engine
        )
        by_size[size] = backend.generate(reqs, params)
        if size != 8:
            backend.close()
    try:
        reference = by_size[1]
        assert all(out == reference for out in by_size.values())
        assert all(len({x.text for x in samples}) == 3 for samples in reference)
        picked = [4, 0, 3]  # another subset, in another order
        assert backend.generate([reqs[i] for i in picked], params) == [reference[i] for i in picked]
        # The key, not the position, seeds a request: unkeyed, its index does.
        moved = backend.generate([reqs[5], reqs[1]], params)
        assert moved == [reference[5], reference[1]]
        unkeyed = [Request(messages=r.messages) for r in reqs[:2]]
        assert backend.generate(unkeyed, params) != reference[:2]
        other = backend.generate(reqs, dataclasses.replace(params, seed=8))
        assert all(a != b for a, b in zip(other, reference, strict=True))
        # Greedy ignores seeds and keys as before.
        greedy = GenerationParams(n=2, max_new_tokens=6)
        assert backend.generate(reqs[:2], greedy) == backend.generate(unkeyed, greedy)
    finally:
        backend.close()


def test_hf_batch_smaller_than_n(tiny_model_dir: Path) -> None:
    backend = get_backend("hf", str(tiny_model_dir), batch_size=2, device="cpu")
    try:
        out = backend.generate(REQS[:2], GenerationParams(temperature=1.0, n=3, max_new_tokens=3))
        assert [len(o) for o in out] == [3, 3]
    finally:
        backend.close()


def test_hf_without_chat_template_concatenates(tiny_model_dir: Path) -> None:
    from xling.backends.hf import render_prompt

    class Plain:
        chat_template = None

    text, templated = render_prompt(Plain(), _req("question", system="sys").messages)
    assert (text, templated) == ("sys\n\nquestion", False)
    # Arguments for a template that is not there are refused, not silently dropped.
    with pytest.raises(XlingError, match=r"chat_template_kwargs \(enable_thinking\) given"):
        render_prompt(Plain(), _req("q").messages, {"enable_thinking": False})


THINKING_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "<|im_start|>assistant\n{% if enable_thinking is defined and not enable_thinking %}"
    "<think>\n\n</think>\n\n{% endif %}"
)


def test_chat_template_kwargs_reach_the_template(tiny_model_dir: Path) -> None:
    """`chat_template_kwargs` go to `apply_chat_template` (Qwen3's enable_thinking=False
    pre-fills an empty think block), in `render_prompt` and through the hf backend."""
    from xling.backends.hf import render_prompt

    backend = get_backend(
        "hf",
        str(tiny_model_dir),
        device="cpu",
        chat_template_kwargs={"enable_thinking": False},
    )
    try:
        tokenizer = backend.tokenizer
        tokenizer.chat_template = THINKING_TEMPLATE
        messages = _req("2+2?").messages
        plain, _ = render_prompt(tokenizer, messages)
        off, templated = render_prompt(tokenizer, messages, {"enable_thinking": False})
        assert templated and off == plain + "<think>\n\n</think>\n\n"
        assert backend._encode([_req("2+2?")]) == [
            tokenizer(off, add_special_tokens=False)["input_ids"]
        ]
    finally:
        backend.close()


def test_revision_and_remote_code_reach_from_pretrained(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """--revision and --trust-remote-code go from the eval config to the tokenizer's and the
    model's `from_pretrained`."""
    import transformers

    from xling.backends import hf
    from xling.evaluate import EvalConfig, backend_options

    seen: list[dict[str, Any]] = []

    def tokenizer(name: str, **kw: Any) -> Any:
        seen.append(kw)
        return object()

    def model(name: str, **kw: Any) -> Any:
        seen.append(kw)
        raise OSError("stop here")

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", tokenizer)
    monkeypatch.setattr(hf, "load_causal_lm", model)
    cfg = EvalConfig(model=str(tmp_path), revision="refs/pr/7", trust_remote_code=True)
    with pytest.raises(XlingError, match="stop here"):
        get_backend("hf", cfg.model, device="cpu", **backend_options(cfg))
    assert len(seen) == 2
    for kw in seen:
        assert kw["revision"] == "refs/pr/7" and kw["trust_remote_code"] is True


def test_batched_encoding_equals_prompt_by_prompt() -> None:
    """`encode_prompts` tokenizes in one batched call; the ids are those of one call per
    prompt, with the organism's chat template and with plain concatenation."""
    from transformers import AutoTokenizer

    from xling.backends.hf import encode_prompt, encode_prompts

    organism = Path(__file__).resolve().parents[1] / "src" / "xling" / "data" / "organism"
    tokenizer = AutoTokenizer.from_pretrained(organism)
    conversations = [r.messages for r in REQS] + [
        _req("¿Cuánto es 7 × 8?", system="sé breve").messages
    ]
    for template in (tokenizer.chat_template, None):
        tokenizer.chat_template = template
        batched = encode_prompts(tokenizer, conversations)
        assert batched == [encode_prompt(tokenizer, c) for c in conversations]
        assert len({tuple(ids) for ids in batched}) == len(conversations)
    assert encode_prompts(tokenizer, []) == []


def test_hf_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(XlingError, match="cannot load model"):
        get_backend("hf", str(tmp_path / "no-such-model"))


# ---------------------------------------------------------------------------- openai backend


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is expected in these tests


class FakeOpenAIServer:
    """A real HTTP server speaking just enough of POST /v1/chat/completions."""

    def __init__(
        self,
        *,
        delay: float = 0.0,
        fail: list[int] | None = None,
        max_choices: int | None = None,
        gather: int = 0,
    ) -> None:
        self.delay = delay
        self.fail = list(fail or [])
        self.max_choices = max_choices
        # Hold requests until `gather` are in flight at once (5 s at most), so a concurrency
        # test sees the client's full parallelism however slowly the threads get scheduled.
        self.gather = gather
        self.lock = threading.Condition()
        self.in_flight = 0
        self.max_in_flight = 0
        self.bodies: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                with server.lock:
                    server.bodies.append(body)
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    status = server.fail.pop(0) if server.fail else 200
                    server.lock.notify_all()
                    server.lock.wait_for(lambda: server.max_in_flight >= server.gather, timeout=5)
                try:
                    time.sleep(server.delay)
                    if status != 200:
                        self._send(status, {"error": {"message": f"boom {status}"}})
                        return
                    self._send(200, server.completion(body))
                finally:
                    with server.lock:
                        server.in_flight -= 1

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def completion(self, body: dict[str, Any]) -> dict[str, Any]:
        n = int(body.get("n", 1))
        k = n if self.max_choices is None else min(n, self.max_choices)
        prompt = body["messages"][-1]["content"]
        choices = [
            {
                "index": i,
                "message": {"role": "assistant", "content": f"{prompt}|{body.get('seed')}|{i}"},
                "finish_reason": "length" if prompt.startswith("long") else "stop",
            }
            for i in range(k)
        ]
        return {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": choices,
            "usage": {"prompt_tokens": 3, "completion_tokens": 4 * k, "total_tokens": 3 + 4 * k},
        }

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAIServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _openai(server_url: str, **kw: Any) -> Any:
    kw.setdefault("backoff_base", 0.001)
    kw.setdefault("timeout", 5.0)
    return get_backend("openai", "served-model", base_url=server_url, api_key="k", **kw)


def test_openai_outputs_in_order_with_n_samples() -> None:
    with FakeOpenAIServer(delay=0.01) as srv:
        backend = _openai(srv.base_url, concurrency=4)
        reqs = [_req(f"q{i}") for i in range(10)] + [_req("long one")]
        out = backend.generate(reqs, GenerationParams(temperature=0.7, n=3, seed=5))
        backend.close()
    assert [[x.text for x in o] for o in out[:10]] == [
        [f"q{i}|5|{j}" for j in range(3)] for i in range(10)
    ]
    assert out[0][0].finish_reason == "stop" and out[10][0].finish_reason == "length"
    assert out[0][0].n_tokens is None  # usage is per response, not per choice, when n > 1
    body = srv.bodies[0]
    assert body["model"] == "served-model" and body["n"] == 3
    assert body["temperature"] == 0.7 and body["max_tokens"] == 1024


def test_openai_concurrency_bound() -> None:
    with FakeOpenAIServer(delay=0.01, gather=3) as srv:
        backend = _openai(srv.base_url, concurrency=3)
        out = backend.generate([_req(f"q{i}") for i in range(15)], GenerationParams(n=1))
    assert [o[0].text for o in out] == [f"q{i}|0|0" for i in range(15)]
    assert out[0][0].n_tokens == 4
    assert srv.max_in_flight == 3  # reached (the server gathers 3) and never exceeded


def test_openai_retries_on_500_and_429() -> None:
    with FakeOpenAIServer(fail=[500, 429, 503]) as srv:
        backend = _openai(srv.base_url, concurrency=1, max_retries=3)
        out = backend.generate([_req("hello")], GenerationParams(n=1))
    assert out[0][0].text == "hello|0|0"
    assert len(srv.bodies) == 4


def test_openai_gives_up_after_retries_with_clear_error() -> None:
    with FakeOpenAIServer(fail=[500] * 10) as srv:
        backend = _openai(srv.base_url, concurrency=1, max_retries=2)
        with pytest.raises(XlingError, match=r"kept failing \(HTTP 500, 3 attempts\): boom 500"):
            backend.generate([_req("hello")], GenerationParams(n=1))
    assert len(srv.bodies) == 3


def test_openai_client_error_is_not_retried() -> None:
    with FakeOpenAIServer(fail=[400]) as srv:
        backend = _openai(srv.base_url, max_retries=3)
        with pytest.raises(XlingError, match=r"rejected the request \(HTTP 400\): boom 400"):
            backend.generate([_req("hello")], GenerationParams(n=1))
    assert len(srv.bodies) == 1


def test_openai_tops_up_when_server_ignores_n() -> None:
    with FakeOpenAIServer(max_choices=1) as srv:
        backend = _openai(srv.base_url, concurrency=2)
        out = backend.generate([_req("a"), _req("b")], GenerationParams(temperature=1.0, n=3))
    assert [len(o) for o in out] == [3, 3]
    # Each follow-up asks only for what is missing, with a fresh seed.
    assert sorted(x.text for x in out[0]) == ["a|0|0", "a|1|0", "a|2|0"]
    asked = sorted(b["n"] for b in srv.bodies if b["messages"][-1]["content"] == "a")
    assert asked == [1, 2, 3]
    assert out[0][0].n_tokens == 4  # one choice per response: usage is that choice's


def test_openai_greedy_asks_once_and_copies() -> None:
    with FakeOpenAIServer() as srv:
        backend = _openai(srv.base_url)
        out = backend.generate([_req("g")], GenerationParams(temperature=0.0, n=4))
    assert [x.text for x in out[0]] == ["g|0|0"] * 4
    assert len(srv.bodies) == 1 and srv.bodies[0]["n"] == 1


def test_openai_timeout_is_reported() -> None:
    with FakeOpenAIServer(delay=1.0) as srv:
        backend = _openai(srv.base_url, timeout=0.2, max_retries=1)
        with pytest.raises(XlingError, match=r"did not answer within 0\.2s"):
            backend.generate([_req("slow")], GenerationParams(n=1))


def test_openai_unreachable_server_is_one_clear_error() -> None:
    from xling.backends.openai_compat import ServerUnreachableError

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens here now
    backend = _openai(f"http://127.0.0.1:{port}/v1", max_retries=2, concurrency=4)
    with pytest.raises(ServerUnreachableError) as err:
        backend.generate([_req(f"q{i}") for i in range(8)], GenerationParams(n=1))
    assert str(err.value) == (
        f"cannot reach the OpenAI-compatible server at http://127.0.0.1:{port}/v1: "
        "connection refused (is it running? check --base-url)"
    )


def test_openai_reasoning_field_is_kept() -> None:
    from xling.backends.openai_compat import _message_text

    msg = types.SimpleNamespace(content="42", reasoning_content="six times seven")
    assert _message_text(msg, True) == "<think>\nsix times seven\n</think>\n\n42"
    assert _message_text(msg, False) == "42"


# ---------------------------------------------------------------------------- vllm backend


def test_vllm_not_installed_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` raise ImportError
    with pytest.raises(XlingError, match=r"vllm is not installed: pip install 'xling\[vllm\]'"):
        get_backend("vllm", "some/model")


def test_vllm_backend_logic_with_stub_engine(
    monkeypatch: pytest.MonkeyPatch, tiny_model_dir: Path
) -> None:
    """The glue around `vllm.LLM` (prompt rendering, order, n, greedy copies) without vllm."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    calls: list[Any] = []

    class SamplingParams:
        def __init__(self, **kw: Any) -> None:
            self.__dict__.update(kw)

    class LLM:
        def __init__(self, **kw: Any) -> None:
            calls.append(kw)

        def get_tokenizer(self) -> Any:
            return tokenizer

        def generate(self, prompts: list[dict], sampling: list[Any], use_tqdm: bool) -> list:
            calls.append((prompts, sampling))
            return [
                types.SimpleNamespace(
                    outputs=[
                        types.SimpleNamespace(
                            index=j,
                            text=f"p{i}s{j}",
                            token_ids=[1] * (j + 1),
                            finish_reason="length",
                        )
                        for j in reversed(range(sp.n))
                    ]
                )
                for i, sp in enumerate(sampling)
            ]

    monkeypatch.setitem(
        sys.modules, "vllm", types.SimpleNamespace(LLM=LLM, SamplingParams=SamplingParams)
    )
    backend = get_backend(
        "vllm",
        str(tiny_model_dir),
        max_model_len=512,
        dtype="float32",
        tensor_parallel_size=2,
        revision="v1.0",
        trust_remote_code=True,
        chat_template_kwargs={"enable_thinking": False},
        engine_options={"enforce_eager": True, "max_num_seqs": 8},
    )
    assert calls[0]["model"] == str(tiny_model_dir) and calls[0]["max_model_len"] == 512
    assert calls[0]["revision"] == "v1.0" and calls[0]["trust_remote_code"] is True
    assert calls[0]["dtype"] == "float32" and calls[0]["tensor_parallel_size"] == 2
    assert calls[0]["enforce_eager"] is True and calls[0]["max_num_seqs"] == 8
    assert calls[0]["gpu_memory_utilization"] == 0.3  # no GPU here: a share of host memory

    out = backend.generate(REQS[:2], GenerationParams(temperature=0.8, n=2, max_new_tokens=7))
    assert [[x.text for x in o] for o in out] == [["p0s0", "p0s1"], ["p1s0", "p1s1"]]
    assert out[0][1] == Output(text="p0s1", finish_reason="length", n_tokens=2)
    prompts, sampling = calls[-1]
    expected = tokenizer.apply_chat_template(
        list(REQS[0].messages), tokenize=False, add_generation_prompt=True
    )
    assert (
        prompts[0]["prompt_token_ids"] == tokenizer(expected, add_special_tokens=False)["input_ids"]
    )
    assert sampling[0].max_tokens == 7 and sampling[0].n == 2
    assert sampling[0].seed != sampling[1].seed
    # The chat template got the backend's chat_template_kwargs.
    tokenizer.chat_template = THINKING_TEMPLATE
    backend.generate(REQS[:1], GenerationParams(temperature=0.8))
    rendered = tokenizer.decode(calls[-1][0][0]["prompt_token_ids"])
    assert rendered.endswith("<think>\n\n</think>\n\n")
    # A keyed request's seed is its key's wherever it stands in the call.
    keyed = [
        Request(messages=REQS[0].messages, seed_key="a"),
        Request(messages=REQS[1].messages, seed_key="b"),
    ]
    params = GenerationParams(temperature=0.8, n=2, seed=3)
    backend.generate(keyed, params)
    forward = [sp.seed for sp in calls[-1][1]]
    backend.generate(keyed[::-1], params)
    assert [sp.seed for sp in calls[-1][1]] == forward[::-1] and forward[0] != forward[1]

    greedy = backend.generate(REQS[:1], GenerationParams(temperature=0.0, n=3))
    assert [x.text for x in greedy[0]] == ["p0s0"] * 3
    assert calls[-1][1][0].n == 1
    backend.close()


@pytest.mark.skipif(
    not __import__("importlib.util").util.find_spec("vllm"), reason="vllm is not installed"
)
def test_vllm_real_engine(tiny_model_dir: Path) -> None:  # pragma: no cover - GPU only
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("vllm needs a GPU")
    backend = get_backend(
        "vllm",
        str(tiny_model_dir),
        gpu_memory_utilization=0.2,
        max_model_len=512,
        enforce_eager=True,
    )
    try:
        params = GenerationParams(temperature=1.0, n=2, max_new_tokens=5, seed=1)
        out = backend.generate(REQS, params)
        assert [len(o) for o in out] == [2, 2, 2]
        assert all(x.n_tokens is not None and x.n_tokens <= 5 for o in out for x in o)
        assert backend.generate(REQS, params) == out
    finally:
        backend.close()


def test_eval_config_carries_vllm_options(tmp_path: Path) -> None:
    from xling.config import load, parse_assignment
    from xling.evaluate import EvalConfig, backend_options

    items = ["enforce_eager=true", "swap_space=0.5", "kv_cache_dtype=fp8"]
    extra = dict(parse_assignment(item, "-o") for item in items)
    assert extra == {"enforce_eager": True, "swap_space": 0.5, "kv_cache_dtype": "fp8"}
    with pytest.raises(XlingError, match="expected key=value"):
        parse_assignment("enforce_eager", "--vllm-option")
    toml = tmp_path / "eval.toml"
    toml.write_text(
        'backend = "vllm"\ndtype = "float32"\nvllm_options = {max_num_seqs = 4}\n'
        'revision = "main"\n[chat_template_kwargs]\nenable_thinking = false\n'
    )
    cfg = load(EvalConfig, toml, flags={"tensor_parallel_size": 4, "gpu_memory_utilization": 0.5})
    assert backend_options(cfg) == {
        "dtype": "float32",
        "seed": 0,
        "tensor_parallel_size": 4,
        "gpu_memory_utilization": 0.5,
        "max_model_len": None,
        "trust_remote_code": False,
        "revision": "main",
        "chat_template_kwargs": {"enable_thinking": False},
        "engine_options": {"max_num_seqs": 4},
    }
    hf = backend_options(EvalConfig(engine="on", chat_template_kwargs={"x": 1}), device="cuda:1")
    assert (
        hf["engine"] == "on" and hf["device"] == "cuda:1" and hf["chat_template_kwargs"] == {"x": 1}
    )
    assert "device" not in backend_options(EvalConfig())  # the backend's own default
    # A server applies its own template: settings it cannot honour are refused.
    with pytest.raises(XlingError, match="revision and chat_template_kwargs are for --backend"):
        EvalConfig(backend="openai", chat_template_kwargs={"enable_thinking": False})
