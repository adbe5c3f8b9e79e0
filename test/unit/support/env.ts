/** Points the shared SDK clients at local test servers for the duration of a test file. */
import { resetClients } from '../../../functions/shared/awsClients.js';

export const useTestEnv = (vars: Record<string, string>): (() => void) => {
  const saved = new Map<string, string | undefined>();
  const all = {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    ...vars,
  };
  for (const [name, value] of Object.entries(all)) {
    saved.set(name, process.env[name]);
    process.env[name] = value;
  }
  resetClients();
  return () => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    resetClients();
  };
};
