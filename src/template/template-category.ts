export enum TemplateCategory {
  Classification = 'classification',
  Regression = 'regression',
  Clustering = 'clustering',
  TimeSeries = 'time_series',
  AnomalyDetection = 'anomaly_detection',
  Nlp = 'nlp',
  ComputerVision = 'computer_vision',
  Recommendation = 'recommendation',
  ReinforcementLearning = 'reinforcement_learning',
  Other = 'other',
}

export const TEMPLATE_CATEGORIES = Object.values(TemplateCategory);

export function isTemplateCategory(value: unknown): value is TemplateCategory {
  return typeof value === 'string' && (TEMPLATE_CATEGORIES as string[]).includes(value);
}
