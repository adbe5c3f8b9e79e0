/**
 * The console on AWS as synthesized: a private bucket only CloudFront reads (origin access
 * control), HTTPS only with security headers, `/api/*` to a JWT-authorized HTTP API over the same
 * routes, Cognito with the code flow for a public client, and the machine API still on IAM.
 */
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentRoutes } from '../../functions/api/openapi/document.js';
import { resourcesOfType, synthesize, type Synthesized } from './synthesize.js';

let dev: Synthesized;

beforeAll(() => {
  dev = synthesize('dev');
}, 300_000);

afterAll(() => {
  if (dev) rmSync(dev.outdir, { recursive: true, force: true });
});

const logicalId = (construct: { node: { defaultChild?: unknown } }): string => dev.stack.getLogicalId(construct.node.defaultChild as never);

describe('console site', () => {
  it('keeps its files in a private bucket that only the distribution reads, through origin access control', () => {
    const bucketId = logicalId(dev.stack.console.bucket);
    const bucket = dev.json.Resources[bucketId]!;
    expect(bucket.Properties?.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(bucket.Properties?.WebsiteConfiguration).toBeUndefined();
    dev.template.resourceCountIs('AWS::CloudFront::OriginAccessControl', 1);
    dev.template.hasResourceProperties('AWS::CloudFront::OriginAccessControl', { OriginAccessControlConfig: { OriginAccessControlOriginType: 's3', SigningBehavior: 'always', SigningProtocol: 'sigv4' } });
    const policies = resourcesOfType(dev.json, 'AWS::S3::BucketPolicy').filter(([, p]) => JSON.stringify(p.Properties?.Bucket).includes(bucketId));
    const statements = policies.flatMap(([, p]) => p.Properties?.PolicyDocument.Statement as { Effect: string; Principal?: unknown; Action: unknown; Condition?: unknown }[]);
    const reads = statements.filter((s) => s.Effect === 'Allow');
    const distributionId = logicalId(dev.stack.console.distribution);
    expect(reads.filter((r) => JSON.stringify(r.Principal) === JSON.stringify({ Service: 'cloudfront.amazonaws.com' }) && JSON.stringify(r.Condition).includes(distributionId))).toHaveLength(1);
    // Nobody else but CDK's own empty-the-bucket role (removal) is allowed anything.
    for (const read of reads.filter((r) => JSON.stringify(r.Principal).includes('cloudfront') === false)) expect(JSON.stringify(read.Principal)).toContain('CustomS3AutoDeleteObjectsCustomResourceProviderRole');
    // Plain HTTP to the bucket is refused.
    expect(statements.some((s) => s.Effect === 'Deny' && JSON.stringify(s.Condition).includes('aws:SecureTransport'))).toBe(true);
  });

  it('serves over HTTPS only, with security headers, logs, and /api/* forwarded uncached to the console API', () => {
    const [, distribution] = resourcesOfType(dev.json, 'AWS::CloudFront::Distribution')[0]!;
    const config = distribution.Properties?.DistributionConfig;
    expect(config.DefaultCacheBehavior.ViewerProtocolPolicy).toBe('https-only');
    expect(config.DefaultRootObject).toBe('index.html');
    expect(config.Logging.Prefix).toBe('cloudfront/');
    const api = (config.CacheBehaviors as { PathPattern: string; ViewerProtocolPolicy: string; FunctionAssociations?: unknown[]; AllowedMethods: string[] }[]).find((b) => b.PathPattern === '/api/*')!;
    expect(api.ViewerProtocolPolicy).toBe('https-only');
    expect(api.AllowedMethods).toEqual(expect.arrayContaining(['GET', 'PUT', 'DELETE']));
    expect(api.FunctionAssociations).toHaveLength(1);
    const origin = (config.Origins as { Id: string; DomainName: unknown; CustomOriginConfig?: { OriginProtocolPolicy: string; OriginSSLProtocols: string[] } }[]).find((o) => JSON.stringify(o.DomainName).includes(logicalId(dev.stack.consoleApi.api)))!;
    expect(origin.CustomOriginConfig?.OriginProtocolPolicy).toBe('https-only');
    expect(origin.CustomOriginConfig?.OriginSSLProtocols).toEqual(['TLSv1.2']);
    dev.template.hasResourceProperties('AWS::CloudFront::ResponseHeadersPolicy', {
      ResponseHeadersPolicyConfig: {
        SecurityHeadersConfig: Match.objectLike({
          ContentSecurityPolicy: { ContentSecurityPolicy: Match.anyValue(), Override: true },
          StrictTransportSecurity: Match.objectLike({ AccessControlMaxAgeSec: 31536000 }),
          ContentTypeOptions: { Override: true },
          FrameOptions: { FrameOption: 'DENY', Override: true },
          ReferrerPolicy: { ReferrerPolicy: 'no-referrer', Override: true },
        }),
      },
    });
    const csp = JSON.stringify(resourcesOfType(dev.json, 'AWS::CloudFront::ResponseHeadersPolicy')[0]![1].Properties);
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    // The function only strips the prefix.
    const [, fn] = resourcesOfType(dev.json, 'AWS::CloudFront::Function')[0]!;
    expect(fn.Properties?.FunctionCode).toContain("replace(/^\\/api(?=\\/|$)/, '')");
  });

  it('signs people in with Cognito: invited users, strong passwords, MFA, the code flow for a public client', () => {
    dev.template.hasResourceProperties('AWS::Cognito::UserPool', {
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      MfaConfiguration: 'ON',
      UserPoolTier: 'PLUS',
      Policies: { PasswordPolicy: Match.objectLike({ MinimumLength: 12, RequireSymbols: true, RequireUppercase: true, RequireNumbers: true }) },
    });
    dev.template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      GenerateSecret: false,
      AllowedOAuthFlows: ['code'],
      AllowedOAuthFlowsUserPoolClient: true,
      CallbackURLs: [Match.objectLike({ 'Fn::Join': Match.anyValue() })],
    });
    dev.template.resourceCountIs('AWS::Cognito::UserPoolDomain', 1);
  });

  it('authorizes the console API with Cognito JWTs on every route but the public document, and keeps IAM for machine clients', () => {
    const consoleApi = logicalId(dev.stack.consoleApi.api);
    const machineApi = logicalId(dev.stack.api.api);
    dev.template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', { ApiId: { Ref: consoleApi }, AuthorizerType: 'JWT', JwtConfiguration: { Audience: [Match.anyValue()], Issuer: Match.anyValue() } });
    const routes = resourcesOfType(dev.json, 'AWS::ApiGatewayV2::Route');
    const of = (apiId: string) => routes.filter(([, r]) => (r.Properties?.ApiId as { Ref: string }).Ref === apiId).map(([, r]) => r.Properties!);
    const publicPaths = new Set(documentRoutes(dev.stack.apiDocument).filter((r) => r.public).map((r) => `${r.method} ${r.path}`));
    expect(of(consoleApi)).toHaveLength(of(machineApi).length);
    for (const route of of(consoleApi)) {
      const expected = publicPaths.has(route.RouteKey as string) ? 'NONE' : 'JWT';
      expect(route.AuthorizationType ?? 'NONE', route.RouteKey as string).toBe(expected);
    }
    expect(of(consoleApi).map((r) => r.RouteKey)).toEqual(expect.arrayContaining(['GET /products', 'GET /review', 'PUT /products/{vendor}/{productId}/attributes/{task}']));
    expect(of(machineApi).filter((r) => !publicPaths.has(r.RouteKey as string)).every((r) => r.AuthorizationType === 'AWS_IAM')).toBe(true);
  });

  it("tells the api function the console authorizer's issuer and audience, so the document it serves states the JWT scheme beside SigV4", () => {
    const consoleApi = logicalId(dev.stack.consoleApi.api);
    const [, authorizer] = resourcesOfType(dev.json, 'AWS::ApiGatewayV2::Authorizer').find(([, a]) => (a.Properties?.ApiId as { Ref: string }).Ref === consoleApi)!;
    const { Issuer, Audience } = authorizer.Properties!.JwtConfiguration as { Issuer: unknown; Audience: unknown[] };
    const env = dev.json.Resources[logicalId(dev.stack.apiFunction.fn)]!.Properties!.Environment.Variables as Record<string, unknown>;
    expect(env.WEFT_API_JWT_ISSUER).toEqual(Issuer);
    expect(Audience).toHaveLength(1);
    expect(env.WEFT_API_JWT_AUDIENCE).toEqual(Audience[0]);
    expect(dev.stack.apiDocument.security).toEqual([{ sigv4: [] }, { consoleJwt: [] }]);
    expect(dev.stack.apiDocument.components?.securitySchemes?.consoleJwt).toMatchObject({ type: 'openIdConnect', openIdConnectUrl: `${dev.stack.apiJwt.issuer}/.well-known/openid-configuration` });
  });

  it('lets the api function presign picture URLs: the uploads bucket name and GetObject on its objects, nothing more', () => {
    const fnId = logicalId(dev.stack.apiFunction.fn);
    const fn = dev.json.Resources[fnId]!;
    expect(fn.Properties?.Environment.Variables.UPLOADS_BUCKET).toEqual({ Ref: logicalId(dev.stack.storage.bucket) });
    const role = (fn.Properties?.Role as { 'Fn::GetAtt': [string] })['Fn::GetAtt'][0];
    const s3 = resourcesOfType(dev.json, 'AWS::IAM::Policy')
      .filter(([, p]) => (p.Properties?.Roles as { Ref: string }[]).some((r) => r.Ref === role))
      .flatMap(([, p]) => p.Properties?.PolicyDocument.Statement as { Action: string | string[] }[])
      .flatMap((s) => [s.Action].flat())
      .filter((a) => a.startsWith('s3:'));
    expect(s3).toEqual(['s3:GetObject']);
  });

  it('writes the page’s configuration: the API under /api, the sign-in endpoints and client', () => {
    const deployment = resourcesOfType(dev.json, 'Custom::CDKBucketDeployment')[0]![1].Properties!;
    // console-config.json is an asset with markers the deployment fills in from these references.
    const markers = JSON.stringify(deployment.SourceMarkers);
    expect(markers).toContain(logicalId(dev.stack.console.client));
    expect(markers).toContain(logicalId(dev.stack.console.domain));
    const staged = readdirSync(dev.outdir).map((d) => join(dev.outdir, d, 'console-config.json')).find((f) => existsSync(f));
    expect(staged, 'the staged console-config.json').toBeDefined();
    const config = JSON.parse(readFileSync(staged!, 'utf8')) as { apiBase: string; auth: { authorizeUrl: string; tokenUrl: string; clientId: string; scopes: string[] } };
    expect(config.apiBase).toBe('/api');
    expect(config.auth.authorizeUrl).toMatch(/^https:\/\/<<marker:0xbaba:\d>>\.auth\.us-east-1\.amazoncognito\.com\/oauth2\/authorize$/);
    expect(config.auth.tokenUrl).toMatch(/\/oauth2\/token$/);
    expect(config.auth.clientId).toMatch(/^<<marker:0xbaba:\d>>$/);
    expect(config.auth.scopes).toEqual(['openid', 'email']);
    expect(dev.json.Outputs).toHaveProperty('ConsoleUrl');
    expect(dev.json.Outputs).toHaveProperty('ConsoleUserPoolId');
  });
});
