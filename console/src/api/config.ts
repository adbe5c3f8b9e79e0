/**
 * Where the console's API is and how it signs in, read from `console-config.json` next to the page:
 * locally the API server answers it (this origin, no sign-in); on AWS the stack writes it into the
 * console's bucket (API under `/api` of the same CloudFront origin, Cognito code flow with PKCE).
 */
export interface AuthConfig {
  authorizeUrl: string;
  tokenUrl: string;
  logoutUrl: string;
  clientId: string;
  scopes: string[];
}

export interface ConsoleConfig {
  /** Prefix of the API's paths; '' when the API shares the page's paths. */
  apiBase: string;
  auth?: AuthConfig;
}

/** Served next to the page: by the local API server, or from the console's bucket on AWS. */
export const CONSOLE_CONFIG_PATH = '/console-config.json';

export const loadConfig = async (): Promise<ConsoleConfig> => {
  // Relative to the page, wherever it is served from.
  const response = await fetch(CONSOLE_CONFIG_PATH.slice(1));
  if (!response.ok) throw new Error(`console-config.json: ${response.status}`);
  const config = (await response.json()) as Partial<ConsoleConfig>;
  return { apiBase: typeof config.apiBase === 'string' ? config.apiBase.replace(/\/+$/, '') : '', ...(config.auth ? { auth: config.auth } : {}) };
};
