/**
 * HTTP for the MLflow REST API over Node's global fetch: JSON bodies, a timeout per attempt,
 * retries with exponential backoff on 429, 5xx, timeouts and network errors, and credentials that
 * are sent but never appear in a message or a log line.
 */

export type Credentials = { kind: 'bearer'; token: string } | { kind: 'basic'; username: string; password: string };

export interface HttpOptions {
  /** Server root, e.g. http://localhost:5000 (user:password@ in it becomes Basic auth). */
  baseUrl: string;
  credentials?: Credentials;
  /** Per attempt. */
  timeoutMs?: number;
  /** Attempts after the first one. */
  retries?: number;
  /** First wait; doubled each retry, with jitter, capped by maxBackoffMs. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Retry notices (no bodies, no credentials). */
  log?: (line: string) => void;
}

export interface RequestOptions {
  query?: Record<string, string | number | undefined>;
  json?: unknown;
  body?: Uint8Array;
  contentType?: string;
  /**
   * False for requests that must not be applied twice (log-batch with metrics). Then a failure
   * after which the server may have applied the request (timeout, dropped connection, 500/502/504)
   * is not retried but raised with `ambiguous: true`, so the caller can check before resending.
   */
  idempotent?: boolean;
  /** Return the raw bytes instead of parsed JSON. */
  raw?: boolean;
}

/** An error from the MLflow server or the network. `errorCode` is MLflow's (RESOURCE_ALREADY_EXISTS, ...). */
export class MlflowApiError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly errorCode: string | undefined,
    /** The server may have applied the request (see RequestOptions.idempotent). */
    readonly ambiguous: boolean,
    /** A network error or timeout rather than an answer from the server. */
    readonly network: boolean,
  ) {
    super(message);
    this.name = 'MlflowApiError';
  }
}

/** Network failure codes that prove the request never reached the server. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

function networkCode(e: unknown): string | undefined {
  let cur: any = e;
  for (let depth = 0; cur && depth < 5; depth++) {
    if (typeof cur.code === 'string') return cur.code;
    cur = cur.cause;
  }
  return undefined;
}

export class HttpTransport {
  readonly baseUrl: string;
  private readonly authHeader?: string;
  private readonly secrets: string[] = [];
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly log: (line: string) => void;

  constructor(options: HttpOptions) {
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch {
      throw new Error('MLflow tracking URI is not a valid http(s) URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`MLflow tracking URI must be http(s)://, got ${url.protocol}`);
    let credentials = options.credentials;
    if (url.username || url.password) {
      credentials ??= { kind: 'basic', username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
      url.username = '';
      url.password = '';
    }
    this.baseUrl = url.href.replace(/\/+$/, '');
    if (credentials?.kind === 'bearer') {
      this.authHeader = `Bearer ${credentials.token}`;
      this.secrets.push(credentials.token);
    } else if (credentials?.kind === 'basic') {
      const encoded = Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64');
      this.authHeader = `Basic ${encoded}`;
      this.secrets.push(encoded, credentials.password);
    }
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.retries = options.retries ?? 5;
    this.backoffMs = options.backoffMs ?? 500;
    this.maxBackoffMs = options.maxBackoffMs ?? 30_000;
    this.log = options.log ?? (() => undefined);
  }

  /** Removes every credential from a text that may end up in a message. */
  redact(text: string): string {
    let out = text;
    for (const s of this.secrets) if (s.length >= 3) out = out.split(s).join('***');
    return out;
  }

  private wait(attempt: number, retryAfter?: string | null): Promise<void> {
    let ms = Math.min(this.maxBackoffMs, this.backoffMs * 2 ** attempt) * (0.5 + Math.random() / 2);
    const seconds = retryAfter ? Number(retryAfter) : NaN;
    if (Number.isFinite(seconds) && seconds >= 0) ms = Math.min(this.maxBackoffMs, Math.max(ms, seconds * 1000));
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  async request(method: 'GET' | 'POST' | 'PUT', apiPath: string, options: RequestOptions = {}): Promise<any> {
    const url = new URL(this.baseUrl + apiPath);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (this.authHeader) headers.Authorization = this.authHeader;
    let body: string | Uint8Array | undefined;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['Content-Type'] = 'application/json';
    } else if (options.body !== undefined) {
      body = options.body;
      headers['Content-Type'] = options.contentType ?? 'application/octet-stream';
    }
    const idempotent = options.idempotent ?? true;
    const what = `${method} ${apiPath}`;

    for (let attempt = 0; ; attempt++) {
      let failure: MlflowApiError;
      let retryAfter: string | null = null;
      try {
        const response = await fetch(url, { method, headers, body: body as BodyInit | undefined, signal: AbortSignal.timeout(this.timeoutMs) });
        const bytes = new Uint8Array(await response.arrayBuffer());
        if (response.ok) {
          if (options.raw) return bytes;
          const text = new TextDecoder().decode(bytes);
          if (text.trim() === '') return {};
          try {
            return JSON.parse(text);
          } catch {
            throw new MlflowApiError(`${what}: the server answered HTTP ${response.status} with a body that is not JSON`, response.status, undefined, false, false);
          }
        }
        failure = this.httpError(what, response.status, bytes, idempotent);
        retryAfter = response.headers.get('retry-after');
      } catch (e) {
        if (e instanceof MlflowApiError) throw e;
        failure = this.networkError(what, e, idempotent);
      }
      const retryable = failure.network ? !failure.ambiguous || idempotent : failure.status === 429 || (failure.status !== undefined && failure.status >= 500 && (idempotent || !failure.ambiguous));
      if (!retryable || attempt >= this.retries) throw failure;
      this.log(`mlflow: ${failure.message}; retry ${attempt + 1}/${this.retries}`);
      await this.wait(attempt, retryAfter);
    }
  }

  private httpError(what: string, status: number, bytes: Uint8Array, idempotent: boolean): MlflowApiError {
    let errorCode: string | undefined;
    let detail = '';
    const text = new TextDecoder().decode(bytes.slice(0, 4096));
    try {
      const parsed = JSON.parse(text);
      errorCode = typeof parsed.error_code === 'string' ? parsed.error_code : undefined;
      detail = typeof parsed.message === 'string' ? parsed.message : '';
    } catch {
      detail = text.replace(/\s+/g, ' ').trim().slice(0, 200);
    }
    let hint = '';
    if (status === 401) hint = ' (set MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD)';
    else if (status === 403 && /host/i.test(detail)) hint = ' (the server rejects this Host header: start it with --allowed-hosts)';
    // 429 and 503 mean the request was turned away; other 5xx may come after it was applied.
    const ambiguous = !idempotent && status >= 500 && status !== 503;
    const message = this.redact(`${what}: HTTP ${status}${errorCode ? ` ${errorCode}` : ''}${detail ? `: ${detail}` : ''}${hint}`);
    return new MlflowApiError(message, status, errorCode, ambiguous, false);
  }

  private networkError(what: string, e: unknown, idempotent: boolean): MlflowApiError {
    const err = e as Error;
    const timedOut = err?.name === 'TimeoutError' || err?.name === 'AbortError';
    const code = networkCode(e);
    const notSent = code !== undefined && NOT_SENT_CODES.has(code);
    const reason = timedOut ? `no answer within ${this.timeoutMs} ms` : `network error${code ? ` ${code}` : ''} (${err?.message ?? String(e)})`;
    return new MlflowApiError(this.redact(`${what}: ${reason} from ${this.baseUrl}`), undefined, code, !idempotent && !notSent, true);
  }
}
