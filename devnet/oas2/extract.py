"""Cut the endpoints the agent uses out of go-algorand's algod.oas2.json, with everything they
reference, into algod.oas2.agent.json (the devnet's conformance test reads it).

    git -C go-algorand show COMMIT:daemon/algod/api/algod.oas2.json > /tmp/algod.oas2.json
    python3 devnet/oas2/extract.py /tmp/algod.oas2.json COMMIT

The list is what `grep -rn '"/v2/' agent/` and algonaut's calls in agent/chain/src (send,
suggested params, account) reach; keep it in step with them.
"""
import json
import os
import sys

AGENT_PATHS = {
    "/v2/status": ["get"],
    "/v2/status/wait-for-block-after/{round}": ["get"],
    "/v2/blocks/{round}": ["get"],
    "/v2/blocks/{round}/logs": ["get"],
    "/v2/applications/{application-id}": ["get"],
    "/v2/applications/{application-id}/boxes": ["get"],
    "/v2/applications/{application-id}/box": ["get"],
    "/v2/accounts/{address}": ["get"],
    "/v2/transactions/params": ["get"],
    "/v2/transactions": ["post"],
    "/v2/transactions/pending/{txid}": ["get"],
}


def refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield v
            else:
                yield from refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs(v)


def main(src, commit):
    with open(src) as f:
        spec = json.load(f)
    out = {"source": {"repository": "https://github.com/algorand/go-algorand",
                      "path": "daemon/algod/api/algod.oas2.json", "commit": commit,
                      "extracted_by": "devnet/oas2/extract.py"},
           "paths": {p: {m: spec["paths"][p][m] for m in ms} for p, ms in AGENT_PATHS.items()},
           "parameters": {}, "responses": {}, "definitions": {}}
    todo = list(refs(out["paths"]))
    while todo:
        ref = todo.pop()
        _, section, name = ref.split("/")
        if name in out[section]:
            continue
        out[section][name] = spec[section][name]
        todo.extend(refs(spec[section][name]))
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "algod.oas2.agent.json"), "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main(*sys.argv[1:3])
