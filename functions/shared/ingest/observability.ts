/**
 * Powertools logger, metrics and tracer for one function. Locally, POWERTOOLS_METRICS_DISABLED
 * (or POWERTOOLS_DEV) keeps EMF lines off the console, and the tracer stays off outside Lambda.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';

export interface Observability {
  logger: Logger;
  metrics: Metrics;
  tracer: Tracer;
  /** Same rule Powertools applies: POWERTOOLS_METRICS_DISABLED, else POWERTOOLS_DEV. */
  metricsDisabled: boolean;
}

const truthy = (value: string | undefined): boolean => value !== undefined && /^(1|true|yes|on)$/i.test(value.trim());

const metricsDisabled = (env: NodeJS.ProcessEnv): boolean =>
  env.POWERTOOLS_METRICS_DISABLED !== undefined ? truthy(env.POWERTOOLS_METRICS_DISABLED) : truthy(env.POWERTOOLS_DEV);

export const observability = (serviceName: string): Observability => ({
  logger: new Logger({ serviceName }),
  metrics: new Metrics({ serviceName, namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'Weft' }),
  tracer: new Tracer({ serviceName }),
  metricsDisabled: metricsDisabled(process.env),
});
