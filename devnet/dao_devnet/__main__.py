"""dao-devnet command line: python -m dao_devnet --port 0 --state-dir DIR (use devnet/run)."""
import argparse
import json
import os
import re
import secrets
import signal
import sys
import threading

from algosdk import account, encoding, mnemonic

from .chain import Chain
from .ledger import JIG, Ledger
from .server import Devnet, make_server
from .switches import SwitchError, Switches

LOOPBACK = {"127.0.0.1", "localhost"}


def duration(text):
    m = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)(ms|s)?", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 2s, 500ms, 0 to disable)")
    value = float(m.group(1))
    return value / 1000 if m.group(2) == "ms" else value


def parse_args(argv):
    p = argparse.ArgumentParser(prog="devnet/run", description=__doc__)
    p.add_argument("--state-dir", required=True, help="directory for algod.net, algod.token, accounts/, pid")
    p.add_argument("--host", default="127.0.0.1", help="listen address: loopback only (127.0.0.1)")
    p.add_argument("--port", type=int, default=4001, help="TCP port; 0 picks a free one (default 4001)")
    p.add_argument("--accounts", type=int, default=5, help="number of prefunded dev accounts (default 5)")
    p.add_argument("--fund", type=int, default=10**12, help="microAlgos per dev account (default 1,000,000 Algo)")
    p.add_argument("--block-interval", type=duration, default=duration("2s"),
                   help="an empty block after this much idle time (default 2s; 0 disables)")
    p.add_argument("--timestamp-start", type=int, default=None,
                   help="timestamp of the genesis block; time then runs at wall-clock speed from there")
    g = p.add_argument_group("real-node behaviour (all off by default; POST /devnet/switches changes them)")
    g.add_argument("--prune", type=int, default=None, metavar="N",
                   help="serve only the last N rounds' blocks and logs, as a non-archival node (~1000)")
    g.add_argument("--confirm-every", type=duration, default=None, metavar="D",
                   help="asynchronous confirmation: sent groups wait in a pool; one block takes them all every D "
                        "(0: only on POST /devnet/block)")
    g.add_argument("--fail", default=None, metavar="SPEC",
                   help="refuse API requests: STATUS(429|403|503) then :count=N, :every=N or :fraction=F[:seed=S], "
                        "optional :retry_after=SECONDS[:retry_after_date=true]; e.g. 429:every=3:retry_after=1")
    g.add_argument("--fee-per-byte", type=int, default=0, metavar="F",
                   help="congestion: suggested fee F µAlgo/byte; transactions paying less are refused")
    g.add_argument("--max-boxes", type=int, default=0, metavar="N",
                   help="algod's MaxAPIBoxPerApplication (100000 on algod; 0 = unlimited)")
    g.add_argument("--algod-errors", action="store_true",
                   help="algod's answers where the devnet's differ (missing app's /boxes, refused group's pending)")
    args = p.parse_args(argv)
    args.switches = Switches()
    try:
        args.switches.update({
            "prune": args.prune, "fee_per_byte": args.fee_per_byte, "max_boxes": args.max_boxes,
            "algod_errors": args.algod_errors,
            "confirm_every_ms": None if args.confirm_every is None else int(args.confirm_every * 1000),
            "fail": args.fail,
        })
    except (SwitchError, ValueError) as e:
        p.error(str(e))
    if args.host not in LOOPBACK:
        p.error(f"refusing to listen on {args.host!r}: the devnet binds 127.0.0.1 only")
    if not 0 <= args.port < 65536:
        p.error("--port must be 0..65535")
    if not 1 <= args.accounts <= 100:
        p.error("--accounts must be 1..100")
    if not 200_000 <= args.fund < 2**63:
        p.error("--fund must be at least 200000 microAlgos")
    return args


def write_private(path, text):
    """Write `text` to a file only its owner can read (mode 0600, also when it existed)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def write_public(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def dev_accounts(state_dir, n):
    """dev1..devN: keys reused from DIR/accounts/NAME.mnemonic when present, else generated."""
    adir = os.path.join(state_dir, "accounts")
    os.makedirs(adir, mode=0o700, exist_ok=True)
    os.chmod(adir, 0o700)
    out = {}
    for i in range(1, n + 1):
        name = f"dev{i}"
        path = os.path.join(adir, name + ".mnemonic")
        words = None
        if os.path.exists(path):
            with open(path) as f:
                words = f.read().strip()
            try:
                addr = account.address_from_private_key(mnemonic.to_private_key(words))
            except Exception:  # noqa: BLE001
                raise SystemExit(f"{path}: not a valid 25-word mnemonic") from None
        else:
            sk, addr = account.generate_account()
            words = mnemonic.from_private_key(sk)
        write_private(path, words + "\n")
        out[name] = addr
    return out


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    state_dir = os.path.abspath(args.state_dir)
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    for name in os.listdir(JIG) if os.path.isdir(JIG) else []:
        os.unlink(os.path.join(JIG, name))

    ledger = Ledger()
    accounts = dev_accounts(state_dir, args.accounts)
    for addr in accounts.values():
        ledger.fund(encoding.decode_address(addr), args.fund)
    chain = Chain(ledger, timestamp_start=args.timestamp_start, switches=args.switches)

    token = secrets.token_hex(32)
    token_file = os.path.join(state_dir, "algod.token")
    write_private(token_file, token)  # like algod: the bare token, no newline
    devnet = Devnet(chain, token)
    server = make_server(devnet, "127.0.0.1", args.port)
    port = server.server_address[1]

    write_public(os.path.join(state_dir, "accounts.json"), json.dumps(accounts, indent=2) + "\n")
    write_public(os.path.join(state_dir, "algod.net"), f"127.0.0.1:{port}\n")
    write_public(os.path.join(state_dir, "pid"), f"{os.getpid()}\n")

    def stop(signum, frame):
        devnet.shutdown.set()
        chain.stop()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def ticker():
        interval = args.block_interval
        while not devnet.shutdown.wait(min(interval, 0.25)):
            if chain.idle_for() >= interval:
                chain.empty_block()

    if args.block_interval > 0:
        threading.Thread(target=ticker, daemon=True, name="empty-blocks").start()

    def pool_blocks():
        # asynchronous confirmation: one block of the pooled groups every confirm_every_ms
        # (read at every turn, so tests can switch it on a running devnet)
        while not devnet.shutdown.wait(0.05):
            every = args.switches.confirm_every_ms
            if not every or chain.pending_count() == 0:
                continue
            if devnet.shutdown.wait(every / 1000):
                break
            chain.empty_block()

    threading.Thread(target=pool_blocks, daemon=True, name="pool-blocks").start()

    print(json.dumps({"url": f"http://127.0.0.1:{port}", "token_file": token_file, "pid": os.getpid(),
                      "state_dir": state_dir, "accounts_file": os.path.join(state_dir, "accounts.json"),
                      "genesis_id": "algojig"}), flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        # let an evaluation in flight finish before the ledger files go away
        if chain.cond.acquire(timeout=10):
            chain.cond.release()
        for name in ("pid", "algod.net"):
            try:
                os.unlink(os.path.join(state_dir, name))
            except FileNotFoundError:
                pass
        for name in os.listdir(JIG):
            os.unlink(os.path.join(JIG, name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
