import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import {
  Alarm,
  Dashboard,
  GraphWidget,
  Metric,
  TextWidget,
  AlarmStatusWidget,
} from 'aws-cdk-lib/aws-cloudwatch';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import type { EnvironmentConfig } from '../config/environments.js';
import type { IngestBranch } from '../ingest/IngestPipeline.js';
import { alarmFactory } from './alarms.js';
import type { IngestQueue } from '../ingest/IngestQueue.js';
import type { TritonEndpoint } from '../inference/TritonEndpoint.js';
import type { WeftFunction } from '../functions/WeftFunction.js';
import type { ProductsApi } from '../api/ProductsApi.js';

export interface OperationsProps {
  readonly config: EnvironmentConfig;
  readonly branches: readonly IngestBranch[];
  readonly endpoints: readonly TritonEndpoint[];
  readonly api: { readonly function: WeftFunction; readonly http: ProductsApi };
  readonly asyncErrorTopics?: readonly Topic[];
  /** Async mode: the notification queue and the function completing async requests. */
  readonly asyncResults?: { readonly queue: IngestQueue; readonly function: WeftFunction };
}

/** Alarms on everything that loses or delays products, one SNS topic for them, one dashboard. */
export class Operations extends Construct {
  readonly alarmTopic: Topic;
  readonly alarms: Alarm[] = [];
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: OperationsProps) {
    super(scope, id);
    const { config } = props;
    const key = new Key(this, 'AlarmTopicKey', {
      description: 'Encrypts the Weft alarm topic',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // CloudWatch publishes alarm notifications to the encrypted topic with this key.
    key.grant(new ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
    this.alarmTopic = new Topic(this, 'AlarmTopic', { masterKey: key, enforceSSL: true, displayName: `Weft ${config.name} alarms` });
    if (config.alarms.email) this.alarmTopic.addSubscription(new EmailSubscription(config.alarms.email));
    const alarm = alarmFactory(this, this.alarmTopic, this.alarms);
    const fiveMinutes = Duration.minutes(5);

    for (const branch of props.branches) {
      const label = `${branch.name}`;
      alarm(
        `${cap(label)}DeadLetters`,
        branch.queue.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: fiveMinutes, statistic: 'Maximum' }),
        config.alarms.dlqDepth,
        `${label} ingest: messages in the dead-letter queue (retries exhausted; inspect and redrive)`,
      );
      alarm(
        `${cap(label)}OldestMessage`,
        branch.queue.queue.metricApproximateAgeOfOldestMessage({ period: fiveMinutes, statistic: 'Maximum' }),
        900,
        `${label} ingest: queue backlog older than 15 minutes (endpoint down or functions throttled)`,
      );
    }
    const results = props.asyncResults;
    if (results) {
      alarm(
        'AsyncResultsDeadLetters',
        results.queue.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: fiveMinutes, statistic: 'Maximum' }),
        config.alarms.dlqDepth,
        'async inference results: notifications in the dead-letter queue (unattributable or unreadable results; their sources stay pending)',
      );
      alarm(
        'AsyncResultsOldestMessage',
        results.queue.queue.metricApproximateAgeOfOldestMessage({ period: fiveMinutes, statistic: 'Maximum' }),
        900,
        'async inference results: notifications older than 15 minutes (inference-result failing or throttled)',
      );
    }
    const functions: [string, WeftFunction][] = [
      ...props.branches.map((b): [string, WeftFunction] => [`${cap(b.name)}Ingest`, b.function]),
      ...(results ? [['InferenceResult', results.function] as [string, WeftFunction]] : []),
      ['Api', props.api.function],
    ];
    for (const [name, fn] of functions) {
      alarm(`${name}Errors`, fn.fn.metricErrors({ period: fiveMinutes, statistic: 'Sum' }), config.alarms.functionErrors, `${name}: invocation errors`);
      alarm(`${name}Throttles`, fn.fn.metricThrottles({ period: fiveMinutes, statistic: 'Sum' }), config.alarms.functionThrottles, `${name}: throttled invocations`);
    }
    for (const endpoint of props.endpoints) {
      const name = cap(endpoint.endpointName.replace(/[^A-Za-z0-9]/g, ''));
      alarm(
        `${name}5xx`,
        endpoint.metric('Invocation5XXErrors', { statistic: 'Sum', period: fiveMinutes }),
        config.alarms.endpoint5xx,
        `${endpoint.endpointName}: 5xx from the model container`,
      );
      alarm(
        `${name}ModelLatency`,
        // ModelLatency is reported in microseconds.
        endpoint.metric('ModelLatency', { statistic: 'p90', period: fiveMinutes }),
        config.alarms.modelLatencyP90Ms * 1000,
        `${endpoint.endpointName}: p90 model latency above ${config.alarms.modelLatencyP90Ms} ms`,
      );
    }
    for (const [index, topic] of (props.asyncErrorTopics ?? []).entries()) {
      alarm(
        `AsyncInferenceErrors${index === 0 ? '' : index}`,
        topic.metricNumberOfMessagesPublished({ period: fiveMinutes, statistic: 'Sum' }),
        1,
        'Async inference requests that failed inside SageMaker',
      );
    }

    this.dashboard = new Dashboard(this, 'Dashboard', { dashboardName: `Weft-${config.name}`, defaultInterval: Duration.hours(6) });
    this.dashboard.addWidgets(
      new TextWidget({ markdown: `# Weft ${config.name}\nIngest queues, functions, model endpoints and API.`, width: 24, height: 2 }),
      new AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24, height: 4 }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Queue depth',
        width: 12,
        left: [
          ...props.branches.map((b) => ({ name: b.name, queue: b.queue })),
          ...(results ? [{ name: 'async results', queue: results.queue }] : []),
        ].flatMap((b) => [
          b.queue.queue.metricApproximateNumberOfMessagesVisible({ label: `${b.name} queue` }),
          b.queue.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ label: `${b.name} DLQ` }),
        ]),
      }),
      new GraphWidget({
        title: 'Function errors / throttles',
        width: 12,
        left: functions.flatMap(([name, fn]) => [fn.fn.metricErrors({ label: `${name} errors` }), fn.fn.metricThrottles({ label: `${name} throttles` })]),
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Function duration p90 (ms)',
        width: 12,
        left: functions.map(([name, fn]) => fn.fn.metricDuration({ statistic: 'p90', label: name })),
      }),
      new GraphWidget({
        title: 'Endpoint invocations / 5xx',
        width: 12,
        left: props.endpoints.map((e) => e.metric('Invocations', { statistic: 'Sum' }).with({ label: `${e.endpointName} invocations` })),
        right: props.endpoints.map((e) => e.metric('Invocation5XXErrors', { statistic: 'Sum' }).with({ label: `${e.endpointName} 5xx` })),
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Model latency p90 (µs)',
        width: 12,
        left: props.endpoints.map((e) => e.metric('ModelLatency', { statistic: 'p90' }).with({ label: e.endpointName })),
      }),
      new GraphWidget({
        title: 'Endpoint GPU utilization (%)',
        width: 12,
        left: props.endpoints.map(
          (e) =>
            new Metric({
              namespace: '/aws/sagemaker/Endpoints',
              metricName: 'GPUUtilization',
              dimensionsMap: { EndpointName: e.endpointName, VariantName: 'AllTraffic' },
              statistic: 'Average',
              label: e.endpointName,
            }),
        ),
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'API requests / errors',
        width: 24,
        left: [props.api.http.api.metricCount({ label: 'requests' })],
        right: [props.api.http.api.metricClientError({ label: '4xx' }), props.api.http.api.metricServerError({ label: '5xx' })],
      }),
    );
  }
}

const cap = (value: string): string => value.charAt(0).toUpperCase() + value.slice(1);
