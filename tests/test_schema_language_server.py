"""The shipped schema in the real YAML language server, the one VS Code's YAML extension and Neovim run.

Each typo of issue #16 (a loss, an optimizer, a metric, an activation, a layer name) is reported on the
typo, as what it is; every shipped config gets no diagnostic at all. The documents are opened under
configs/ (never written there), so their modeline finds the schema as a user's config does.

The server comes from npm on first use, into .cache/ (ignored by git), and is reused from there; without
node and npm, or when npm cannot install it (no registry), these tests skip and say why.
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.conftest import CONFIGS, ROOT

pytestmark = pytest.mark.slow  # starts node; the first run also installs the server with npm

VERSION = "1.25.0"  # pinned: messages change between versions; 2.x needs Node 22
CACHE = ROOT / ".cache" / f"yaml-language-server-{VERSION}"
TIMEOUT = 30  # seconds, for any one answer of the server
MNIST = (ROOT / "configs" / "mnist.yaml").read_text()


def _server_script() -> Path:
    """The server's start script, installed into the cache the first time."""
    script = CACHE / "node_modules" / "yaml-language-server" / "bin" / "yaml-language-server"
    if script.exists():
        return script
    npm = shutil.which("npm")
    if not shutil.which("node") or not npm:
        pytest.skip("node and npm are needed to run the YAML language server")
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{CACHE.name}.", dir=CACHE.parent))
    try:
        done = subprocess.run([npm, "install", "--prefix", str(staging), "--no-audit", "--no-fund",
                               f"yaml-language-server@{VERSION}"], capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        done = None
    if done is None or done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        why = "took over 300 s" if done is None else (done.stderr.strip().splitlines() or ["failed"])[-1]
        pytest.skip(f"npm install yaml-language-server@{VERSION}: {why}")
    try:
        staging.rename(CACHE)  # whole or not at all; a concurrent run may have put its copy there first
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
    return script


class LanguageServer:
    """Just enough of a Language Server Protocol client: JSON-RPC over the server's stdin and stdout.

    A thread reads the server's messages into a queue, so every wait has a timeout.
    """

    def __init__(self, command: list[str]):
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL)
        self.inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.published: dict[str, list[dict[str, Any]]] = {}
        self.last_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.process.stdout
        while True:
            length = None
            while (line := stream.readline()).strip():
                name, _, value = line.decode("ascii").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if not line or length is None:
                self.inbox.put(None)  # the server ended
                return
            self.inbox.put(json.loads(stream.read(length)))

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        self.process.stdin.flush()

    def request(self, method: str, params: Any) -> Any:
        self.last_id += 1
        asked = self.last_id
        self.send({"id": asked, "method": method, "params": params})
        return self._wait(lambda m: m.get("id") == asked and "method" not in m).get("result")

    def diagnostics(self, path: Path, text: str) -> list[dict[str, Any]]:
        """Open `text` as the file at `path` (nothing is written) and return what the server reports on it."""
        uri = path.as_uri()
        self.send({"method": "textDocument/didOpen",
                   "params": {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}}})
        self._wait(lambda m: uri in self.published)
        return self.published[uri]

    def _wait(self, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                message = self.inbox.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"the YAML language server said nothing for {TIMEOUT} s") from None
            if message is None:
                raise EOFError("the YAML language server ended")
            if "method" in message and "id" in message:  # a request of the server's: no client features here
                self.send({"id": message["id"], "result": None})
            if message.get("method") == "textDocument/publishDiagnostics":
                self.published[message["params"]["uri"]] = message["params"]["diagnostics"]
            if done(message):
                return message

    def close(self) -> None:
        try:
            if self.process.poll() is None:
                self.request("shutdown", None)
                self.send({"method": "exit"})
                self.process.wait(timeout=5)
        except (OSError, TimeoutError, EOFError, subprocess.TimeoutExpired):
            pass
        finally:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def server():
    started = LanguageServer(["node", str(_server_script()), "--stdio"])
    try:
        started.request("initialize", {"processId": None, "rootUri": ROOT.as_uri(), "capabilities": {}})
        started.send({"method": "initialized", "params": {}})
        yield started
    finally:
        started.close()


@pytest.mark.parametrize("config", CONFIGS, ids=[c.name for c in CONFIGS])
def test_shipped_configs_get_no_diagnostics(server, config):
    assert server.diagnostics(config, config.read_text()) == []


@pytest.mark.parametrize("right, wrong, typo, message", [
    ("loss: categorical_crossentropy", "loss: categorical_crosentropy", "categorical_crosentropy", "Unknown loss: "),
    ("optimizer: {SGD: {learning_rate: 0.1}}", "optimizer: adamm", "adamm", "Unknown optimizer: "),
    ("optimizer: {SGD: {", "optimizer: {SDG: {", "SDG", "Unknown optimizer: "),
    ("metrics: [accuracy]", "metrics: [acuracy]", "acuracy", "Unknown metric: "),
    ("activation: softmax", "activation: sofmax", "sofmax", "Unknown activation: "),
    ("- Conv2D: {filters: 25", "- Conv2d: {filters: 25", "Conv2d", "Unknown layer: "),
    ("- Flatten", "- Flaten", "Flaten", "Unknown layer: "),
    ("- Flatten", "- Conv2D", "Conv2D", "Conv2D needs filters, kernel_size: write it as `Conv2D: {filters: ..., "),
], ids=["loss", "optimizer", "optimizer class", "metric", "activation", "layer with arguments", "layer",
        "layer without its arguments"])
def test_a_typo_is_reported_on_it_as_what_it_is(server, right, wrong, typo, message):
    assert MNIST.count(right) == 1
    text = MNIST.replace(right, wrong)
    diagnostics = server.diagnostics(ROOT / "configs" / f"typo-{typo}.yaml", text)
    assert len(diagnostics) == 1, [d["message"][:100] for d in diagnostics]
    [found] = diagnostics
    start, end = found["range"]["start"], found["range"]["end"]
    assert start["line"] == end["line"] and wrong in text.splitlines()[start["line"]]
    assert text.splitlines()[start["line"]][start["character"]:end["character"]] == typo
    assert found["message"].startswith(message), found["message"]
