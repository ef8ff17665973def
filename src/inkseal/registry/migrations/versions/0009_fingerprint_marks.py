"""fingerprint_marks: the indexes' watermark (count and id checksum per signal), kept by triggers

Revision ID: 0009
Revises: 0008

Each open compares the search index with the database by a watermark (how many fingerprint ids of a
signal, the highest, a checksum of all; see inkseal.match.index_delta). Counting and summing every row
took ~1.5 s of each start-up at 1M works. The count and checksum now live in one row per signal,
changed by triggers in the same transaction as every insert and delete of a fingerprint (whatever
writes it: the registry, a cascade from a removed file, a bulk loader), so reading them costs one
primary-key lookup; the highest id is a seek on the (signal, id) index. Filled here from the rows
already there.
"""
from alembic import op
import sqlalchemy as sa

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

# The same multiplicative hash as inkseal.match.index_delta (HASH_MUL, HASH_MOD); a migration keeps its
# own copy so it never changes under an applied revision.
_TERM = "(({id} * 2654435761) % 4294967291)"

_SQLITE = [
    f"""CREATE TRIGGER fingerprint_marks_add AFTER INSERT ON fingerprints BEGIN
        INSERT OR IGNORE INTO fingerprint_marks (signal, count, checksum) VALUES (NEW.signal, 0, 0);
        UPDATE fingerprint_marks SET count = count + 1, checksum = checksum + {_TERM.format(id='NEW.id')}
         WHERE signal = NEW.signal;
    END""",
    f"""CREATE TRIGGER fingerprint_marks_drop AFTER DELETE ON fingerprints BEGIN
        UPDATE fingerprint_marks SET count = count - 1, checksum = checksum - {_TERM.format(id='OLD.id')}
         WHERE signal = OLD.signal;
    END""",
    f"""CREATE TRIGGER fingerprint_marks_move AFTER UPDATE OF id, signal ON fingerprints BEGIN
        UPDATE fingerprint_marks SET count = count - 1, checksum = checksum - {_TERM.format(id='OLD.id')}
         WHERE signal = OLD.signal;
        INSERT OR IGNORE INTO fingerprint_marks (signal, count, checksum) VALUES (NEW.signal, 0, 0);
        UPDATE fingerprint_marks SET count = count + 1, checksum = checksum + {_TERM.format(id='NEW.id')}
         WHERE signal = NEW.signal;
    END""",
]

_POSTGRES = [
    f"""CREATE FUNCTION inkseal_fingerprint_marks() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('DELETE', 'UPDATE') THEN
            UPDATE fingerprint_marks SET count = count - 1,
                   checksum = checksum - {_TERM.format(id='OLD.id::bigint')} WHERE signal = OLD.signal;
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            INSERT INTO fingerprint_marks (signal, count, checksum)
            VALUES (NEW.signal, 1, {_TERM.format(id='NEW.id::bigint')})
            ON CONFLICT (signal) DO UPDATE SET count = fingerprint_marks.count + 1,
                   checksum = fingerprint_marks.checksum + EXCLUDED.checksum;
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER fingerprint_marks_add AFTER INSERT ON fingerprints
       FOR EACH ROW EXECUTE FUNCTION inkseal_fingerprint_marks()""",
    """CREATE TRIGGER fingerprint_marks_drop AFTER DELETE ON fingerprints
       FOR EACH ROW EXECUTE FUNCTION inkseal_fingerprint_marks()""",
    """CREATE TRIGGER fingerprint_marks_move AFTER UPDATE OF id, signal ON fingerprints
       FOR EACH ROW EXECUTE FUNCTION inkseal_fingerprint_marks()""",
]


def upgrade() -> None:
    op.create_table(
        'fingerprint_marks',
        sa.Column('signal', sa.String(40), primary_key=True),
        sa.Column('count', sa.BigInteger(), nullable=False),
        sa.Column('checksum', sa.BigInteger(), nullable=False),
    )
    bind = op.get_bind()
    id_ = "CAST(id AS BIGINT)" if bind.dialect.name == "postgresql" else "id"
    op.execute(f"INSERT INTO fingerprint_marks (signal, count, checksum) "
               f"SELECT signal, COUNT(*), SUM({_TERM.format(id=id_)}) FROM fingerprints GROUP BY signal")
    for statement in _POSTGRES if bind.dialect.name == "postgresql" else _SQLITE:
        op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    for name in ("fingerprint_marks_add", "fingerprint_marks_drop", "fingerprint_marks_move"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}" + (" ON fingerprints" if bind.dialect.name == "postgresql" else ""))
    if bind.dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS inkseal_fingerprint_marks()")
    op.drop_table('fingerprint_marks')
