import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import {
  AllowedMethods,
  CachePolicy,
  Distribution,
  Function as CloudFrontFunction,
  FunctionCode,
  FunctionEventType,
  FunctionRuntime,
  HeadersFrameOption,
  HeadersReferrerPolicy,
  OriginRequestPolicy,
  PriceClass,
  ResponseHeadersPolicy,
  ViewerProtocolPolicy,
} from 'aws-cdk-lib/aws-cloudfront';
import { HttpOrigin, S3BucketOrigin } from 'aws-cdk-lib/aws-cloudfront-origins';
import { AccountRecovery, FeaturePlan, Mfa, OAuthScope, StandardThreatProtectionMode, UserPool, UserPoolClient, UserPoolDomain } from 'aws-cdk-lib/aws-cognito';
import { BlockPublicAccess, Bucket, BucketEncryption, type IBucket } from 'aws-cdk-lib/aws-s3';
import { BucketDeployment, Source } from 'aws-cdk-lib/aws-s3-deployment';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { CONSOLE_CONFIG_PATH, type ConsoleConfig } from '../../console/src/api/config.js';
import { REPO_ROOT } from '../config/modelArtifacts.js';
import { acknowledge, acknowledgeManagedPolicies, acknowledgeWildcards, LAMBDA_BASIC_EXECUTION } from '../nag/acknowledge.js';

/** The built console (`npm ci` and `npm run build:console` write it). */
export const CONSOLE_DIST = join(REPO_ROOT, 'console/dist');

/** Where the console's API calls go on the distribution; a viewer-request function strips it. */
export const CONSOLE_API_PREFIX = '/api';

export interface ConsoleSiteProps {
  readonly environmentName: string;
  readonly removalPolicy: RemovalPolicy;
  /** Server access logs of the site bucket and CloudFront's logs go here (prefixes `console/`, `cloudfront/`). */
  readonly accessLogs: IBucket;
  /** The uploads bucket: the API hands out presigned GET URLs of its objects, so pages load pictures from it. */
  readonly uploadsBucket: IBucket;
  readonly logRetentionDays: number;
}

/**
 * The merchandiser console on AWS: its files in a private bucket that only this distribution can
 * read (origin access control), served over HTTPS only with security headers; its API calls go to
 * `/api/*` of the same distribution (one origin, so no CORS), which forwards them to the console's
 * HTTP API (added by the stack, JWT-authorized); people sign in with a Cognito user pool
 * (authorization code flow with PKCE, no client secret in the page).
 */
export class ConsoleSite extends Construct {
  readonly bucket: Bucket;
  readonly distribution: Distribution;
  readonly userPool: UserPool;
  readonly client: UserPoolClient;
  readonly domain: UserPoolDomain;
  /** The JWT authorizer's issuer. */
  readonly issuer: string;
  readonly url: string;
  private readonly apiPrefixFunction: CloudFrontFunction;
  private readonly headers: ResponseHeadersPolicy;

  constructor(scope: Construct, id: string, props: ConsoleSiteProps) {
    super(scope, id);
    if (!existsSync(join(CONSOLE_DIST, 'index.html'))) throw new Error(`the console is not built (${CONSOLE_DIST}): run npm run build:console`);
    const stack = Stack.of(this);
    const destroy = props.removalPolicy === RemovalPolicy.DESTROY;

    this.bucket = new Bucket(this, 'Files', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      serverAccessLogsBucket: props.accessLogs,
      serverAccessLogsPrefix: 'console/',
      // The files are rebuilt from the repository on every deployment.
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });

    this.userPool = new UserPool(this, 'Users', {
      // Merchandisers are invited by an administrator; nobody signs up on their own.
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      autoVerify: { email: true },
      passwordPolicy: { minLength: 12, requireDigits: true, requireLowercase: true, requireUppercase: true, requireSymbols: true, tempPasswordValidity: Duration.days(3) },
      mfa: Mfa.REQUIRED,
      mfaSecondFactor: { otp: true, sms: false },
      accountRecovery: AccountRecovery.EMAIL_ONLY,
      featurePlan: FeaturePlan.PLUS,
      standardThreatProtectionMode: StandardThreatProtectionMode.FULL_FUNCTION,
      deletionProtection: !destroy,
      removalPolicy: props.removalPolicy,
    });
    this.domain = this.userPool.addDomain('SignIn', { cognitoDomain: { domainPrefix: `weft-console-${props.environmentName}-${stack.account}` } });
    this.issuer = `https://cognito-idp.${stack.region}.${stack.urlSuffix}/${this.userPool.userPoolId}`;

    const uploadsHost = `${props.uploadsBucket.bucketName}.s3.${stack.region}.${stack.urlSuffix}`;
    const signInHost = `${this.domain.domainName}.auth.${stack.region}.amazoncognito.com`;
    this.headers = new ResponseHeadersPolicy(this, 'SecurityHeaders', {
      comment: 'Weft console: its own scripts and styles only, pictures from presigned upload URLs, tokens from the sign-in domain',
      securityHeadersBehavior: {
        contentSecurityPolicy: {
          contentSecurityPolicy: [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            `img-src 'self' data: https://${uploadsHost}`,
            `connect-src 'self' https://${signInHost}`,
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
          ].join('; '),
          override: true,
        },
        strictTransportSecurity: { accessControlMaxAge: Duration.days(365), includeSubdomains: true, preload: false, override: true },
        contentTypeOptions: { override: true },
        frameOptions: { frameOption: HeadersFrameOption.DENY, override: true },
        referrerPolicy: { referrerPolicy: HeadersReferrerPolicy.NO_REFERRER, override: true },
        xssProtection: { protection: true, modeBlock: true, override: true },
      },
    });
    this.apiPrefixFunction = new CloudFrontFunction(this, 'ApiPrefix', {
      comment: `Strips ${CONSOLE_API_PREFIX} so the HTTP API sees its own paths`,
      runtime: FunctionRuntime.JS_2_0,
      code: FunctionCode.fromInline(
        `function handler(event) { var request = event.request; request.uri = request.uri.replace(/^\\${CONSOLE_API_PREFIX}(?=\\/|$)/, '') || '/'; return request; }`,
      ),
    });

    this.distribution = new Distribution(this, 'Distribution', {
      comment: `Weft console (${props.environmentName})`,
      defaultRootObject: 'index.html',
      priceClass: PriceClass.PRICE_CLASS_100,
      defaultBehavior: {
        origin: S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
        cachePolicy: CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: this.headers,
        compress: true,
      },
      enableLogging: true,
      logBucket: props.accessLogs,
      logFilePrefix: 'cloudfront/',
    });
    this.url = `https://${this.distribution.distributionDomainName}`;

    this.client = this.userPool.addClient('Console', {
      // A browser cannot keep a secret: a public client, the code flow with PKCE.
      generateSecret: false,
      authFlows: { userSrp: true },
      oAuth: { flows: { authorizationCodeGrant: true, implicitCodeGrant: false }, scopes: [OAuthScope.OPENID, OAuthScope.EMAIL], callbackUrls: [`${this.url}/`], logoutUrls: [`${this.url}/`] },
      preventUserExistenceErrors: true,
      accessTokenValidity: Duration.hours(1),
      idTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(1),
    });

    const signIn = `https://${signInHost}`;
    const config: ConsoleConfig = {
      apiBase: CONSOLE_API_PREFIX,
      auth: { authorizeUrl: `${signIn}/oauth2/authorize`, tokenUrl: `${signIn}/oauth2/token`, logoutUrl: `${signIn}/logout`, clientId: this.client.userPoolClientId, scopes: ['openid', 'email'] },
    };
    const deployment = new BucketDeployment(this, 'Deploy', {
      destinationBucket: this.bucket,
      sources: [Source.asset(CONSOLE_DIST), Source.jsonData(CONSOLE_CONFIG_PATH.slice(1), config)],
      distribution: this.distribution,
      distributionPaths: ['/index.html', CONSOLE_CONFIG_PATH],
      memoryLimit: 256,
      logGroup: new LogGroup(this, 'DeployLogs', { retention: props.logRetentionDays, removalPolicy: RemovalPolicy.DESTROY }),
    });

    acknowledge(this.distribution, {
      id: 'AwsSolutions-CFR1',
      reason: 'Merchandisers work from anywhere; access is decided by Cognito sign-in (MFA) and the JWT authorizer, not by country.',
    });
    acknowledge(this.distribution, {
      id: 'AwsSolutions-CFR2',
      reason: 'Static files and a JWT-authorized, throttled API behind it; a WAF web ACL (us-east-1) can be attached per deployment (docs/deployment.md).',
    });
    acknowledge(this.distribution, {
      id: 'AwsSolutions-CFR4',
      reason: 'The default *.cloudfront.net certificate, whose policy CloudFront fixes; a custom domain with an ACM certificate and TLSv1.2_2021 is the documented upgrade (docs/deployment.md).',
    });
    // BucketDeployment's function is a singleton of the stack, not a child of the deployment.
    const helper = stack.node.children.find((c) => c.node.id.startsWith('Custom::CDKBucketDeployment'));
    if (!helper) throw new Error(`BucketDeployment's helper function not found in ${stack.stackName} (${deployment.node.path})`);
    acknowledge(helper, { id: 'AwsSolutions-L1', reason: 'CDK-managed BucketDeployment helper; aws-cdk-lib chooses and updates its runtime.' });
    acknowledgeManagedPolicies(helper, [{ finding: LAMBDA_BASIC_EXECUTION, reason: 'CDK-managed BucketDeployment helper; the basic execution role only writes its logs.' }]);
    acknowledgeWildcards(helper, [
      { finding: /^Action::s3:(GetBucket|GetObject|List|DeleteObject|Abort)\*$/, reason: 'BucketDeployment copies the console files: the S3 actions CDK grants it on its asset and the site bucket.' },
      { finding: /^Resource::(<ConsoleFiles\w+\.Arn>|arn:aws:s3:::cdk-[\w-]+-assets-[^/]+)\/\*$/, reason: 'BucketDeployment reads its asset objects and writes every object of the console bucket.' },
      { finding: /^Resource::\*$/, reason: 'BucketDeployment invalidates the distribution after copying: cloudfront:CreateInvalidation has no narrower resource in the policy CDK generates.' },
    ]);
  }

  /** Sends `/api/*` of the distribution to `apiDomain` (an HTTP API's default endpoint), uncached, with every viewer header but Host. */
  routeApi(apiDomain: string): void {
    this.distribution.addBehavior(`${CONSOLE_API_PREFIX}/*`, new HttpOrigin(apiDomain), {
      viewerProtocolPolicy: ViewerProtocolPolicy.HTTPS_ONLY,
      allowedMethods: AllowedMethods.ALLOW_ALL,
      cachePolicy: CachePolicy.CACHING_DISABLED,
      originRequestPolicy: OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      responseHeadersPolicy: this.headers,
      functionAssociations: [{ function: this.apiPrefixFunction, eventType: FunctionEventType.VIEWER_REQUEST }],
    });
  }
}
