import { compare, type Operation } from 'fast-json-patch';
import type { FieldError } from '../errors/domain-error';
import { sameJson } from '../validation/same-json';
import { parseStorableText } from '../validation/storable';
import { LATEST_CONFIGURATION_SCHEMA_VERSION, type Configuration, type ConfigurationSchemaVersion } from './configuration-schema';
import { parseConfiguration } from './configuration-validator';
import { isTemplateCategory, TEMPLATE_CATEGORIES, type TemplateCategory } from './template-category';

/** What a version snapshots: everything but ownership, visibility and usage. */
export interface TemplateContent {
  name: string;
  description: string | null;
  category: TemplateCategory;
  tags: string[];
  configuration: Configuration;
}

export interface TemplateContentInput {
  name?: unknown;
  description?: unknown;
  category?: unknown;
  tags?: unknown;
  configuration?: unknown;
}

export const NAME_MAX_LENGTH = 255;
export const DESCRIPTION_MAX_LENGTH = 10_000;
export const TAG_MAX_LENGTH = 50;
export const TAGS_MAX_COUNT = 30;
export const CHANGE_NOTE_MAX_LENGTH = 1_000;

const TAG_PATTERN = /^[\p{L}\p{N}][\p{L}\p{N}._+#-]*$/u;

/** Lower-case, trimmed, inner spaces as dashes, duplicates dropped: `" Deep  Learning"` and `"deep-learning"` are one tag. */
export function normalizeTag(tag: string): string {
  return tag.trim().toLowerCase().replace(/\s+/g, '-');
}

/** The content of a new template: every field checked (the configuration at `schemaVersion`), every problem reported. */
export function parseTemplateContent(
  input: TemplateContentInput,
  errors: FieldError[],
  schemaVersion: ConfigurationSchemaVersion = LATEST_CONFIGURATION_SCHEMA_VERSION,
): TemplateContent {
  const content = {
    name: parseName(input.name, '/name', errors),
    description: parseDescription(input.description, '/description', errors),
    category: parseCategory(input.category, '/category', errors),
    tags: input.tags === undefined || input.tags === null ? [] : parseTags(input.tags, '/tags', errors),
    configuration: parseRequiredConfiguration(input.configuration, errors, schemaVersion),
  };
  return content as TemplateContent;
}

/** A change to some fields of a template's content; fields left out (undefined) stay as they are. */
export function parseTemplateContentPatch(input: TemplateContentInput, errors: FieldError[]): Partial<TemplateContent> {
  const patch: Partial<TemplateContent> = {};
  if (input.name !== undefined) patch.name = parseName(input.name, '/name', errors);
  if (input.description !== undefined) patch.description = parseDescription(input.description, '/description', errors);
  if (input.category !== undefined) patch.category = parseCategory(input.category, '/category', errors);
  if (input.tags !== undefined) patch.tags = input.tags === null ? [] : parseTags(input.tags, '/tags', errors);
  if (input.configuration !== undefined) patch.configuration = parseRequiredConfiguration(input.configuration, errors);
  return patch;
}

export function parseChangeNote(note: unknown, path: string, errors: FieldError[]): string | null {
  if (note === undefined || note === null) return null;
  if (typeof note !== 'string') {
    errors.push({ path, message: 'must be a string' });
    return null;
  }
  if (parseStorableText(note, path, errors) === undefined) return null;
  const trimmed = note.trim();
  if (trimmed.length > CHANGE_NOTE_MAX_LENGTH) errors.push({ path, message: `must be at most ${CHANGE_NOTE_MAX_LENGTH} characters` });
  return trimmed || null;
}

export function contentOf(source: Omit<TemplateContent, 'description'> & { description?: string | null }): TemplateContent {
  return {
    name: source.name,
    description: source.description ?? null,
    category: source.category,
    tags: [...source.tags],
    configuration: source.configuration,
  };
}

/** JSON Patch (RFC 6902) turning one snapshot's content into another's. */
export function contentPatch(from: TemplateContent, to: TemplateContent): Operation[] {
  return compare(contentOf(from), contentOf(to));
}

const CONTENT_FIELDS = ['name', 'description', 'category', 'tags', 'configuration'] as const satisfies ReadonlyArray<keyof TemplateContent>;

/** The content fields that differ between two snapshots' contents, in a fixed order; none for the same content. */
export function changedContentFields(a: TemplateContent, b: TemplateContent): Array<keyof TemplateContent> {
  const from = contentOf(a);
  const to = contentOf(b);
  return CONTENT_FIELDS.filter((field) => !sameJson(from[field], to[field]));
}

export function parseName(value: unknown, path: string, errors: FieldError[]): string | undefined {
  if (typeof value !== 'string') {
    errors.push({ path, message: value === undefined ? 'is required' : 'must be a string' });
    return undefined;
  }
  if (parseStorableText(value, path, errors) === undefined) return undefined;
  const name = value.trim();
  if (name.length === 0) errors.push({ path, message: 'must not be empty' });
  else if (name.length > NAME_MAX_LENGTH) errors.push({ path, message: `must be at most ${NAME_MAX_LENGTH} characters` });
  return name;
}

export function parseDescription(value: unknown, path: string, errors: FieldError[]): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') {
    errors.push({ path, message: 'must be a string' });
    return null;
  }
  if (parseStorableText(value, path, errors) === undefined) return null;
  const description = value.trim();
  if (description.length > DESCRIPTION_MAX_LENGTH) {
    errors.push({ path, message: `must be at most ${DESCRIPTION_MAX_LENGTH} characters` });
  }
  return description || null;
}

function parseCategory(value: unknown, path: string, errors: FieldError[]): TemplateCategory | undefined {
  if (isTemplateCategory(value)) return value;
  errors.push({
    path,
    message: value === undefined ? 'is required' : `must be one of: ${TEMPLATE_CATEGORIES.join(', ')}`,
  });
  return undefined;
}

function parseTags(value: unknown, path: string, errors: FieldError[]): string[] {
  if (!Array.isArray(value)) {
    errors.push({ path, message: 'must be an array of strings' });
    return [];
  }
  const tags: string[] = [];
  value.forEach((raw, index) => {
    const tagPath = `${path}/${index}`;
    if (typeof raw !== 'string') return errors.push({ path: tagPath, message: 'must be a string' });
    const tag = normalizeTag(raw);
    if (tag.length === 0) return errors.push({ path: tagPath, message: 'must not be empty' });
    if (tag.length > TAG_MAX_LENGTH) return errors.push({ path: tagPath, message: `must be at most ${TAG_MAX_LENGTH} characters` });
    if (!TAG_PATTERN.test(tag)) {
      return errors.push({ path: tagPath, message: 'may hold letters, digits and . _ + # - only, starting with a letter or digit' });
    }
    if (!tags.includes(tag)) tags.push(tag);
  });
  if (tags.length > TAGS_MAX_COUNT) errors.push({ path, message: `must hold at most ${TAGS_MAX_COUNT} tags` });
  return tags;
}

function parseRequiredConfiguration(
  value: unknown,
  errors: FieldError[],
  schemaVersion: ConfigurationSchemaVersion = LATEST_CONFIGURATION_SCHEMA_VERSION,
): Configuration | undefined {
  if (value === undefined) {
    errors.push({ path: '/configuration', message: 'is required' });
    return undefined;
  }
  return parseConfiguration(value, '/configuration', errors, schemaVersion);
}
