"""Drop the index of responses by collaborator: no query reads responses by collaborator.

Who answered is counted by receipts; a collaborator is deactivated, never deleted, so no
foreign-key check looks for their responses either. Each personal answer paid for this
index with one more B-tree leaf written in its commit and the instructions to update it
(measured with bench/submit_instructions.py).
"""

from playhouse.migrate import make_index_name

INDEX = make_index_name("response", ["collaborator_id"])


def up(migrator, db):
    """Drop the responses' collaborator index."""
    migrator.migrate(migrator.drop_index("response", INDEX))


def down(migrator, db):
    """Put the responses' collaborator index back."""
    migrator.migrate(migrator.add_index("response", ["collaborator_id"], False))
