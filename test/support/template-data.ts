import { randomUUID } from 'node:crypto';
import type { Api } from './api';
import { dataOf } from './api';
import { validConfiguration, type TestUser } from './factories';

export interface TemplateRow {
  ownerId: string;
  name?: string;
  description?: string | null;
  category?: string;
  tags?: string[];
  isPublic?: boolean;
  isActive?: boolean;
  usageCount?: number;
  /** SQL timestamptz literals; `lastUsed` null means never used. Defaults: now(), null. */
  lastUsed?: string | null;
  createdAt?: string;
  updatedAt?: string;
  /** Users it is shared with. */
  sharedWith?: string[];
}

/**
 * Templates straight into the tables, for data whose creation is not what a test is about: each gets its version 1
 * snapshot and its shares. Returns the ids in the order given.
 */
export async function insertTemplates(api: Api, rows: TemplateRow[]): Promise<string[]> {
  const ids = rows.map(() => randomUUID());
  await api.db.query(
    `insert into experiment_templates
       (id, name, description, category, tags, configuration, created_by, is_public, is_active, usage_count, last_used, created_at, updated_at)
     select id, name, description, category, tags, $2, created_by, is_public, is_active, usage_count, last_used,
            coalesce(created_at, now()), coalesce(updated_at, now())
     from jsonb_to_recordset($1::jsonb) as r(
       id uuid, name text, description text, category text, tags jsonb, created_by uuid, is_public boolean, is_active boolean,
       usage_count int, last_used timestamptz, created_at timestamptz, updated_at timestamptz)`,
    [
      JSON.stringify(
        rows.map((row, index) => ({
          id: ids[index],
          name: row.name ?? `Template ${index + 1}`,
          description: row.description ?? null,
          category: row.category ?? 'classification',
          tags: row.tags ?? [],
          created_by: row.ownerId,
          is_public: row.isPublic ?? false,
          is_active: row.isActive ?? true,
          usage_count: row.usageCount ?? 0,
          last_used: row.lastUsed ?? null,
          created_at: row.createdAt ?? null,
          updated_at: row.updatedAt ?? null,
        })),
      ),
      validConfiguration(),
    ],
  );
  await api.db.query(
    `insert into experiment_template_versions (template_id, version, name, description, category, tags, configuration, created_by)
     select id, 1, name, description, category, tags, configuration, created_by from experiment_templates where id = any($1::uuid[])`,
    [ids],
  );
  const shares = rows.flatMap((row, index) => (row.sharedWith ?? []).map((userId) => ({ template_id: ids[index], user_id: userId })));
  if (shares.length > 0) {
    await api.db.query(
      `insert into experiment_template_shares (template_id, user_id, shared_by)
       select s.template_id, s.user_id, t.created_by
       from jsonb_to_recordset($1::jsonb) as s(template_id uuid, user_id uuid)
       join experiment_templates t on t.id = s.template_id`,
      [JSON.stringify(shares)],
    );
  }
  return ids;
}

/** A tag no other test uses: filtering on it keeps a test to its own rows, public ones of other tests included. */
export function uniqueTag(prefix = 'test'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export const CREATE_TEMPLATE = /* GraphQL */ `
  mutation Create($input: CreateTemplateInput!) {
    createTemplate(input: $input) {
      id
      name
      version
      isPublic
      isActive
      tags
      owner {
        id
      }
    }
  }
`;

/** A template made through the API, the way clients make them. */
export async function createTemplateVia(
  api: Api,
  owner: TestUser,
  input: Record<string, unknown> = {},
): Promise<{ id: string; name: string; version: number }> {
  const response = await api.graphql(CREATE_TEMPLATE, {
    as: owner,
    variables: {
      input: {
        name: 'Churn classifier',
        description: 'Predicts churn from usage data',
        category: 'CLASSIFICATION',
        tags: ['churn', 'tabular'],
        configuration: validConfiguration(),
        ...input,
      },
    },
  });
  return dataOf(response).createTemplate;
}

/** The ids of one `templates` page, with its page info (and the total unless `withTotal` is false), for a caller. */
export async function listIds(
  api: Api,
  as: TestUser | null,
  args: { filter?: unknown; orderBy?: unknown; first?: number; after?: string | null } = {},
  { withTotal = true } = {},
): Promise<{ ids: string[]; hasNextPage: boolean; endCursor: string | null; totalCount?: number }> {
  const response = await api.graphql(
    `query List($filter: TemplateFilter, $orderBy: TemplateOrder, $first: Int, $after: String) {
       templates(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
         edges { cursor node { id } }
         pageInfo { hasNextPage endCursor }
         ${withTotal ? 'totalCount' : ''}
       }
     }`,
    { as, variables: { first: 100, ...args } },
  );
  const { templates } = dataOf(response);
  return {
    ids: templates.edges.map((edge: { node: { id: string } }) => edge.node.id),
    hasNextPage: templates.pageInfo.hasNextPage,
    endCursor: templates.pageInfo.endCursor,
    totalCount: templates.totalCount,
  };
}
