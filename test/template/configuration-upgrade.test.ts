import { DEMO_TEMPLATES } from '../../scripts/seed';
import type { FieldError } from '../../src/errors/domain-error';
import {
  CONFIGURATION_SCHEMA_VERSIONS,
  LATEST_CONFIGURATION_SCHEMA_VERSION,
  upgradeConfiguration,
  type Configuration,
  type ConfigurationSchemaVersion,
} from '../../src/template/configuration-schema';
import { parseConfiguration, parseSectionOf, parseUpgradedConfiguration } from '../../src/template/configuration-validator';
import { validConfiguration } from '../support/factories';

function problemsAt(configuration: unknown, version: ConfigurationSchemaVersion): FieldError[] {
  const errors: FieldError[] = [];
  parseConfiguration(configuration, '', errors, version);
  return errors.map(({ path, message }) => ({ path, message }));
}

/** Version 1 kept resource needs among the free-form parameters. */
const withResourceParameters: Configuration = validConfiguration({
  parameters: { seed: 7, epochs: 3, gpus: 2, gpuType: 'a100', memoryGb: 64, timeLimitMinutes: 240 },
});

describe('configuration schema versions', () => {
  it('are 1 and 2, the latest 2', () => {
    expect(CONFIGURATION_SCHEMA_VERSIONS).toEqual([1, 2]);
    expect(LATEST_CONFIGURATION_SCHEMA_VERSION).toBe(2);
  });

  it.each(DEMO_TEMPLATES.map((demo) => [demo.name, demo.configuration] as const))(
    'upgrade the seeded configuration "%s" from version 1 to one valid at version 2',
    (_name, configuration) => {
      expect(problemsAt(configuration, 1)).toEqual([]);
      const upgraded = upgradeConfiguration(configuration, 1);
      expect(problemsAt(upgraded, 2)).toEqual([]);
      // None of them states resources, so the upgrade keeps them as they are.
      expect(upgraded).toEqual(configuration);
    },
  );

  it('upgrade moves resource needs from the parameters into resources, keeps the rest, and copies', () => {
    const before = structuredClone(withResourceParameters);
    expect(problemsAt(withResourceParameters, 1)).toEqual([]);
    const upgraded = upgradeConfiguration(withResourceParameters, 1);
    expect(upgraded).toEqual({
      ...withResourceParameters,
      parameters: { seed: 7, epochs: 3 },
      resources: { gpus: 2, gpuType: 'a100', memoryGb: 64, timeLimitMinutes: 240 },
    });
    expect(problemsAt(upgraded, 2)).toEqual([]);
    expect(withResourceParameters).toEqual(before);
    // Parameters holding nothing else are dropped, not left empty.
    expect(upgradeConfiguration(validConfiguration({ parameters: { gpus: 1 } }), 1)).toMatchObject({ resources: { gpus: 1 } });
    expect(upgradeConfiguration(validConfiguration({ parameters: { gpus: 1 } }), 1)).not.toHaveProperty('parameters');
    // At the latest, nothing to do.
    expect(upgradeConfiguration(upgraded, 2)).toEqual(upgraded);
  });

  it('version 2 refuses what version 1 took, and the other way round', () => {
    expect(problemsAt(withResourceParameters, 2)).toEqual(
      ['gpus', 'gpuType', 'memoryGb', 'timeLimitMinutes'].map((key) => ({ path: `/parameters/${key}`, message: 'is not allowed here' })),
    );
    const withResources = validConfiguration({ resources: { gpus: 1, cpus: 8 } });
    expect(problemsAt(withResources, 2)).toEqual([]);
    expect(problemsAt(withResources, 1)).toEqual([{ path: '/resources', message: 'is not an allowed property' }]);
    expect(problemsAt(validConfiguration({ resources: { gpus: -1, disk: 5 } }), 2)).toEqual([
      { path: '/resources/disk', message: 'is not an allowed property' },
      { path: '/resources/gpus', message: 'must be >= 0' },
    ]);
  });

  it('checks a wizard step against the section of its version: no resources step at version 1', () => {
    const errors: FieldError[] = [];
    parseSectionOf({}, 'resources', errors, 1);
    expect(errors).toEqual([
      { path: '/resources', message: 'is not a section of configuration schema version 1', configurationPointer: '/resources' },
    ]);
    const atLatest: FieldError[] = [];
    parseSectionOf({}, 'resources', atLatest, 2);
    expect(atLatest).toEqual([]);
  });

  it('say which problems the upgrade brought to light, at their paths in the upgraded configuration', () => {
    const errors: FieldError[] = [];
    const upgraded = parseUpgradedConfiguration(validConfiguration({ parameters: { gpus: 'two' } }), 1, '/configuration', errors);
    expect(upgraded).toBeUndefined();
    expect(errors.map(({ path, message }) => ({ path, message }))).toEqual([
      { path: '/configuration/resources/gpus', message: 'must be integer once upgraded from configuration schema version 1 to 2' },
    ]);
  });
});
