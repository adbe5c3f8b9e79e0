/**
 * The SageMaker asynchronous inference notification (published to the endpoint config's success
 * or error topic), as documented in "Check prediction results":
 *
 *   { "awsRegion", "eventTime", "receivedTime", "invocationStatus": "Completed" | "Failed",
 *     "failureReason"?: "ClientError: …",            (Failed only)
 *     "requestParameters": { "contentType", "endpointName", "inputLocation": "s3://…" },
 *     "responseParameters": { "contentType", "outputLocation"?: "s3://…", "failureLocation"?: "s3://…" },
 *     "inferenceId", "eventVersion": "1.0", "eventSource": "aws:sagemaker", "eventName": "InferenceResult" }
 *
 * Delivered through SQS either raw (the subscription's RawMessageDelivery, which the stack sets)
 * or wrapped in the SNS envelope (`{"Type": "Notification", "Message": "<json>"}`); both are read.
 */
import { z } from 'zod';

const NotificationSchema = z.object({
  invocationStatus: z.string().min(1),
  inferenceId: z.string().min(1),
  failureReason: z.string().optional(),
  eventTime: z.string().optional(),
  requestParameters: z.object({
    endpointName: z.string().optional(),
    inputLocation: z.string().min(1),
    contentType: z.string().optional(),
  }),
  responseParameters: z
    .object({
      contentType: z.string().optional(),
      outputLocation: z.string().optional(),
      failureLocation: z.string().optional(),
    })
    .optional(),
});

export type InferenceNotification = z.infer<typeof NotificationSchema>;

export class NotificationFormatError extends Error {
  override readonly name = 'NotificationFormatError';
}

const parseJson = (text: string, what: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    throw new NotificationFormatError(`${what} is not JSON: ${text.slice(0, 200)}`);
  }
};

export const parseNotification = (body: string): InferenceNotification => {
  let message = parseJson(body, 'message body');
  const envelope = message as { Type?: unknown; Message?: unknown } | null;
  if (envelope && typeof envelope === 'object' && envelope.Type === 'Notification' && typeof envelope.Message === 'string') {
    message = parseJson(envelope.Message, 'SNS message');
  }
  const parsed = NotificationSchema.safeParse(message);
  if (!parsed.success) {
    throw new NotificationFormatError(`not a SageMaker async inference notification: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
};
