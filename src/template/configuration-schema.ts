/**
 * The one JSON Schema every template and experiment configuration is checked against.
 * The API publishes it unchanged so the wizard validates locally with the same rules.
 */
export interface Configuration {
  dataset: Record<string, unknown>;
  features: Array<Record<string, unknown>>;
  model: Record<string, unknown>;
  parameters?: Record<string, unknown>;
  validation?: Record<string, unknown>;
}

export const CONFIGURATION_SECTIONS = ['dataset', 'features', 'model', 'parameters', 'validation'] as const;
export type ConfigurationSection = (typeof CONFIGURATION_SECTIONS)[number];

export const CONFIGURATION_SCHEMA_ID = 'https://tessera.dev/schemas/experiment-configuration.json';

const identifier = { type: 'string', minLength: 1, maxLength: 255 } as const;

export const configurationSchema = {
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
