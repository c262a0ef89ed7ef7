/**
 * The configuration JSON Schema, one per version. Every template version records the schema version it was validated
 * against; new content is written at the latest, and `upgradeConfiguration` turns an older version's configuration
 * into the latest's. The API publishes each schema unchanged so the wizard validates locally with the same rules.
 */
export interface Configuration {
  dataset: Record<string, unknown>;
  features: Array<Record<string, unknown>>;
  model: Record<string, unknown>;
  parameters?: Record<string, unknown>;
  validation?: Record<string, unknown>;
  /** Since version 2. */
  resources?: Record<string, unknown>;
}

/** The sections of the latest version; older versions have a subset (`configurationSectionsOf`). */
export const CONFIGURATION_SECTIONS = ['dataset', 'features', 'model', 'parameters', 'validation', 'resources'] as const;
export type ConfigurationSection = (typeof CONFIGURATION_SECTIONS)[number];

export const CONFIGURATION_SCHEMA_ID = 'https://tessera.dev/schemas/experiment-configuration.json';
const CONFIGURATION_SCHEMA_V2_ID = 'https://tessera.dev/schemas/experiment-configuration.v2.json';

const identifier = { type: 'string', minLength: 1, maxLength: 255 } as const;

const configurationSchemaV1 = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: CONFIGURATION_SCHEMA_ID,
  title: 'Experiment configuration',
  type: 'object',
  required: ['dataset', 'features', 'model'],
  additionalProperties: false,
  properties: {
    dataset: {
      type: 'object',
      required: ['source'],
      properties: {
        source: { ...identifier, maxLength: 2048, description: 'URI or name of the data set' },
        format: { enum: ['csv', 'parquet', 'json', 'jsonl', 'tfrecord', 'images', 'text', 'sql', 'other'] },
        target: { ...identifier, description: 'Column to predict; absent for unsupervised work' },
        rowCount: { type: 'integer', minimum: 0 },
        split: {
          type: 'object',
          properties: {
            train: { type: 'number', minimum: 0, maximum: 1 },
            validation: { type: 'number', minimum: 0, maximum: 1 },
            test: { type: 'number', minimum: 0, maximum: 1 },
          },
          additionalProperties: false,
        },
      },
    },
    features: {
      type: 'array',
      maxItems: 5000,
      items: {
        type: 'object',
        required: ['name', 'type'],
        properties: {
          name: identifier,
          type: { enum: ['numeric', 'categorical', 'text', 'datetime', 'boolean', 'image', 'embedding'] },
          transform: { type: 'string', maxLength: 255 },
          enabled: { type: 'boolean' },
        },
      },
    },
    model: {
      type: 'object',
      required: ['type'],
      properties: {
        type: { ...identifier, maxLength: 100, description: 'Algorithm, e.g. random_forest, xgboost, transformer' },
        framework: {
          enum: ['sklearn', 'xgboost', 'lightgbm', 'catboost', 'pytorch', 'tensorflow', 'keras', 'statsmodels', 'prophet', 'other'],
        },
        hyperparameters: { type: 'object' },
      },
    },
    parameters: {
      type: 'object',
      properties: {
        learningRate: { type: 'number', exclusiveMinimum: 0, maximum: 10 },
        epochs: { type: 'integer', minimum: 1, maximum: 100000 },
        batchSize: { type: 'integer', minimum: 1, maximum: 1048576 },
        seed: { type: 'integer' },
        earlyStopping: { type: 'boolean' },
      },
    },
    validation: {
      type: 'object',
      properties: {
        strategy: { enum: ['holdout', 'kfold', 'stratified_kfold', 'time_series_split', 'none'] },
        folds: { type: 'integer', minimum: 2, maximum: 100 },
        testSize: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 },
        metrics: { type: 'array', items: { type: 'string', minLength: 1, maxLength: 100 }, uniqueItems: true },
      },
    },
  },
} as const;

/** What a training run needs: version 2's `resources`, which version 1 could only hold as free-form `parameters`. */
export const RESOURCE_KEYS = ['gpus', 'gpuType', 'cpus', 'memoryGb', 'timeLimitMinutes'] as const;

/**
 * Version 2: compute needs get a section of their own, `resources`, which feeds the experiment's
 * `resourceRequirements`. Version 1's `parameters` took any key, so templates kept them there; version 2 refuses those
 * keys in `parameters`, so that they are stated in one place.
 */
const configurationSchemaV2 = {
  ...configurationSchemaV1,
  $id: CONFIGURATION_SCHEMA_V2_ID,
  description: 'Version 2: adds `resources`; the resource keys are no longer taken in `parameters`',
  properties: {
    ...configurationSchemaV1.properties,
    parameters: {
      ...configurationSchemaV1.properties.parameters,
      description: `Training parameters; ${RESOURCE_KEYS.join(', ')} belong in \`resources\``,
      properties: {
        ...configurationSchemaV1.properties.parameters.properties,
        ...(Object.fromEntries(RESOURCE_KEYS.map((key) => [key, false])) as Record<(typeof RESOURCE_KEYS)[number], false>),
      },
    },
    resources: {
      type: 'object',
      description: "What one training run needs; an experiment's `resourceRequirements` start from it",
      additionalProperties: false,
      properties: {
        gpus: { type: 'integer', minimum: 0, maximum: 64 },
        gpuType: { type: 'string', minLength: 1, maxLength: 100, description: 'e.g. a100, h100, t4' },
        cpus: { type: 'integer', minimum: 1, maximum: 1024 },
        memoryGb: { type: 'number', exclusiveMinimum: 0, maximum: 16384 },
        timeLimitMinutes: { type: 'integer', minimum: 1, maximum: 43200, description: 'Wall-clock limit of one run' },
      },
    },
  },
} as const;

const SCHEMAS = { 1: configurationSchemaV1, 2: configurationSchemaV2 } as const;
export type ConfigurationSchemaVersion = keyof typeof SCHEMAS;

/** Oldest first; the last is the latest. */
export const CONFIGURATION_SCHEMA_VERSIONS = Object.keys(SCHEMAS).map(Number) as ConfigurationSchemaVersion[];
export const LATEST_CONFIGURATION_SCHEMA_VERSION: ConfigurationSchemaVersion = 2;

export function isConfigurationSchemaVersion(value: unknown): value is ConfigurationSchemaVersion {
  return (CONFIGURATION_SCHEMA_VERSIONS as readonly unknown[]).includes(value);
}

export function configurationSchemaOf(version: ConfigurationSchemaVersion): (typeof SCHEMAS)[ConfigurationSchemaVersion] {
  return SCHEMAS[version];
}

export function configurationSectionsOf(version: ConfigurationSchemaVersion): ConfigurationSection[] {
  return Object.keys(SCHEMAS[version].properties) as ConfigurationSection[];
}

/** Each step takes a configuration valid at its version to the next version; it copies, never changes its input. */
const UPGRADES: Record<
  Exclude<ConfigurationSchemaVersion, typeof LATEST_CONFIGURATION_SCHEMA_VERSION>,
  (c: Configuration) => Configuration
> = {
  1: (configuration) => {
    const { parameters, ...rest } = structuredClone(configuration);
    const moved = Object.fromEntries(Object.entries(parameters ?? {}).filter(([key]) => isResourceKey(key)));
    if (Object.keys(moved).length === 0) return structuredClone(configuration);
    const kept = Object.fromEntries(Object.entries(parameters!).filter(([key]) => !isResourceKey(key)));
    // A resources section of its own would be an unknown key at version 1: there is nothing to merge with.
    return { ...rest, ...(Object.keys(kept).length > 0 && { parameters: kept }), resources: moved };
  },
};

function isResourceKey(key: string): boolean {
  return (RESOURCE_KEYS as readonly string[]).includes(key);
}

/**
 * A configuration valid at `from`, upgraded step by step to the latest version. The result is not checked here:
 * a value that a step moves may not fit its new place (`parameters.gpus: "two"`), so callers validate it.
 */
export function upgradeConfiguration(configuration: Configuration, from: ConfigurationSchemaVersion): Configuration {
  let upgraded = structuredClone(configuration);
  for (let version: number = from; version < LATEST_CONFIGURATION_SCHEMA_VERSION; version++) {
    upgraded = UPGRADES[version as keyof typeof UPGRADES](upgraded);
  }
  return upgraded;
}
