import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { costPerMillion, endpointHours, serviceCost, HOURS_PER_MONTH, type Prices, type Usage } from '../../bench/costModel.js';
import { CostCounter, consumedUnits } from '../../bench/costCounters.js';
import { committedSection, renderCostSection } from '../../bench/costDocs.js';
import type { CostSection } from '../../bench/costReport.js';
import { ensureTable, startDynamo, type RunningDynamo } from '../../local/dynamodb.js';
import { tableDefinition } from '../../functions/shared/products/tableDefinition.js';

const prices: Prices = {
  read: '2026-12-02',
  items: {
    s3PutPer1000: { usd: 0.005 }, s3ListPer1000: { usd: 0.005 }, s3GetPer1000: { usd: 0.0004 }, s3StandardGbMonth: { usd: 0.023 },
    sqsPerMillion: { usd: 0.4 }, lambdaArmGbSecond: { usd: 0.0000133334 }, lambdaPerMillionRequests: { usd: 0.2 },
    dynamodbPerMillionWru: { usd: 0.625 }, dynamodbPerMillionRru: { usd: 0.125 }, dynamodbGbMonth: { usd: 0.25 },
    httpApiPerMillion: { usd: 1 }, snsPerMillion: { usd: 0.5 }, stepFunctionsExpressPerMillion: { usd: 1 },
    sagemaker: { 'ml.g4dn.xlarge': { usdPerHour: 0.736 }, 'ml.c5d.large': { usdPerHour: 0.144 } },
  } as unknown as Prices['items'],
  throughput: { utilization: 0.5, 'ml.g4dn.xlarge': { imageViewsPerSecond: 1000, textsPerSecond: 1500 }, 'ml.c5d.large': { detectorCallsPerSecond: 80 } },
};
const usage: Usage = {
  s3: { get: 4, put: 12, list: 0, head: 0, storedGbMonth: 0.002 },
  sqsRequests: 10,
  lambda: { invocations: 1, gbSeconds: 3 },
  dynamodb: { rru: 2, wru: 20, storedGbMonth: 0.00001 },
  apiRequests: 10,
  snsPublishes: 0,
  stepFunctionsExpress: 0,
  model: { imageViews: 12, texts: 1, detectorCalls: 4 },
};
const endpoints = { image: { instanceType: 'ml.g4dn.xlarge', minInstances: 1 }, text: { instanceType: 'ml.g4dn.xlarge', minInstances: 1 }, detector: { instanceType: 'ml.c5d.large', minInstances: 1 } };

describe('cost arithmetic', () => {
  it('prices each request kind per product', () => {
    const c = serviceCost(usage, prices);
    expect(c.s3).toBeCloseTo((12 / 1000) * 0.005 + (4 / 1000) * 0.0004 + 0.002 * 0.023, 12);
    expect(c.sqs).toBeCloseTo(10 * 0.4e-6, 12);
    expect(c.lambda).toBeCloseTo(0.2e-6 + 3 * 0.0000133334, 12);
    expect(c.dynamodb).toBeCloseTo(2 * 0.125e-6 + 20 * 0.625e-6 + 0.00001 * 0.25, 12);
    expect(c.apiGateway).toBeCloseTo(10e-6, 12);
  });

  it('realtime endpoints are a fixed cost: minInstances around the clock until the load needs more', () => {
    const low = endpointHours(usage, 100_000, endpoints, prices, 'realtime', { peakToAverage: 3, asyncIdleMinutesPerDay: 20 });
    expect(low).toEqual({ image: HOURS_PER_MONTH, text: HOURS_PER_MONTH, detector: HOURS_PER_MONTH });
    // 12 views × 100M / 2.628M s × 3 peak / 500 per s = 2.74 → 3 instances.
    expect(endpointHours(usage, 100_000_000, endpoints, prices, 'realtime', { peakToAverage: 3, asyncIdleMinutesPerDay: 20 }).image).toBe(3 * HOURS_PER_MONTH);
    const perMillion = costPerMillion(usage, 1_000_000, endpoints, prices, 'realtime');
    expect(perMillion.gpu).toBeCloseTo(2 * HOURS_PER_MONTH * 0.736, 2);
    expect(perMillion.detector).toBeCloseTo(HOURS_PER_MONTH * 0.144, 2);
  });

  it('async endpoints scale with the load: busy hours plus the daily idle tail; the detector stays real-time', () => {
    const h = endpointHours(usage, 10_000_000, endpoints, prices, 'async', { peakToAverage: 3, asyncIdleMinutesPerDay: 20 });
    expect(h.image).toBeCloseTo((12 * 10_000_000) / 500 / 3600 + 10, 6);
    expect(h.text).toBeCloseTo(10_000_000 / 750 / 3600 + 10, 6);
    // 4 calls × 10M / 2.628M s × 3 peak / 40 per s = 1.14 → 2 instances, in async mode too.
    expect(h.detector).toBe(2 * HOURS_PER_MONTH);
    const b = costPerMillion(usage, 10_000_000, endpoints, prices, 'async');
    expect(b.total).toBeCloseTo(b.totalWithoutGpu + b.gpu + b.detector, 1);
  });
});

describe('counting middleware on a real dynalite', () => {
  let dynamo: RunningDynamo;
  let home: string;
  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'weft-cost-test-'));
    dynamo = await startDynamo({ directory: join(home, 'db'), port: 0 });
    await ensureTable(dynamo.url, tableDefinition('cost-test'), 'cost-test');
  });
  afterAll(async () => {
    await dynamo.stop();
    rmSync(home, { recursive: true, force: true });
  });

  it('asks for ConsumedCapacity on every call and sums the units dynalite reports, index writes estimated', async () => {
    const client = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: dynamo.url, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } }));
    const counter = new CostCounter();
    counter.countDynamo(client, 'bench');
    await counter.invoke('image-ingest', { queue: 'image', records: 3 }, async () => {
      // ~2.5 KB item: 3 write units; with the GSI key set, counted again as index units.
      await client.send(new PutCommand({ TableName: 'cost-test', Item: { pk: 'a', sk: 'b', gsi1pk: 'g', gsi1sk: 's', blob: 'x'.repeat(2500) } }));
      await client.send(new GetCommand({ TableName: 'cost-test', Key: { pk: 'a', sk: 'b' }, ConsistentRead: true }));
    });
    await client.send(new GetCommand({ TableName: 'cost-test', Key: { pk: 'a', sk: 'b' } }));
    expect(counter.counts.calls['image-ingest dynamodb PutItemCommand']).toMatchObject({ calls: 1, units: 3, indexUnits: 3 });
    expect(counter.counts.calls['image-ingest dynamodb GetItemCommand']).toMatchObject({ calls: 1, units: 1 });
    expect(counter.counts.calls['bench dynamodb GetItemCommand']).toMatchObject({ calls: 1, units: 0.5 });
    expect(counter.counts.queues.image).toEqual({ batches: 1, messages: 3 });
    expect(counter.counts.invocations['image-ingest']?.invocations).toBe(1);
    client.destroy();
  });

  it('sums batch answers', () => {
    expect(consumedUnits([{ CapacityUnits: 1.5 }, { CapacityUnits: 2 }])).toBe(3.5);
    expect(consumedUnits(undefined)).toBe(0);
  });
});

describe('deployment guide cost table', () => {
  it('is what npm run cost:docs generates from bench/cost.json', () => {
    const { cost } = JSON.parse(readFileSync('bench/cost.json', 'utf8')) as { cost: CostSection };
    expect(committedSection(readFileSync('docs/deployment.md', 'utf8'))).toBe(renderCostSection(cost).trim());
  });
});
