"""journal chains: each account's journal in the registry database, beside the install's own

Revision ID: 0011
Revises: 0010

A journal is one signed, append-only chain with one key, and on a shared install each account signs with its
own keys (inkseal.app.Inkseal.author). Their chains now live in the registry's own tables, so a PostgreSQL
install keeps every journal in its database of record: `chain` = 0 is the install's own journal (the CLI, the
single local user; every existing row), `chain` = N is account N's. `seq` is gap-free per chain, so its
uniqueness moves from `seq` to (chain, seq); checkpoints name their chain too.
"""
from alembic import op
import sqlalchemy as sa

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# SQLite cannot drop a constraint it never named: batch mode names it by this convention, then rebuilds the table.
_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    bind = op.get_bind()
    chain = sa.Column('chain', sa.Integer(), nullable=False, server_default='0')
    if bind.dialect.name == "postgresql":
        op.add_column('journal_entries', chain)
        # PostgreSQL's name for the constraint 0002 made, or the one a downgrade of this revision made
        op.execute("ALTER TABLE journal_entries DROP CONSTRAINT IF EXISTS journal_entries_seq_key")
        op.execute("ALTER TABLE journal_entries DROP CONSTRAINT IF EXISTS uq_journal_entries_seq")
        op.create_unique_constraint('uq_journal_entries_chain_seq', 'journal_entries', ['chain', 'seq'])
    else:
        with op.batch_alter_table('journal_entries', recreate='always', naming_convention=_NAMES) as batch_op:
            batch_op.add_column(chain)
            batch_op.drop_constraint('uq_journal_entries_seq', type_='unique')
            batch_op.create_unique_constraint('uq_journal_entries_chain_seq', ['chain', 'seq'])
    op.add_column('journal_checkpoints', sa.Column('chain', sa.Integer(), nullable=False, server_default='0'))
    op.create_index('ix_journal_checkpoints_chain_size', 'journal_checkpoints', ['chain', 'size'])


def downgrade() -> None:
    op.drop_index('ix_journal_checkpoints_chain_size', 'journal_checkpoints')
    with op.batch_alter_table('journal_checkpoints') as batch_op:
        batch_op.drop_column('chain')
    with op.batch_alter_table('journal_entries', recreate='always') as batch_op:
        batch_op.drop_constraint('uq_journal_entries_chain_seq', type_='unique')
        batch_op.drop_column('chain')
        batch_op.create_unique_constraint('uq_journal_entries_seq', ['seq'])
