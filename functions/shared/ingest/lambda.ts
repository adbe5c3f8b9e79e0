/**
 * Wraps a handler with middy and the Powertools middlewares (structured logs with the Lambda
 * context, EMF metrics flushed per invocation, X-Ray when running in Lambda). The local runtime
 * may call handlers without a context; a minimal one is supplied so the middlewares behave.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { Context } from 'aws-lambda';
import type { Observability } from './observability.js';

export const localContext = (functionName: string): Context => ({
  callbackWaitsForEmptyEventLoop: false,
  functionName,
  functionVersion: '$LATEST',
  invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
  memoryLimitInMB: '1024',
  awsRequestId: globalThis.crypto.randomUUID(),
  logGroupName: `/aws/lambda/${functionName}`,
  logStreamName: 'local',
  getRemainingTimeInMillis: () => 900_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
});

export const wrapHandler = <E, R>(functionName: string, obs: Observability, base: (event: E, context: Context) => Promise<R>) => {
  const wrapped = middy(base).use(captureLambdaHandler(obs.tracer)).use(injectLambdaContext(obs.logger));
  // With metrics disabled (locally), invocations run concurrently in one process and share the
  // Metrics buffer; publishing would only warn about buffers another invocation already flushed.
  if (obs.metricsDisabled) wrapped.after(() => obs.metrics.clearMetrics());
  else wrapped.use(logMetrics(obs.metrics));
  return (event: E, context?: Context): Promise<R> => wrapped(event, context ?? localContext(functionName));
};
