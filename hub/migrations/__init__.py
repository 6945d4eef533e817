"""The hub's SQL schema under Alembic: the migration environment (env.py, versions/) and `schema`, which
brings a database to the code's revision at start and for the `db` commands.

It sits above the composition root because only the composition root knows every feature's tables.
"""
