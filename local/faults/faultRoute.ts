/**
 * `GET /local/faults` (what is injected, with counts) and `PUT /local/faults` with
 * `{"faults": "<WEFT_FAULTS syntax>"}` (change the rates while the stack runs, e.g. end a
 * simulated outage). PUT needs a JSON content type, which a cross-site page cannot send without
 * a CORS preflight the local API never grants. Without WEFT_FAULTS at start there is no switch:
 * the DynamoDB proxy is not in the path, so faults cannot be turned on later.
 */
import type { LocalRoute } from '../apiServer.js';
import { FaultSpecError, parseFaultSpec } from './faultSpec.js';
import type { FaultSwitch } from './FaultSwitch.js';

const OFF_MESSAGE = 'fault injection is off: start the stack with WEFT_FAULTS set (WEFT_FAULTS=off starts it with no faults but a switch) to inject faults';

export const faultRoute =
  (faults: FaultSwitch | undefined): LocalRoute =>
  async (method, path, _query, body, headers) => {
    if (path !== '/local/faults') return undefined;
    if (method === 'GET') return { status: 200, body: faults ? faults.state() : { enabled: false, message: OFF_MESSAGE } };
    if (method !== 'PUT') return { status: 405, body: { message: `${method} not allowed on /local/faults (GET, PUT)` } };
    if (!faults) return { status: 409, body: { message: OFF_MESSAGE } };
    if (!/^application\/json\s*(;|$)/i.test(headers['content-type'] ?? '')) {
      return { status: 415, body: { message: 'PUT /local/faults needs content-type: application/json and a body {"faults": "..."}' } };
    }
    let request: unknown;
    try {
      request = JSON.parse(body.toString('utf8'));
    } catch {
      return { status: 400, body: { message: 'the body is not JSON; send {"faults": "models.5xx=0.2"} or {"faults": "off"}' } };
    }
    const text = (request as { faults?: unknown } | null)?.faults;
    if (typeof text !== 'string') return { status: 400, body: { message: 'the body needs a string field "faults" in WEFT_FAULTS syntax' } };
    try {
      faults.set(parseFaultSpec(text, 'faults'));
    } catch (error) {
      if (error instanceof FaultSpecError) return { status: 400, body: { message: error.message } };
      throw error;
    }
    return { status: 200, body: faults.state() };
  };
