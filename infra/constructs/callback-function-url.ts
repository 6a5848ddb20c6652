import { Fn } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { RelayFunction } from './relay-function.js';

export interface CallbackFunctionUrlProps {
  /** The callback function (functions/exchange-callback), which serves the same paths as the API's callback routes. */
  readonly callbackFunction: RelayFunction;
}

/**
 * The callback function's own public URL (`callbackEndpoint: 'function-url'`, infra/config.ts): what Exchange and
 * Graph POST to instead of the HTTP API, which costs nothing beyond the invocation where API Gateway charges per
 * request. Auth type NONE, because mail servers send no credentials: the path ends in a 256-bit secret, checked by the
 * function as behind the API. CDK's FunctionUrl grants principal `*` both `lambda:InvokeFunctionUrl` (for auth type
 * NONE) and `lambda:InvokeFunction` on condition `lambda:InvokedViaFunctionUrl`, as Lambda requires of public function
 * URLs created since October 2025; test/infra/relay-stack.test.ts holds it to exactly those two.
 */
export class CallbackFunctionUrl extends Construct {
  readonly functionUrl: lambda.FunctionUrl;
  /** The URL's origin, `https://<id>.lambda-url.<region>.on.aws`, without the trailing slash the attribute has. */
  readonly url: string;
  private readonly callbackFunction: lambda.IFunction;

  constructor(scope: Construct, id: string, props: CallbackFunctionUrlProps) {
    super(scope, id);
    this.callbackFunction = props.callbackFunction.function;
    this.functionUrl = new lambda.FunctionUrl(this, 'Url', {
      function: props.callbackFunction.function,
      authType: lambda.FunctionUrlAuthType.NONE,
    });
    // `https://<id>.lambda-url.<region>.on.aws/` split on "/" is ["https:", "", host, ""].
    this.url = `https://${Fn.select(2, Fn.split('/', this.functionUrl.url))}`;
  }

  /**
   * One of the URL's own metrics (AWS/Lambda `UrlRequestCount`, `Url4xxCount`, `Url5xxCount`, `UrlRequestLatency`),
   * by function name: every request of the URL, EWS and Graph alike (the URL's metrics have no path dimension).
   */
  metric(metricName: 'UrlRequestCount' | 'Url4xxCount' | 'Url5xxCount' | 'UrlRequestLatency', props: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.callbackFunction.metric(metricName, props);
  }
}
