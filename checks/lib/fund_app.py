"""Pay µAlgos into the governance app's account, the treasury (VM tests only).

`dao-agentctl form` funds the app with its minimum balance alone; validators' rewards are paid
from what the treasury holds above it, so a test that claims rewards funds it first, as a DAO
would by a plain payment.

    python3 fund_app.py ALGOD_URL TOKEN_FILE APP_ID MNEMONIC_FILE MICROALGOS

Prints the app account's balance after the payment.
"""

import sys

from algosdk import account, mnemonic, transaction
from algosdk.logic import get_application_address
from algosdk.v2client.algod import AlgodClient


def main() -> None:
    url, token_file, app_id, key_file, amount = sys.argv[1:6]
    with open(token_file) as f:
        client = AlgodClient(f.read().strip(), url)
    with open(key_file) as f:
        secret = mnemonic.to_private_key(f.read().strip())
    treasury = get_application_address(int(app_id))
    pay = transaction.PaymentTxn(
        account.address_from_private_key(secret),
        client.suggested_params(),
        treasury,
        int(amount),
    )
    txid = client.send_transaction(pay.sign(secret))
    transaction.wait_for_confirmation(client, txid, 4)
    print(client.account_info(treasury)["amount"])


if __name__ == "__main__":
    main()
