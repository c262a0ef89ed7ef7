import type { FieldError } from '../errors/domain-error';
import { escapePointerSegment } from '../validation/field-errors';
import type { Configuration } from './configuration-schema';
import { parseConfigurationSchemaVersion, parseUpgradedConfiguration } from './configuration-validator';
import { TemplateCategory } from './template-category';
import { parseTemplateContent, type TemplateContent } from './template-content';
import type { TemplateRecord, VersionRecord } from './template-rows';

/**
 * A template as a portable JSON document (`exportTemplate`, `importTemplate`, `npm run templates`): what a team keeps
 * in a repository and imports elsewhere. Categories are written as the API names them (`CLASSIFICATION`).
 */
export const TEMPLATE_DOCUMENT_FORMAT = 'tessera.template';
export const TEMPLATE_DOCUMENT_VERSION = 1;
/** What a document without `configurationSchemaVersion` is read at: the only version before version 2 existed. */
const UNSTATED_CONFIGURATION_SCHEMA_VERSION = 1;

interface DocumentContent {
  name: string;
  description: string | null;
  category: string;
  tags: string[];
  configuration: Configuration;
}

export interface TemplateDocument extends DocumentContent {
  format: typeof TEMPLATE_DOCUMENT_FORMAT;
  formatVersion: typeof TEMPLATE_DOCUMENT_VERSION;
  /** The schema version `configuration` is valid at: the template's. */
  configurationSchemaVersion: number;
  /** Where it came from: informative, never used to find anything on import. */
  source: { templateId: string; version: number; exportedAt: string };
  /** Oldest first, when asked for; an import starts a history of its own and does not read it. */
  history?: Array<DocumentContent & { version: number; configurationSchemaVersion: number; changeNote: string | null; createdAt: string }>;
}

const CATEGORY_NAMES = new Map(Object.entries(TemplateCategory).map(([name, value]) => [value as string, name]));

function contentOf(content: Omit<TemplateContent, 'configuration'> & { configuration?: Configuration }): DocumentContent {
  return {
    name: content.name,
    description: content.description ?? null,
    category: CATEGORY_NAMES.get(content.category) ?? content.category,
    tags: content.tags,
    configuration: content.configuration!,
  };
}

/** `template` read with its configuration; `history` read with configurations, in any order. */
export function templateDocumentOf(template: TemplateRecord, history: VersionRecord[] | undefined, exportedAt: Date): TemplateDocument {
  return {
    format: TEMPLATE_DOCUMENT_FORMAT,
    formatVersion: TEMPLATE_DOCUMENT_VERSION,
    configurationSchemaVersion: template.configurationSchemaVersion,
    source: { templateId: template.id, version: template.version, exportedAt: exportedAt.toISOString() },
    ...contentOf(template),
    ...(history && {
      history: [...history]
        .sort((a, b) => a.version - b.version)
        .map((version) => ({
          version: version.version,
          ...contentOf(version),
          configurationSchemaVersion: version.configurationSchemaVersion,
          changeNote: version.changeNote ?? null,
          createdAt: version.createdAt.toISOString(),
        })),
    }),
  };
}

const KNOWN_FIELDS = new Set([
  'format',
  'formatVersion',
  'configurationSchemaVersion',
  'source',
  'history',
  'name',
  'description',
  'category',
  'tags',
  'configuration',
]);

/**
 * The content of a document to import, checked as creation checks it, with every error's path inside the document
 * (`/document/configuration/model/type`); undefined when anything is wrong. The configuration is read at the document's
 * `configurationSchemaVersion` (version 1 when it has none) and upgraded to the latest: an import, like every write of
 * content, is written at the latest version.
 */
export function parseTemplateDocument(document: Record<string, unknown>, path: string, errors: FieldError[]): TemplateContent | undefined {
  const problems: FieldError[] = [];
  if (document.format !== TEMPLATE_DOCUMENT_FORMAT) problems.push({ path: '/format', message: `must be "${TEMPLATE_DOCUMENT_FORMAT}"` });
  if (document.formatVersion !== TEMPLATE_DOCUMENT_VERSION) {
    problems.push({ path: '/formatVersion', message: `must be ${TEMPLATE_DOCUMENT_VERSION}, the only version this server reads` });
  }
  const schemaVersion = parseConfigurationSchemaVersion(
    document.configurationSchemaVersion ?? UNSTATED_CONFIGURATION_SCHEMA_VERSION,
    '/configurationSchemaVersion',
    problems,
  );
  for (const key of Object.keys(document)) {
    if (!KNOWN_FIELDS.has(key)) problems.push({ path: `/${escapePointerSegment(key)}`, message: 'is not a field of a template document' });
  }
  // As the API names it (CLASSIFICATION); a stored value (classification) is taken too.
  const category =
    typeof document.category === 'string'
      ? (TemplateCategory[document.category as keyof typeof TemplateCategory] ?? document.category)
      : document.category;
  // An unknown schema version says nothing of how to read the configuration: its problems would be noise.
  const content = schemaVersion === undefined ? undefined : parseTemplateContent({ ...document, category }, problems, schemaVersion);
  if (content && problems.length === 0) {
    const configuration = parseUpgradedConfiguration(content.configuration, schemaVersion!, '/configuration', problems);
    if (configuration) content.configuration = configuration;
  }
  errors.push(...problems.map((problem) => ({ ...problem, path: `${path}${problem.path}` })));
  return problems.length === 0 ? content : undefined;
}
