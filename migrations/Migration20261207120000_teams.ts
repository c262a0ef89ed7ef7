import { Migration } from '@mikro-orm/migrations';

/**
 * Teams, their members with a role each, and templates shared with teams (src/team/). New tables, so no live traffic
 * to protect: a transactional migration, indexes built in place. Nothing existing changes: every template stays
 * visible to exactly whom it was.
 *
 * `external_id` names the identity provider's group a team follows (TEAMS_CLAIM): unique where set, null for teams
 * managed only in Tessera. A team outlives its creator (`created_by` becomes null); members and shares go with their
 * team, user or template.
 */
export class Migration20261207120000_teams extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table teams (
        id uuid primary key default gen_random_uuid(),
        name text not null,
        external_id text null,
        created_by uuid null,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        constraint teams_external_id_unique unique (external_id),
        constraint teams_created_by_foreign foreign key (created_by) references users (id) on delete set null,
        constraint teams_name_check check (length(btrim(name)) between 1 and 255),
        constraint teams_external_id_check check (length(btrim(external_id)) between 1 and 255)
      )`);
    this.addSql(`
      create table team_members (
        team_id uuid not null,
        user_id uuid not null,
        role text not null default 'member',
        added_at timestamptz not null default now(),
        constraint team_members_pkey primary key (team_id, user_id),
        constraint team_members_team_id_foreign foreign key (team_id) references teams (id) on delete cascade,
        constraint team_members_user_id_foreign foreign key (user_id) references users (id) on delete cascade,
        constraint team_members_role_check check (role in ('member', 'maintainer'))
      )`);
    // The visibility rule and `myTeams` start from the caller: their memberships by user.
    this.addSql(`create index team_members_user_id_index on team_members (user_id, team_id)`);
    this.addSql(`
      create table experiment_template_team_shares (
        template_id uuid not null,
        team_id uuid not null,
        shared_by uuid null,
        shared_at timestamptz not null default now(),
        constraint experiment_template_team_shares_pkey primary key (template_id, team_id),
        constraint experiment_template_team_shares_template_id_foreign foreign key (template_id) references experiment_templates (id) on delete cascade,
        constraint experiment_template_team_shares_team_id_foreign foreign key (team_id) references teams (id) on delete cascade,
        constraint experiment_template_team_shares_shared_by_foreign foreign key (shared_by) references users (id) on delete set null
      )`);
    // SHARED_WITH_ME starts from the caller's teams: their shares by team.
    this.addSql(`create index experiment_template_team_shares_team_id_index on experiment_template_team_shares (team_id, template_id)`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists experiment_template_team_shares`);
    this.addSql(`drop table if exists team_members`);
    this.addSql(`drop table if exists teams`);
  }
}
