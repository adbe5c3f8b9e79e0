/**
 * The local servers listen on the loopback interface, but a web page the user has open can still
 * send requests to them: directly (a form posting to http://127.0.0.1:4569 is a "simple" request
 * that needs no CORS permission) or through DNS rebinding (attacker.example resolving to
 * 127.0.0.1, so the browser treats the local server as that site). Neither may drive the stack:
 *
 * - Host must be a loopback name (localhost, *.localhost, 127.x.x.x, [::1]) or one listed in
 *   WEFT_ALLOWED_HOSTS; a rebinding page's requests carry its own host name.
 * - Origin, when a browser sends one, must be a loopback origin (or an allowed host); `null`
 *   (sandboxed frames, file pages) is refused.
 * - Without an Origin, `Sec-Fetch-Site: cross-site` (a browser's no-cors request from another
 *   site, e.g. an <img> or <script> pointing here) is refused, except a GET that navigates the
 *   whole tab (following a link): the user sees that answer, the linking page does not.
 *
 * SDKs, the AWS CLI, curl and the weft CLI send no Origin and a loopback Host, so they pass.
 */
import type { IncomingMessage } from 'node:http';

const allowedExtraHosts = (env: NodeJS.ProcessEnv = process.env): Set<string> =>
  new Set(
    (env.WEFT_ALLOWED_HOSTS ?? '')
      .split(',')
      .map((h) => h.trim().toLowerCase())
      .filter(Boolean),
  );

export const isLoopbackHost = (hostname: string): boolean => {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
};

/** `example.com:3000` → `example.com`, `[::1]:3000` → `[::1]`. */
const hostnameOf = (host: string): string => {
  const bracketed = /^(\[[^\]]*\])(?::\d*)?$/.exec(host);
  if (bracketed) return bracketed[1]!;
  return host.replace(/:\d*$/, '');
};

/** Why the request is refused, or undefined when it may proceed. */
export const crossSiteRefusal = (req: IncomingMessage, env: NodeJS.ProcessEnv = process.env): string | undefined => {
  const extra = allowedExtraHosts(env);
  const allowed = (hostname: string): boolean => isLoopbackHost(hostname) || extra.has(hostname.toLowerCase());
  const host = req.headers.host;
  if (host !== undefined && !allowed(hostnameOf(host))) {
    return `Host ${host} is not a local name: the local stack answers only localhost, 127.0.0.1 and [::1] (WEFT_ALLOWED_HOSTS adds names)`;
  }
  const origin = req.headers.origin;
  if (origin !== undefined) {
    let hostname: string | undefined;
    try {
      const url = new URL(origin);
      if (url.protocol === 'http:' || url.protocol === 'https:') hostname = url.hostname;
    } catch {
      // Not a URL (e.g. `null`): no site the stack can trust.
    }
    if (hostname === undefined || !allowed(hostname)) return `requests from origin ${origin} are refused: only pages served from localhost may call the local stack`;
    return undefined;
  }
  const navigation = req.headers['sec-fetch-mode'] === 'navigate' && (req.method === 'GET' || req.method === 'HEAD');
  if (req.headers['sec-fetch-site'] === 'cross-site' && !navigation) return 'cross-site browser requests are refused: only pages served from localhost may call the local stack';
  return undefined;
};
