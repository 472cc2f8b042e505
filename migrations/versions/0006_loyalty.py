"""loyalty: tiers, memberships, points ledger, preferences, campaigns; account tokens and consents

Revision ID: 0006
Revises: 0005
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('campaigns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns')),
    sa.UniqueConstraint('key', name=op.f('uq_campaigns_key'))
    )
    op.create_table('loyalty_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_settings'))
    )
    op.create_table('loyalty_tiers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('threshold', sa.Integer(), nullable=False),
    sa.Column('discount_bp', sa.Integer(), nullable=False),
    sa.Column('multiplier_pct', sa.Integer(), nullable=False),
    sa.Column('free_shipping', sa.Boolean(), nullable=False),
    sa.Column('priority_support', sa.Boolean(), nullable=False),
    sa.Column('early_access', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_tiers')),
    sa.UniqueConstraint('name', name=op.f('uq_loyalty_tiers_name')),
    sa.UniqueConstraint('rank', name=op.f('uq_loyalty_tiers_rank'))
    )
    op.create_table('account_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=20), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('new_email', sa.String(length=254), nullable=True),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('used_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_account_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_account_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_account_tokens_token_hash'))
    )
    with op.batch_alter_table('account_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('communication_preferences',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('topic', sa.String(length=30), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=True),
    sa.Column('requested_at', sa.DateTime(), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_communication_preferences_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_communication_preferences')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_communication_preferences_token_hash')),
    sa.UniqueConstraint('user_id', 'topic', name=op.f('uq_communication_preferences_user_id'))
    )
    op.create_table('consent_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('visitor_id', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('granted', sa.Boolean(), nullable=False),
    sa.Column('detail', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_consent_records_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_records'))
    )
    with op.batch_alter_table('consent_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_records_user_id'), ['user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_consent_records_visitor_id'), ['visitor_id'], unique=False)

    op.create_table('favourite_categories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_favourite_categories_category_id_categories'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_favourite_categories_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_favourite_categories')),
    sa.UniqueConstraint('user_id', 'category_id', name=op.f('uq_favourite_categories_user_id'))
    )
    with op.batch_alter_table('favourite_categories', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_favourite_categories_user_id'), ['user_id'], unique=False)

    op.create_table('memberships',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('tier_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('points_balance', sa.Integer(), nullable=False),
    sa.Column('terms_version', sa.String(length=20), nullable=False),
    sa.Column('joined_at', sa.DateTime(), nullable=False),
    sa.Column('tier_since', sa.DateTime(), nullable=False),
    sa.Column('below_tier_since', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['tier_id'], ['loyalty_tiers.id'], name=op.f('fk_memberships_tier_id_loyalty_tiers')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_memberships_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_memberships')),
    sa.UniqueConstraint('number', name=op.f('uq_memberships_number')),
    sa.UniqueConstraint('user_id', name=op.f('uq_memberships_user_id'))
    )
    op.create_table('loyalty_notices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('membership_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('key', sa.String(length=60), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['membership_id'], ['memberships.id'], name=op.f('fk_loyalty_notices_membership_id_memberships'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_notices')),
    sa.UniqueConstraint('membership_id', 'kind', 'key', name=op.f('uq_loyalty_notices_membership_id'))
    )
    op.create_table('loyalty_tier_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('membership_id', sa.Integer(), nullable=False),
    sa.Column('from_tier_id', sa.Integer(), nullable=True),
    sa.Column('to_tier_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['from_tier_id'], ['loyalty_tiers.id'], name=op.f('fk_loyalty_tier_changes_from_tier_id_loyalty_tiers')),
    sa.ForeignKeyConstraint(['membership_id'], ['memberships.id'], name=op.f('fk_loyalty_tier_changes_membership_id_memberships'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['to_tier_id'], ['loyalty_tiers.id'], name=op.f('fk_loyalty_tier_changes_to_tier_id_loyalty_tiers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loyalty_tier_changes'))
    )
    with op.batch_alter_table('loyalty_tier_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loyalty_tier_changes_membership_id'), ['membership_id'], unique=False)

    op.create_table('points_ledger',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('membership_id', sa.Integer(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('reference', sa.String(length=60), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['membership_id'], ['memberships.id'], name=op.f('fk_points_ledger_membership_id_memberships'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_points_ledger_order_id_orders'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_points_ledger')),
    sa.UniqueConstraint('membership_id', 'reason', 'reference', name=op.f('uq_points_ledger_membership_id'))
    )
    with op.batch_alter_table('points_ledger', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_points_ledger_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index('ix_points_ledger_member_time', ['membership_id', 'created_at'], unique=False)

    op.create_table('campaign_sends',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('outbox_email_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_campaign_sends_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['outbox_email_id'], ['outbox_emails.id'], name=op.f('fk_campaign_sends_outbox_email_id_outbox_emails'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_campaign_sends_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign_sends')),
    sa.UniqueConstraint('campaign_id', 'user_id', name=op.f('uq_campaign_sends_campaign_id'))
    )
    with op.batch_alter_table('campaign_sends', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_sends_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('campaign', sa.String(length=40), nullable=True))
        batch_op.create_index(batch_op.f('ix_events_campaign'), ['campaign'], unique=False)

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tier_discount_pence', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('points_discount_pence', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('points_redeemed', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('campaign', sa.String(length=40), nullable=True))
        batch_op.create_index(batch_op.f('ix_orders_campaign'), ['campaign'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(length=40), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('deleted_at', sa.DateTime(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('deleted_at')
        batch_op.drop_column('phone')

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_campaign'))
        batch_op.drop_column('campaign')
        batch_op.drop_column('points_redeemed')
        batch_op.drop_column('points_discount_pence')
        batch_op.drop_column('tier_discount_pence')

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_events_campaign'))
        batch_op.drop_column('campaign')

    with op.batch_alter_table('campaign_sends', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_sends_user_id'))

    op.drop_table('campaign_sends')
    with op.batch_alter_table('points_ledger', schema=None) as batch_op:
        batch_op.drop_index('ix_points_ledger_member_time')
        batch_op.drop_index(batch_op.f('ix_points_ledger_expires_at'))

    op.drop_table('points_ledger')
    with op.batch_alter_table('loyalty_tier_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loyalty_tier_changes_membership_id'))

    op.drop_table('loyalty_tier_changes')
    op.drop_table('loyalty_notices')
    op.drop_table('memberships')
    with op.batch_alter_table('favourite_categories', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_favourite_categories_user_id'))

    op.drop_table('favourite_categories')
    with op.batch_alter_table('consent_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_records_visitor_id'))
        batch_op.drop_index(batch_op.f('ix_consent_records_user_id'))

    op.drop_table('consent_records')
    op.drop_table('communication_preferences')
    with op.batch_alter_table('account_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_tokens_user_id'))

    op.drop_table('account_tokens')
    op.drop_table('loyalty_tiers')
    op.drop_table('loyalty_settings')
    op.drop_table('campaigns')
