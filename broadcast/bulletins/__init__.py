"""Bulletins from the province's information source system (TT39): intake, idempotent receipts, landing as
programmes for approval (docs/BROADCAST.md, "Bulletins from upstream")."""
