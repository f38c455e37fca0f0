"""Start devnets as subprocesses (devnet/run) and talk to them with algosdk's own AlgodClient.

Every wait is bounded; teardown ends only the PIDs the fixture started (SIGTERM, then SIGKILL).
"""
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from algosdk import mnemonic
from algosdk.v2client import algod

DEVNET = Path(__file__).resolve().parents[1]
RUN = DEVNET / "run"
READY_TIMEOUT = 30


def _tmp_jig_is_mounted():
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == "/tmp/jig" for line in f)


def pytest_configure(config):
    if not _tmp_jig_is_mounted():
        raise pytest.UsageError("run the suite through devnet/test.sh: /tmp/jig must be a private bind mount")


class Devnet:
    def __init__(self, *args, state_dir=None):
        self.tmp = tempfile.mkdtemp(prefix="devnet-test-")
        self.state_dir = Path(state_dir or os.path.join(self.tmp, "state"))
        self.args = ["--port", "0", "--state-dir", str(self.state_dir), *args]
        self.proc = subprocess.Popen([str(RUN), *self.args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.ready = self._wait_ready()
        self.url = self.ready["url"]
        self.token = Path(self.ready["token_file"]).read_text().strip()
        self.client = algod.AlgodClient(self.token, self.url)
        self.addresses = json.loads((self.state_dir / "accounts.json").read_text())
        self.keys = {name: mnemonic.to_private_key((self.state_dir / "accounts" / f"{name}.mnemonic").read_text().strip())
                     for name in self.addresses}

    def _wait_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT
        line = b""
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                line += chunk
                if b"\n" in line:
                    return json.loads(line.split(b"\n")[0])
            if self.proc.poll() is not None:
                break
        err = self.stop()
        raise RuntimeError(f"devnet did not become ready: rc={self.proc.returncode} stderr={err!r}")

    def stop(self, timeout=10):
        """SIGTERM the PID we started, SIGKILL it if it does not exit; returns its stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
        for f in (self.proc.stdout, self.proc.stderr):
            if f:
                f.close()
        return err

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def sk(self, name):
        return self.keys[name]

    def addr(self, name):
        return self.addresses[name]


@pytest.fixture(scope="module")
def devnet():
    """One devnet per test module, no empty-block timer (rounds move only when asked)."""
    d = Devnet("--block-interval", "0", "--accounts", "4")
    try:
        yield d
    finally:
        d.cleanup()


@pytest.fixture
def start_devnet():
    started = []

    def start(*args, **kw):
        d = Devnet(*args, **kw)
        started.append(d)
        return d

    try:
        yield start
    finally:
        for d in started:
            d.cleanup()
