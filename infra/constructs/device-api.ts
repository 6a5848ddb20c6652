import { RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { CALLBACK_ROUTES, DEVICE_API_ROUTES, ORG_API_ROUTES } from '../../functions/_lib/routes.js';
import { acknowledge } from './nag.js';
import type { RelayFunction } from './relay-function.js';

export interface DeviceApiProps {
  /** Serves the device routes (functions/_lib/routes.ts). */
  readonly deviceFunction: RelayFunction;
  /** Serves `POST /v1/callbacks/{secret}` (EWS) and the Graph notification and lifecycle routes. */
  readonly callbackFunction: RelayFunction;
  /** Serves the operator routes `/v1/orgs/{orgId}` (organization mode). */
  readonly orgFunction: RelayFunction;
  /** Stage-wide throttling: steady requests per second and burst. */
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  /**
   * The callback route's own limits. Route settings replace the stage's for that route, so they are always set
   * explicitly: a route setting without them leaves the route unthrottled or refusing everything.
   */
  readonly callbackThrottle: { readonly rateLimit: number; readonly burstLimit: number };
  /** Days the access log is kept. */
  readonly logRetention: logs.RetentionDays;
  /** Keep the access log when the stack is deleted. @default false */
  readonly retainLogs?: boolean;
  /**
   * Serve the API on this domain (regional endpoint) instead of the execute-api URL, which is then switched off.
   * @default - the execute-api URL
   */
  readonly customDomain?: { readonly domainName: string; readonly certificateArn: string };
}

/**
 * The public HTTP API (API Gateway HTTP API): the device routes and the Exchange callback route, one `$default` stage
 * with throttling and a JSON access log. Authorization happens in the functions (contract sections 2 to 4).
 */
export class DeviceApi extends Construct {
  readonly api: apigw.HttpApi;
  readonly stage: apigw.HttpStage;
  readonly accessLog: logs.LogGroup;
  /**
   * The base URL devices use (no trailing slash): the custom domain or the execute-api URL. Also that of mail servers'
   * callbacks with `callbackEndpoint: 'api'`, and of callback URLs handed out before a switch to the function URL.
   */
  readonly url: string;
  /** The callback route's key, which is also its CloudWatch `Route` dimension. */
  readonly callbackRouteKey: string = CALLBACK_ROUTES[0];
  /** The Graph notification route's key (its `Route` dimension): Graph drops an endpoint's notifications when it fails. */
  readonly graphNotificationRouteKey: string = CALLBACK_ROUTES[1];
  /** The regional domain name to point a CNAME/alias at, when a custom domain is configured. */
  readonly customDomainTarget?: string;

  constructor(scope: Construct, id: string, props: DeviceApiProps) {
    super(scope, id);
    const deviceIntegration = new HttpLambdaIntegration('DeviceIntegration', props.deviceFunction.function);
    const callbackIntegration = new HttpLambdaIntegration('CallbackIntegration', props.callbackFunction.function);
    const orgIntegration = new HttpLambdaIntegration('OrgIntegration', props.orgFunction.function);

    const domain = props.customDomain
      ? new apigw.DomainName(this, 'Domain', {
          domainName: props.customDomain.domainName,
          certificate: acm.Certificate.fromCertificateArn(this, 'Certificate', props.customDomain.certificateArn),
          securityPolicy: apigw.SecurityPolicy.TLS_1_2,
        })
      : undefined;

    this.api = new apigw.HttpApi(this, 'Api', {
      description: 'inbox-relay device API and Exchange callbacks',
      createDefaultStage: false,
      // No `$default` route: API Gateway itself answers an unknown method or path with 404 {"message":"Not Found"},
      // so probing and floods of made-up paths invoke no function and cost no concurrency.
      disableExecuteApiEndpoint: domain !== undefined,
    });

    this.accessLog = new logs.LogGroup(this, 'AccessLog', {
      retention: props.logRetention,
      removalPolicy: props.retainLogs ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });

    this.stage = new apigw.HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle,
      ...(domain ? { domainMapping: { domainName: domain } } : {}),
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(this.accessLog),
        // The route key, never the path: a callback path ends in the mailbox's secret, and a log must not hold it.
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            requestTime: '$context.requestTimeEpoch',
            sourceIp: '$context.identity.sourceIp',
            userAgent: '$context.identity.userAgent',
            routeKey: '$context.routeKey',
            status: '$context.status',
            responseLength: '$context.responseLength',
            latencyMs: '$context.responseLatency',
            integrationLatencyMs: '$context.integrationLatency',
            integrationStatus: '$context.integrationStatus',
            integrationError: '$context.integrationErrorMessage',
            gatewayError: '$context.error.message',
          }),
        ),
      },
    });
    for (const routeKey of DEVICE_API_ROUTES) this.addRoute(routeKey, deviceIntegration);
    const callbackRoutes = CALLBACK_ROUTES.map((routeKey) => this.addRoute(routeKey, callbackIntegration));

    // The callback route's own settings: per-route metrics (its error rates are alarmed on; each detailed route costs
    // CloudWatch custom metrics) and its own throttle, so genuine Exchange traffic and forged-secret floods are bounded
    // apart from the device routes. API Gateway refuses a stage whose RouteSettings name a route that does not exist
    // yet ("Unable to find Route by key"), so the stage waits for the route.
    const cfnStage = this.stage.node.defaultChild as apigw.CfnStage;
    // The Graph routes are mail-server traffic too: the same throttle, each on its own (API Gateway throttles per
    // route); detailed metrics for the notification route only, whose error rate and answer time are alarmed on.
    for (const routeKey of CALLBACK_ROUTES) {
      cfnStage.addPropertyOverride(`RouteSettings.${routeKey}`, {
        DetailedMetricsEnabled: routeKey === this.callbackRouteKey || routeKey === this.graphNotificationRouteKey,
        ThrottlingRateLimit: props.callbackThrottle.rateLimit,
        ThrottlingBurstLimit: props.callbackThrottle.burstLimit,
      });
    }
    for (const route of callbackRoutes) this.stage.node.addDependency(route);
    for (const routeKey of ORG_API_ROUTES) this.addRoute(routeKey, orgIntegration);

    this.url = props.customDomain ? `https://${props.customDomain.domainName}` : this.api.apiEndpoint;
    if (domain) this.customDomainTarget = domain.regionalDomainName;

    acknowledge(
      this,
      'AwsSolutions-APIG4',
      'Authorization is enforced in the functions, per contract: organization tokens are HS256 JWTs (the HTTP API JWT authorizer verifies only JWKS-published asymmetric keys), device calls carry a per-device bearer secret checked against its stored hash, operator calls an HS256 admin token with its own secret and audience, and Exchange cannot send credentials, so a callback URL ends in a 256-bit secret.',
    );
  }

  private addRoute(routeKey: string, integration: HttpLambdaIntegration): apigw.HttpRoute {
    const [method, path] = routeKey.split(' ') as [string, string];
    return new apigw.HttpRoute(this, `Route${routeKey.replace(/[^A-Za-z0-9]/g, '')}`, {
      httpApi: this.api,
      routeKey: apigw.HttpRouteKey.with(path, method as apigw.HttpMethod),
      integration,
    });
  }
}
