import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';

/**
 * X-Ray subsegments sent straight to the daemon Lambda runs next to a function with active tracing, in place of the
 * Powertools tracer: that one loads aws-xray-sdk-core with semver and cls-hooked (about 120 KiB of every bundle,
 * issue 15) for the two kinds of subsegment the functions record, which fit in this file.
 *
 * - One `## <handler>` subsegment per sampled invocation, annotated ColdStart and Service, marked `fault` when the
 *   handler throws.
 * - One subsegment per AWS SDK call of a client given to {@link XRayTracer.instrument}: service, operation, region,
 *   request id, attempts, HTTP status, and the error/throttle/fault flags X-Ray's service map reads. The call's
 *   downstream request carries the trace header, as the X-Ray SDK's would.
 *
 * What a subsegment can hold is fixed here, field by field: never a request or response body, an error's message,
 * name or stack, a parameter, a header or a URL. A handler's responses hold device secrets, callback URLs and push
 * tokens, and errors can quote a request (issue 12); there is no switch to record them. test/security/trace-scan.test.ts
 * runs the device API and traced SDK calls against a UDP stand-in for the daemon and scans every datagram.
 */

/** What `_X_AMZN_TRACE_ID` (or the runtime's per-invocation store) says about the current invocation. */
export interface TraceHeader {
  root: string;
  parent: string;
  sampled: boolean;
}

export interface XRayTracerOptions {
  /** `AWS_XRAY_DAEMON_ADDRESS`: `host:port`, or `udp:host:port tcp:host:port`. */
  daemonAddress: string;
  serviceName: string;
  /** `_HANDLER` (e.g. `index.handler`), named in the handler subsegment as the Powertools tracer named it. */
  handlerName: string;
  /** The current invocation's trace header; by default the Lambda runtime's (see {@link lambdaTraceHeader}). */
  traceHeader?: () => string | undefined;
}

/** The daemon's datagram header: each datagram is this line, a newline, then one segment document. */
const DOCUMENT_HEADER = '{"format":"json","version":1}\n';
const MIDDLEWARE_NAME = 'inboxRelayXRay';

interface Subsegment {
  id: string;
  name: string;
  start_time: number;
  end_time?: number;
  namespace?: 'aws';
  annotations?: Record<string, string | boolean>;
  aws?: { operation: string; region?: string; request_id?: string; retries?: number };
  http?: { response: { status: number } };
  error?: true;
  throttle?: true;
  fault?: true;
}

interface SdkMetadata {
  httpStatusCode?: number;
  requestId?: string;
  attempts?: number;
}

/** The part of an AWS SDK v3 client this tracer touches. */
export interface InstrumentableClient {
  config: { serviceId?: string; region?: unknown };
  middlewareStack: {
    add(middleware: (next: SdkHandler, context: { commandName?: string }) => SdkHandler, options: { step: 'build'; name: string; override: boolean }): void;
  };
}
type SdkHandler = (args: { request?: unknown }) => Promise<{ output?: { $metadata?: SdkMetadata } }>;

export class XRayTracer {
  private readonly host: string;
  private readonly port: number;
  private socket: Socket | undefined;
  private coldStart = true;
  /** Open handler subsegments by trace root, so an SDK call nests under its own invocation's. */
  private readonly open = new Map<string, Subsegment>();
  private readonly traceHeader: () => string | undefined;

  constructor(private readonly options: XRayTracerOptions) {
    const address = parseDaemonAddress(options.daemonAddress);
    this.host = address.host;
    this.port = address.port;
    this.traceHeader = options.traceHeader ?? lambdaTraceHeader;
  }

  /** Opens the invocation's handler subsegment (a no-op when the invocation is not sampled). */
  startInvocation(): void {
    const coldStart = this.coldStart;
    this.coldStart = false;
    const trace = this.sampledTrace();
    if (!trace) return;
    this.open.set(trace.root, {
      id: newSegmentId(),
      name: `## ${this.options.handlerName}`,
      start_time: nowSeconds(),
      annotations: { ColdStart: coldStart, Service: this.options.serviceName },
    });
  }

  /** Closes and sends the invocation's handler subsegment; `failed` marks it a fault (no detail of the error). */
  endInvocation(failed: boolean): void {
    const trace = this.sampledTrace();
    if (!trace) return;
    const subsegment = this.open.get(trace.root);
    if (!subsegment) return;
    this.open.delete(trace.root);
    if (failed) subsegment.fault = true;
    this.send(trace, trace.parent, subsegment);
  }

  /** Adds a subsegment per call to an AWS SDK v3 client (once per client; a second call replaces the first). */
  instrument<T extends InstrumentableClient>(client: T): T {
    const service = (client.config.serviceId ?? 'AWS').replaceAll(' ', '');
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const trace = this.sampledTrace();
        if (!trace) return next(args);
        const subsegment: Subsegment = {
          id: newSegmentId(),
          name: service,
          namespace: 'aws',
          start_time: nowSeconds(),
          aws: { operation: (context.commandName ?? 'Unknown').replace(/Command$/, '') },
        };
        const headers = (args.request as { headers?: Record<string, string> } | undefined)?.headers;
        if (headers) headers['X-Amzn-Trace-Id'] = `Root=${trace.root};Parent=${subsegment.id};Sampled=1`;
        const parent = this.open.get(trace.root)?.id ?? trace.parent;
        try {
          const result = await next(args);
          await this.recordCall(subsegment, client, result.output?.$metadata, undefined);
          this.send(trace, parent, subsegment);
          return result;
        } catch (error) {
          await this.recordCall(subsegment, client, (error as { $metadata?: SdkMetadata }).$metadata, error);
          this.send(trace, parent, subsegment);
          throw error;
        }
      },
      { step: 'build', name: MIDDLEWARE_NAME, override: true },
    );
    return client;
  }

  private async recordCall(subsegment: Subsegment, client: InstrumentableClient, metadata: SdkMetadata | undefined, error: unknown): Promise<void> {
    const region = await resolveRegion(client.config.region);
    subsegment.aws = {
      operation: subsegment.aws!.operation,
      ...(region !== undefined ? { region } : {}),
      ...(typeof metadata?.requestId === 'string' ? { request_id: metadata.requestId } : {}),
      ...(typeof metadata?.attempts === 'number' ? { retries: Math.max(0, metadata.attempts - 1) } : {}),
    };
    const status = metadata?.httpStatusCode;
    if (typeof status === 'number') subsegment.http = { response: { status } };
    if (error === undefined) return;
    if (status === 429 || (error as { $retryable?: { throttling?: boolean } }).$retryable?.throttling) {
      subsegment.error = true;
      subsegment.throttle = true;
    } else if (typeof status === 'number' && status >= 400 && status < 500) {
      subsegment.error = true;
    } else {
      // A 5xx, or no answer at all (timeout, connection refused): the call failed on the far side or on the way.
      subsegment.fault = true;
    }
  }

  private sampledTrace(): TraceHeader | undefined {
    const trace = parseTraceHeader(this.traceHeader());
    return trace?.sampled ? trace : undefined;
  }

  private send(trace: TraceHeader, parentId: string, subsegment: Subsegment): void {
    const document = { ...subsegment, end_time: nowSeconds(), type: 'subsegment', trace_id: trace.root, parent_id: parentId };
    if (!this.socket) {
      this.socket = createSocket('udp4');
      // A lost datagram is a gap in a trace, never a failed invocation; nor may the socket keep a process alive.
      this.socket.on('error', () => undefined);
      this.socket.unref();
    }
    this.socket.send(DOCUMENT_HEADER + JSON.stringify(document), this.port, this.host, () => undefined);
  }
}

/** The trace header of the current invocation, as the Lambda runtime gives it (per-invocation store, then env). */
export function lambdaTraceHeader(): string | undefined {
  const store = (globalThis as { awslambda?: { InvokeStore?: { getXRayTraceId(): string | undefined } } }).awslambda?.InvokeStore;
  return store?.getXRayTraceId() ?? process.env._X_AMZN_TRACE_ID;
}

/** `Root=1-…;Parent=…;Sampled=1`; undefined when the root or parent is missing. */
export function parseTraceHeader(header: string | undefined): TraceHeader | undefined {
  if (!header) return undefined;
  const fields = new Map(header.split(';').map((part) => part.trim().split('=', 2) as [string, string | undefined]));
  const root = fields.get('Root');
  const parent = fields.get('Parent');
  if (!root || !parent) return undefined;
  return { root, parent, sampled: fields.get('Sampled') === '1' };
}

/** `127.0.0.1:2000`, or the two-protocol form `udp:127.0.0.1:2000 tcp:127.0.0.1:2000`; segments go over UDP. */
export function parseDaemonAddress(address: string): { host: string; port: number } {
  const udp = address.split(/\s+/).find((part) => part.startsWith('udp:'))?.slice(4) ?? address.trim();
  const colon = udp.lastIndexOf(':');
  const port = Number(udp.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port <= 0 || port > 65_535) {
    throw new Error(`AWS_XRAY_DAEMON_ADDRESS is not host:port: "${address}"`);
  }
  return { host: udp.slice(0, colon), port };
}

async function resolveRegion(region: unknown): Promise<string | undefined> {
  try {
    const value = typeof region === 'function' ? await (region as () => Promise<unknown>)() : region;
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

function newSegmentId(): string {
  return randomBytes(8).toString('hex');
}

function nowSeconds(): number {
  return Date.now() / 1000;
}
