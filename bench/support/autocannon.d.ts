// autocannon ships no type declarations; this is the part of its API the load generator uses.
declare module 'autocannon' {
  interface RequestParams {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
  }
  interface Options {
    url: string;
    connections?: number;
    duration?: number;
    headers?: Record<string, string>;
    requests?: Array<RequestParams & { setupRequest?: (request: RequestParams, context: Record<string, unknown>) => RequestParams }>;
  }
  interface Result {
    duration: number;
    non2xx: number;
    errors: number;
    timeouts: number;
    requests: { total: number };
  }
  interface Instance {
    on(event: 'response', listener: (client: unknown, statusCode: number, bytes: number, responseTimeMs: number) => void): this;
  }
  function autocannon(options: Options, callback: (error: Error | null, result: Result) => void): Instance;
  namespace autocannon {
    export type { Options, Result, Instance, RequestParams };
  }
  export default autocannon;
}
