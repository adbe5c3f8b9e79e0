/**
 * Pricing arithmetic of the cost bench: per-product usage (what one run counted, divided by its
 * products) × the dated list prices in bench/prices.json → dollars per million products, by
 * component, for realtime and async inference and for a re-tag, at a monthly volume.
 *
 * Endpoint hours: realtime endpoints run around the clock, `max(minInstances, instances the load
 * needs)` instances each, a fixed monthly cost spread over the month's products. Async endpoints
 * scale with the load: busy hours = model passes ÷ (throughput × utilization), plus, per endpoint,
 * one scale-from-zero episode a day held for `asyncIdleMinutesPerDay` (start-up and the scale-in
 * cooldown). The garment detector is real-time in both modes (ARCHITECTURE.md).
 */
export interface Usage {
  s3: { get: number; put: number; list: number; head: number; storedGbMonth: number };
  sqsRequests: number;
  lambda: { invocations: number; gbSeconds: number };
  dynamodb: { rru: number; wru: number; storedGbMonth: number };
  apiRequests: number;
  snsPublishes: number;
  stepFunctionsExpress: number;
  /** Model passes per product: image views, texts, detector calls. */
  model: { imageViews: number; texts: number; detectorCalls: number };
}

export interface PriceItem {
  usd: number;
}
export interface Prices {
  read: string;
  items: Record<string, PriceItem> & { sagemaker: Record<string, { usdPerHour: number }> };
  throughput: { utilization: number } & Record<string, { imageViewsPerSecond?: number; textsPerSecond?: number; detectorCallsPerSecond?: number } | number | string>;
}

export interface EndpointShape {
  instanceType: string;
  minInstances: number;
}
export interface Endpoints {
  image: EndpointShape;
  text: EndpointShape;
  detector?: EndpointShape;
}

export const COMPONENTS = ['s3', 'sqs', 'lambda', 'dynamodb', 'apiGateway', 'sns', 'stepFunctions', 'gpu', 'detector'] as const;
export type Component = (typeof COMPONENTS)[number];
export type Breakdown = Record<Component, number> & { total: number; totalWithoutGpu: number };

export const HOURS_PER_MONTH = 730;

const round = (n: number, digits = 2): number => Number(n.toFixed(digits));
const price = (prices: Prices, key: string): number => {
  const item = prices.items[key] as PriceItem | undefined;
  if (!item || typeof item.usd !== 'number') throw new Error(`bench/prices.json has no ${key}`);
  return item.usd;
};
const hourly = (prices: Prices, instanceType: string): number => {
  const p = prices.items.sagemaker[instanceType];
  if (!p) throw new Error(`bench/prices.json has no SageMaker price for ${instanceType}`);
  return p.usdPerHour;
};
const rate = (prices: Prices, instanceType: string, key: 'imageViewsPerSecond' | 'textsPerSecond' | 'detectorCallsPerSecond'): number => {
  const t = prices.throughput[instanceType];
  const r = typeof t === 'object' ? t[key] : undefined;
  if (!r) throw new Error(`bench/prices.json has no ${key} for ${instanceType}`);
  return r * prices.throughput.utilization;
};

/** Dollars per product of everything but the model endpoints. */
export const serviceCost = (u: Usage, prices: Prices): Omit<Record<Component, number>, 'gpu' | 'detector'> => ({
  s3: ((u.s3.put + u.s3.list) / 1000) * price(prices, 's3PutPer1000') + ((u.s3.get + u.s3.head) / 1000) * price(prices, 's3GetPer1000') + u.s3.storedGbMonth * price(prices, 's3StandardGbMonth'),
  sqs: (u.sqsRequests / 1e6) * price(prices, 'sqsPerMillion'),
  lambda: (u.lambda.invocations / 1e6) * price(prices, 'lambdaPerMillionRequests') + u.lambda.gbSeconds * price(prices, 'lambdaArmGbSecond'),
  dynamodb: (u.dynamodb.rru / 1e6) * price(prices, 'dynamodbPerMillionRru') + (u.dynamodb.wru / 1e6) * price(prices, 'dynamodbPerMillionWru') + u.dynamodb.storedGbMonth * price(prices, 'dynamodbGbMonth'),
  apiGateway: (u.apiRequests / 1e6) * price(prices, 'httpApiPerMillion'),
  sns: (u.snsPublishes / 1e6) * price(prices, 'snsPerMillion'),
  stepFunctions: (u.stepFunctionsExpress / 1e6) * price(prices, 'stepFunctionsExpressPerMillion'),
});

export interface EndpointHours {
  image: number;
  text: number;
  detector: number;
}

/** Instance-hours a month of each endpoint for `products` a month (see the module comment). */
export const endpointHours = (
  u: Usage,
  productsPerMonth: number,
  endpoints: Endpoints,
  prices: Prices,
  mode: 'realtime' | 'async',
  opts: { peakToAverage: number; asyncIdleMinutesPerDay: number },
): EndpointHours => {
  const seconds = HOURS_PER_MONTH * 3600;
  const busyHours = (passes: number, perSecond: number): number => (passes * productsPerMonth) / perSecond / 3600;
  const realtime = (shape: EndpointShape, passes: number, perSecond: number): number => {
    const needed = Math.ceil(((passes * productsPerMonth) / seconds) * opts.peakToAverage / perSecond);
    return Math.max(shape.minInstances, needed, 1) * HOURS_PER_MONTH;
  };
  const scaled = (passes: number, perSecond: number): number => (passes > 0 ? busyHours(passes, perSecond) + (30 * opts.asyncIdleMinutesPerDay) / 60 : 0);
  const image = rate(prices, endpoints.image.instanceType, 'imageViewsPerSecond');
  const text = rate(prices, endpoints.text.instanceType, 'textsPerSecond');
  const detector = endpoints.detector && u.model.detectorCalls > 0 ? realtime(endpoints.detector, u.model.detectorCalls, rate(prices, endpoints.detector.instanceType, 'detectorCallsPerSecond')) : 0;
  return mode === 'realtime'
    ? { image: realtime(endpoints.image, u.model.imageViews, image), text: realtime(endpoints.text, u.model.texts, text), detector }
    : { image: scaled(u.model.imageViews, image), text: scaled(u.model.texts, text), detector };
};

/** Dollars per million products, by component, at `productsPerMonth`. */
export const costPerMillion = (
  u: Usage,
  productsPerMonth: number,
  endpoints: Endpoints,
  prices: Prices,
  mode: 'realtime' | 'async',
  opts: { peakToAverage: number; asyncIdleMinutesPerDay: number } = { peakToAverage: 3, asyncIdleMinutesPerDay: 20 },
): Breakdown => {
  const services = serviceCost(u, prices);
  const hours = endpointHours(u, productsPerMonth, endpoints, prices, mode, opts);
  const perProduct = (monthly: number): number => monthly / productsPerMonth;
  const gpu = perProduct(hours.image * hourly(prices, endpoints.image.instanceType) + hours.text * hourly(prices, endpoints.text.instanceType));
  const detector = endpoints.detector && hours.detector ? perProduct(hours.detector * hourly(prices, endpoints.detector.instanceType)) : 0;
  const parts = { ...services, gpu, detector } as Record<Component, number>;
  const million = Object.fromEntries(COMPONENTS.map((c) => [c, round(parts[c] * 1e6)])) as Record<Component, number>;
  const totalWithoutGpu = round(COMPONENTS.filter((c) => c !== 'gpu' && c !== 'detector').reduce((s, c) => s + parts[c] * 1e6, 0));
  return { ...million, totalWithoutGpu, total: round(COMPONENTS.reduce((s, c) => s + parts[c] * 1e6, 0)) };
};

export const GB = 1024 ** 3;
