import { registerEnumType } from 'type-graphql';

export enum TemplateCategory {
  CLASSIFICATION = 'classification',
  REGRESSION = 'regression',
  CLUSTERING = 'clustering',
  TIME_SERIES = 'time_series',
  ANOMALY_DETECTION = 'anomaly_detection',
  NLP = 'nlp',
  COMPUTER_VISION = 'computer_vision',
  RECOMMENDATION = 'recommendation',
  REINFORCEMENT_LEARNING = 'reinforcement_learning',
  OTHER = 'other',
}

export const TEMPLATE_CATEGORIES = Object.values(TemplateCategory);

export function isTemplateCategory(value: unknown): value is TemplateCategory {
  return typeof value === 'string' && (TEMPLATE_CATEGORIES as string[]).includes(value);
}

registerEnumType(TemplateCategory, { name: 'TemplateCategory', description: 'The kind of machine learning task a template sets up' });
