"""Result rows and what is computed from them: ranking, bests, SotA, charts, the ledger."""
