"""algod v2 REST endpoints over the devnet chain (stdlib http.server)."""
import base64
import binascii
import hashlib
import hmac
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from algosdk import encoding as sdk_encoding

from . import encode
from .chain import GENESIS_HASH, GENESIS_ID, PROTO, SubmitError, block_hash as hash_of_block
from .ledger import EvalError, box_key, min_balance, pack
from .switches import SwitchError, Switches

WAIT_FOR_BLOCK_TIMEOUT = 60.0
MAX_BODY = 10 * 1024 * 1024
PUBLIC_PATHS = {"/health", "/ready", "/versions"}


class HTTPError(Exception):
    def __init__(self, status, message, data=None):
        super().__init__(message)
        self.status, self.message, self.data = status, message, data

    def body(self):
        return {"message": self.message, **({"data": self.data} if self.data is not None else {})}


def _uint(text, what):
    if not re.fullmatch(r"[0-9]{1,20}", text or "") or int(text) >= 2**64:
        raise HTTPError(400, f"Invalid format for parameter {what}: {text!r} is not a uint64")
    return int(text)


def _address(text):
    try:
        return sdk_encoding.decode_address(text)
    except Exception:  # noqa: BLE001
        raise HTTPError(400, f"Invalid format for parameter address: failed to decode address {text} to base 32") from None


def app_call_bytes(arg):
    """apps.NewAppCallBytes: "b64:", "str:", "int:", "addr:" encodings of a box name."""
    enc, sep, value = (arg or "").partition(":")
    if not sep:
        raise HTTPError(400, f"all arguments and box names should be of the form 'encoding:value': {arg}")
    try:
        if enc in ("b64", "base64"):
            return base64.b64decode(value, validate=True)
        if enc in ("str", "string"):
            return value.encode()
        if enc in ("int", "integer"):
            return _uint(value, "name").to_bytes(8, "big")
        if enc in ("addr", "address"):
            return sdk_encoding.decode_address(value)
    except (binascii.Error, ValueError) as e:
        raise HTTPError(400, f"could not decode {enc} value: {e}") from None
    raise HTTPError(400, f"unknown encoding {enc!r} in box name")


class Devnet:
    """What the handler needs: the chain, the token and the server's lifecycle."""

    def __init__(self, chain, token, switches=None):
        self.chain = chain
        self.token = token
        self.switches = switches or chain.switches or Switches()
        self.shutdown = threading.Event()
        # API requests served, per route ("GET /v2/blocks/*/logs"), for tests and benchmarks
        # that count what a client asks (GET /devnet/requests); refused ones count too.
        self.requests_lock = threading.Lock()
        self.requests = {}

    def count_request(self, route):
        with self.requests_lock:
            self.requests[route] = self.requests.get(route, 0) + 1

    def request_counts(self):
        with self.requests_lock:
            return {"total": sum(self.requests.values()), "routes": dict(sorted(self.requests.items()))}


class Handler(BaseHTTPRequestHandler):
    server_version = "dao-devnet"
    protocol_version = "HTTP/1.1"
    # Keep-alive answers are small writes: without this, Nagle's algorithm and the client's
    # delayed ACK add about 40 ms to every request.
    disable_nagle_algorithm = True
    devnet: Devnet = None  # set on the subclass the server uses

    def log_message(self, fmt, *args):  # quiet; the harness reads stdout for readiness only
        pass

    # ------------------------------------------------------------------ plumbing
    def _send(self, status, body, ctype="application/json", headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode() + b"\n"
        elif body is None:
            body, ctype = b"", None
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status, message):
        self._send(status, {"message": message})

    def _authorized(self):
        token = self.headers.get("X-Algo-API-Token")
        if token is None:
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Bearer "):
                token = auth[len("Bearer "):]
        return token is not None and hmac.compare_digest(token.encode(), self.devnet.token.encode())

    def _dispatch(self, method):
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        body = b""
        length = self.headers.get("Content-Length")
        if length:
            n = int(length) if length.isdigit() else -1
            if not 0 <= n <= MAX_BODY:
                self.close_connection = True
                return self._error(413 if n > MAX_BODY else 400, "bad or too large Content-Length")
            body = self.rfile.read(n)
        if path not in PUBLIC_PATHS and not self._authorized():
            return self._error(401, "Invalid API Token")
        if path not in PUBLIC_PATHS and not path.startswith("/devnet/"):
            self.devnet.count_request(route_name(method, path))
            refusal = self.devnet.switches.refusal()
            if refusal is not None:
                status, headers, rbody = refusal
                return self._send(status, rbody, headers=headers)
        for m, pattern, fn in ROUTES:
            if m != method:
                continue
            match = re.fullmatch(pattern, path)
            if match:
                try:
                    result = fn(self, query, body, *match.groups())
                except HTTPError as e:
                    return self._send(e.status, e.body())
                except SubmitError as e:
                    return self._error(e.status, e.message)
                except Exception as e:  # noqa: BLE001 - a bug must not kill the server
                    return self._error(500, f"internal error: {type(e).__name__}: {e}")
                if isinstance(result, tuple):
                    return self._send(200, result[0], result[1])
                return self._send(200, result)
        return self._error(404, "Not Found" if method == "GET" else "Method Not Allowed")

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_DELETE(self):
        self._dispatch("DELETE")

    # ------------------------------------------------------------------ helpers
    @property
    def chain(self):
        return self.devnet.chain

    def _status(self):
        c = self.chain
        with c.cond:
            last = c.last_round
            since = c.time_since_last_round_ns()
        return {
            "catchup-time": 0, "last-round": last, "last-version": PROTO, "next-version": PROTO,
            "next-version-round": last + 1, "next-version-supported": True,
            "stopped-at-unsupported-round": False, "time-since-last-round": since,
            "last-catchpoint": "", "catchpoint": "", "catchpoint-total-accounts": 0,
            "catchpoint-processed-accounts": 0, "catchpoint-verified-accounts": 0,
            "catchpoint-total-kvs": 0, "catchpoint-processed-kvs": 0, "catchpoint-verified-kvs": 0,
            "catchpoint-total-blocks": 0, "catchpoint-acquired-blocks": 0,
        }

    def _format(self, query):
        fmt = query.get("format", "json").lower()
        if fmt not in ("json", "msgpack", "msgp"):
            raise HTTPError(400, "failed to parse the format option")
        return "json" if fmt == "json" else "msgpack"

    def _block(self, rnd_text):
        rnd = _uint(rnd_text, "round")
        with self.chain.cond:
            block = self.chain.block(rnd)
            txids = list(self.chain.txids[rnd]) if block is not None else None
        if block is None:
            raise HTTPError(404, "failed to retrieve information from the ledger")
        return rnd, block, txids

    def _app(self, app_text):
        app_id = _uint(app_text, "application-id")
        with self.chain.cond:
            found = self.chain.ledger.app(app_id)
            last = self.chain.last_round
        if found is None:
            raise HTTPError(404, "application does not exist")
        return app_id, found, last

    # ------------------------------------------------------------------ endpoints
    def health(self, q, b):
        return {}

    def versions(self, q, b):
        return {"versions": ["v2"], "genesis_id": GENESIS_ID, "genesis_hash_b64": encode.b64(GENESIS_HASH),
                "build": {"major": 0, "minor": 0, "build_number": 0, "commit_hash": "dao-devnet",
                          "branch": "devnet", "channel": "dev"}}

    def status(self, q, b):
        return self._status()

    def wait_for_block(self, q, b, rnd_text):
        rnd = _uint(rnd_text, "round")
        self.chain.wait_for_block_after(rnd, WAIT_FOR_BLOCK_TIMEOUT)
        if self.devnet.shutdown.is_set():
            raise HTTPError(500, "operation aborted as server is shutting down")
        return self._status()

    def params(self, q, b):
        # "fee" is algod's fee per byte (node.SuggestedFee: the pool's FeePerByte), 0 uncongested
        return {"consensus-version": PROTO, "fee": self.devnet.switches.fee_per_byte, "genesis-hash": encode.b64(GENESIS_HASH),
                "genesis-id": GENESIS_ID, "last-round": self.chain.last_round, "min-fee": 1000}

    def submit(self, q, body):
        return {"txId": self.chain.submit(body)}

    def pending(self, q, b, txid):
        fmt = self._format(q)
        if not re.fullmatch(r"[A-Z2-7]{52}", txid):
            raise HTTPError(400, "no valid transaction ID was specified")
        found = self.chain.find(txid)
        if found is None:
            raise HTTPError(404, "could not find the transaction in the transaction pool or in the last 1000 confirmed rounds")
        stxn, ad, rnd, pool_error = found
        if fmt == "msgpack":
            out = {"pool-error": pool_error, "txn": stxn}
            if ad is not None:
                out["confirmed-round"] = rnd
                for k, name in (("ca", "closing-amount"), ("aca", "asset-closing-amount"), ("rs", "sender-rewards"),
                                ("rr", "receiver-rewards"), ("rc", "close-rewards")):
                    out[name] = ad.get(k, 0)
                j = encode.pending_json(stxn, ad, rnd, pool_error)
                for name in ("application-index", "asset-index"):
                    if name in j:
                        out[name] = j[name]
                dt = ad.get("dt", {})
                if dt.get("lg"):
                    out["logs"] = [encode.raw(x) for x in dt["lg"]]
            return pack(out), "application/msgpack"
        return encode.pending_json(stxn, ad, rnd, pool_error)

    def block(self, q, b, rnd_text):
        fmt = self._format(q)
        header_only = q.get("header-only", "false").lower() == "true"
        rnd, block, _ = self._block(rnd_text)
        if fmt == "msgpack":
            blk = {k: v for k, v in block.items() if not (header_only and k == "txns")}
            return pack({"block": blk}), "application/msgpack"
        return {"block": encode.block_json(block, header_only)}

    def block_logs(self, q, b, rnd_text):
        rnd, block, txids = self._block(rnd_text)
        return {"logs": encode.block_logs(block.get("txns", []), txids)}

    def block_txids(self, q, b, rnd_text):
        rnd, block, txids = self._block(rnd_text)
        return {"blockTxids": txids}

    def block_hash(self, q, b, rnd_text):
        rnd, block, _ = self._block(rnd_text)
        return {"blockHash": base64.b32encode(hash_of_block(block)).decode().rstrip("=")}

    def application(self, q, b, app_text):
        app_id, (creator, params), _ = self._app(app_text)
        return encode.application_json(app_id, creator, params)

    def boxes(self, q, b, app_text):
        if self.devnet.switches.algod_errors:
            # algod lists the boxes of any id: a missing app has none (handlers.go)
            app_id = _uint(app_text, "application-id")
            last = self.chain.last_round
        else:
            app_id, _, last = self._app(app_text)
        with self.chain.cond:
            names = sorted(self.chain.ledger.app_boxes(app_id).items())
        prefix = app_call_bytes(q["prefix"]) if q.get("prefix") else b""
        names = [(n, v) for n, v in names if n.startswith(prefix)]
        if q.get("next"):
            cursor = app_call_bytes(q["next"])
            names = [(n, v) for n, v in names if n > cursor]
        include_values = q.get("include") == "values"
        limit = _uint(q["limit"], "limit") if q.get("limit") else 0
        mx = _uint(q["max"], "max") if q.get("max") else 0
        algod_max = self.devnet.switches.max_boxes
        paginated = bool(limit or q.get("next") or include_values or prefix or q.get("round"))
        if not paginated:
            # handlers.go applicationBoxesMaxKeys: the request's max, else algod's
            # MaxAPIBoxPerApplication, against the app's total box count
            allowed = mx or algod_max
            if allowed and len(names) > allowed:
                raise HTTPError(400, "Result limit exceeded",
                                data={"max-api-box-per-application": algod_max, "max": mx, "total-boxes": len(names)})
            return {"boxes": [{"name": encode.b64(n)} for n, _ in names]}
        if algod_max and (limit == 0 or limit > algod_max):
            limit = algod_max
        out = {"round": last}
        if limit and len(names) > limit:
            names = names[:limit]
            out["next-token"] = "b64:" + encode.b64(names[-1][0])
        out["boxes"] = [dict(name=encode.b64(n), **({"value": encode.b64(v)} if include_values else {}))
                        for n, v in names]
        return out

    def box(self, q, b, app_text):
        app_id = _uint(app_text, "application-id")
        if "name" not in q:
            raise HTTPError(400, "Query argument name is required, but not found")
        name = app_call_bytes(q["name"])
        with self.chain.cond:
            # by its key, as algod reads one box: not a pass over every box of the app
            value = self.chain.ledger.boxes.get(box_key(app_id, name))
            last = self.chain.last_round
        if value is None:
            raise HTTPError(404, "box not found")
        return {"round": last, "name": encode.b64(name), "value": encode.b64(value)}

    def account(self, q, b, address_text):
        raw = _address(address_text)
        exclude = q.get("exclude", "none")
        if exclude not in ("all", "none"):
            raise HTTPError(400, f"Invalid format for parameter exclude: {exclude}")
        with self.chain.cond:
            ad = self.chain.ledger.account(raw)
            last = self.chain.last_round
        mb = min_balance(ad) if ad else 0
        return encode.account_json(raw, ad, last, mb, exclude_all=(exclude == "all"))

    def account_application(self, q, b, address_text, app_text):
        raw = _address(address_text)
        app_id = _uint(app_text, "application-id")
        with self.chain.cond:
            ad = self.chain.ledger.account(raw)
            last = self.chain.last_round
        out = {"round": last}
        if app_id in ad.get("appl", {}):
            ls = ad["appl"][app_id]
            out["app-local-state"] = {"id": app_id, "schema": encode.schema_json(ls.get("hsch"))}
            kv = encode.tkv_json(ls.get("tkv"))
            if kv is not None:
                out["app-local-state"]["key-value"] = kv
        if app_id in ad.get("appp", {}):
            out["created-app"] = encode.application_json(app_id, raw, ad["appp"][app_id])["params"]
        if len(out) == 1:
            raise HTTPError(404, "account application info not found")
        return out

    def account_asset(self, q, b, address_text, asset_text):
        raw = _address(address_text)
        asset_id = _uint(asset_text, "asset-id")
        with self.chain.cond:
            ad = self.chain.ledger.account(raw)
            last = self.chain.last_round
        out = {"round": last}
        if asset_id in ad.get("asset", {}):
            h = ad["asset"][asset_id]
            out["asset-holding"] = {"amount": h.get("a", 0), "asset-id": asset_id, "is-frozen": bool(h.get("f", False))}
        if asset_id in ad.get("apar", {}):
            out["created-asset"] = encode.asset_json(asset_id, raw, ad["apar"][asset_id])["params"]
        if len(out) == 1:
            raise HTTPError(404, "account asset info not found")
        return out

    def asset(self, q, b, asset_text):
        asset_id = _uint(asset_text, "asset-id")
        with self.chain.cond:
            c = self.chain.ledger.creators.get(asset_id)
            params = None
            if c and c[1] == 0:
                params = self.chain.ledger.account(c[0]).get("apar", {}).get(asset_id)
        if params is None:
            raise HTTPError(404, "asset does not exist")
        return encode.asset_json(asset_id, c[0], params)

    def compile(self, q, body):
        try:  # the binary's compile touches no ledger files: no lock needed
            program, srcmap = self.chain.ledger.compile(body)
        except EvalError as e:
            raise HTTPError(400, e.message) from None
        digest = hashlib.new("sha512_256", b"Program" + program).digest()
        out = {"hash": sdk_encoding.encode_address(digest), "result": encode.b64(program)}
        if q.get("sourcemap", "false").lower() == "true":
            out["sourcemap"] = srcmap
        return out

    def get_offset(self, q, b):
        return {"offset": self.chain.offset}

    def set_offset(self, q, b, offset_text):
        self.chain.set_offset(_uint(offset_text, "offset"))
        return {}

    def devnet_advance(self, q, body):
        try:
            req = json.loads(body or b"{}")
            seconds = req["seconds"]
        except (ValueError, KeyError, TypeError):
            raise HTTPError(400, 'body must be JSON {"seconds": N}') from None
        if not isinstance(seconds, int) or isinstance(seconds, bool) or not 1 <= seconds < 2**40:
            raise HTTPError(400, "seconds must be a positive integer")
        rnd, ts = self.chain.advance(seconds)
        return {"round": rnd, "timestamp": ts}

    def devnet_switches(self, q, body):
        try:
            changes = json.loads(body or b"{}")
        except ValueError:
            raise HTTPError(400, "body must be a JSON object of switches") from None
        try:
            self.devnet.switches.update(changes)
        except SwitchError as e:
            raise HTTPError(400, str(e)) from None
        return self.devnet.switches.as_json()

    def devnet_status(self, q, body):
        return {**self.devnet.switches.as_json(), "pending": self.chain.pending_count(),
                "oldest-round": self.chain.oldest_round(), "last-round": self.chain.last_round}

    def devnet_replicate(self, q, body):
        try:
            req = json.loads(body or b"{}")
            app_id, template, first, last = req["app_id"], req["template"], req["first"], req["last"]
            prefixes = [p.encode() for p in req["prefixes"]]
            counter = req["counter"].encode()
        except (ValueError, KeyError, TypeError, AttributeError):
            raise HTTPError(400, 'body must be JSON {"app_id", "template", "first", "last", "prefixes": ["p"], '
                                 '"counter"}') from None
        ints = (app_id, template, first, last)
        if not all(isinstance(n, int) and not isinstance(n, bool) and 0 < n < 2**63 for n in ints) \
                or first > last or last - first >= 100_000 or any(len(p) != 1 for p in prefixes):
            raise HTTPError(400, "ids must be positive, first <= last, at most 100,000 at once; "
                                 "prefixes one byte each")
        rnd = self.chain.replicate(app_id, template, first, last, prefixes, counter)
        return {"round": rnd, "copies": (last - first + 1) * len(prefixes)}

    def devnet_requests(self, q, body):
        return self.devnet.request_counts()

    def devnet_block(self, q, body):
        rnd = self.chain.empty_block()
        return {"round": rnd, "timestamp": self.chain.block(rnd)["ts"]}


ROUTES = [
    ("GET", r"/health", Handler.health),
    ("GET", r"/ready", Handler.health),
    ("GET", r"/versions", Handler.versions),
    ("GET", r"/v2/status", Handler.status),
    ("GET", r"/v2/status/wait-for-block-after/([^/]+)", Handler.wait_for_block),
    ("GET", r"/v2/transactions/params", Handler.params),
    ("POST", r"/v2/transactions", Handler.submit),
    ("GET", r"/v2/transactions/pending/([^/]+)", Handler.pending),
    ("GET", r"/v2/blocks/([^/]+)", Handler.block),
    ("GET", r"/v2/blocks/([^/]+)/logs", Handler.block_logs),
    ("GET", r"/v2/blocks/([^/]+)/txids", Handler.block_txids),
    ("GET", r"/v2/blocks/([^/]+)/hash", Handler.block_hash),
    ("GET", r"/v2/applications/([^/]+)", Handler.application),
    ("GET", r"/v2/applications/([^/]+)/boxes", Handler.boxes),
    ("GET", r"/v2/applications/([^/]+)/box", Handler.box),
    ("GET", r"/v2/accounts/([^/]+)", Handler.account),
    ("GET", r"/v2/accounts/([^/]+)/applications/([^/]+)", Handler.account_application),
    ("GET", r"/v2/accounts/([^/]+)/assets/([^/]+)", Handler.account_asset),
    ("GET", r"/v2/assets/([^/]+)", Handler.asset),
    ("POST", r"/v2/teal/compile", Handler.compile),
    ("GET", r"/v2/devmode/blocks/offset", Handler.get_offset),
    ("POST", r"/v2/devmode/blocks/offset/([^/]+)", Handler.set_offset),
    ("POST", r"/devnet/advance", Handler.devnet_advance),
    ("POST", r"/devnet/block", Handler.devnet_block),
    ("POST", r"/devnet/switches", Handler.devnet_switches),
    ("GET", r"/devnet/switches", Handler.devnet_status),
    ("GET", r"/devnet/requests", Handler.devnet_requests),
    ("POST", r"/devnet/replicate", Handler.devnet_replicate),
]


def route_name(method, path):
    """The route a request takes, its parameters as `*` ("GET /v2/blocks/*/logs"); the path
    itself when no route matches."""
    for m, pattern, _ in ROUTES:
        if m == method and re.fullmatch(pattern, path):
            return f"{m} {pattern.replace('([^/]+)', '*')}"
    return f"{method} {path}"


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_server(devnet, host, port):
    handler = type("BoundHandler", (Handler,), {"devnet": devnet})
    return Server((host, port), handler)
