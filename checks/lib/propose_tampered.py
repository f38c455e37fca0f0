"""Submit a deploy proposal whose diff hash does not match its commits (VM tests only).

dao-agentctl computes the diff hash itself and cannot lie; a malicious proposer with their own
client can. This script is that client: it calls the app's ARC-4 method `propose` with the given
base and head and a hash that is NOT the canonical diff hash of base..head, so the tests can check
that every host refuses the change.

    python3 propose_tampered.py ALGOD_URL TOKEN_FILE APP_ID MNEMONIC_FILE BASE HEAD HOST_ID
"""

import hashlib
import sys

from algosdk import account, mnemonic, transaction
from algosdk.abi import Method
from algosdk.atomic_transaction_composer import (
    AccountTransactionSigner,
    AtomicTransactionComposer,
    TransactionWithSigner,
)
from algosdk.encoding import decode_address
from algosdk.logic import get_application_address
from algosdk.v2client.algod import AlgodClient

PROPOSE = Method.from_signature(
    "propose(pay,uint8,byte[20],byte[20],byte[32],bool,uint64[],string)uint64"
)
PROPOSAL_HEADER = 176  # agent/chain/src/decode.rs


def box_cost(key_len: int, value_len: int) -> int:
    return 2_500 + 400 * (key_len + value_len)


def main() -> None:
    url, token_file, app_id, key_file, base, head, host = sys.argv[1:8]
    app_id, host = int(app_id), int(host)
    with open(token_file) as f:
        token = f.read().strip()
    client = AlgodClient(token, url)
    with open(key_file) as f:
        secret = mnemonic.to_private_key(f.read().strip())
    sender = account.address_from_private_key(secret)
    signer = AccountTransactionSigner(secret)

    state = client.application_info(app_id)["params"]["global-state"]
    count = next(
        kv["value"]["uint"] for kv in state if kv["key"] == "cHJvcG9zYWxfY291bnQ="
    )
    proposal_box = b"p" + (count + 1).to_bytes(8, "big")
    member_box = b"m" + decode_address(sender)

    # The hash of something else entirely: well-formed, but not the change base..head.
    wrong_hash = hashlib.sha256(b"not the canonical diff hash of " + bytes.fromhex(head)).digest()
    description = "http://git/fleet/tampered"
    payload_len = 77 + 2 + 8 + 2 + len(description)  # deploy_payload_len(1 host, url)

    sp = client.suggested_params()
    pay = transaction.PaymentTxn(
        sender,
        sp,
        get_application_address(app_id),
        box_cost(len(proposal_box), PROPOSAL_HEADER + payload_len),
    )
    atc = AtomicTransactionComposer()
    atc.add_method_call(
        app_id=app_id,
        method=PROPOSE,
        sender=sender,
        sp=sp,
        signer=signer,
        method_args=[
            TransactionWithSigner(pay, signer),
            0,
            bytes.fromhex(base),
            bytes.fromhex(head),
            wrong_hash,
            False,
            [host],
            description,
        ],
        boxes=[(app_id, proposal_box), (app_id, member_box)],
    )
    result = atc.execute(client, 4)
    print(result.abi_results[0].return_value)


if __name__ == "__main__":
    main()
