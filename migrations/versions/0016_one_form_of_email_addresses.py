"""users.email: one form for each address (NFC, punycode domains written out), as
shop.accounts.services.normalise_email now stores them, so sign-in still finds accounts
stored in another form; an address whose new form another account has is left as it is

Revision ID: 0016
Revises: 0015
"""

import unicodedata

from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def _label(label: str) -> str:
    if not label.startswith('xn--'):
        return label
    try:
        return unicodedata.normalize('NFC', label.encode('ascii').decode('idna')).lower()
    except UnicodeError:
        return label


def _normalised(email: str) -> str:
    email = unicodedata.normalize('NFC', email.strip()).lower()
    local, at, domain = email.rpartition('@')
    if not at:
        return email
    return f"{local}@{'.'.join(_label(part) for part in domain.split('.'))}"


def upgrade() -> None:
    users = sa.table('users', sa.column('id', sa.Integer), sa.column('email', sa.String))
    connection = op.get_bind()
    rows = connection.execute(sa.select(users.c.id, users.c.email).where(users.c.email.isnot(None)))
    taken = {}
    changes = []
    for user_id, email in rows:
        taken[email] = user_id
        new = _normalised(email)
        if new != email:
            changes.append((user_id, new))
    for user_id, new in changes:
        if new not in taken:
            connection.execute(users.update().where(users.c.id == user_id).values(email=new))
            taken[new] = user_id


def downgrade() -> None:
    pass  # the old forms are not kept; both forms reach the same mailbox
