/**
 * For tests (ours and other packages'): a local HTTP server answering like an MLflow 3 tracking server (REST API 2.0 and the
 * mlflow-artifacts proxy), in memory, with the server's documented errors and limits, plus
 * injected faults (HTTP errors, no answer, a dropped connection) to test the client against.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault =
  | { kind: 'status'; status: number; errorCode?: string; retryAfter?: string }
  /** Never answers (the client's timeout fires). */
  | { kind: 'hang' }
  /** Closes the connection without an answer, before applying the request. */
  | { kind: 'drop' }
  /** Applies the request, then closes the connection without an answer. */
  | { kind: 'drop-after-apply' };

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

interface Run {
  info: { run_id: string; run_uuid: string; run_name: string; experiment_id: string; user_id: string; status: string; start_time: number; end_time?: number; artifact_uri: string; lifecycle_stage: string };
  params: Map<string, string>;
  tags: Map<string, string>;
  metrics: { key: string; value: unknown; timestamp: number; step: number }[];
}

export class FakeMlflowServer {
  readonly requests: RecordedRequest[] = [];
  readonly experiments = new Map<string, { experiment_id: string; name: string; artifact_location: string; lifecycle_stage: string }>();
  readonly runs = new Map<string, Run>();
  readonly artifacts = new Map<string, Buffer>();
  /** Faults to inject, consumed in order, for requests whose path starts with the key. */
  readonly faults = new Map<string, Fault[]>();
  /** Decides a fault from the request itself (checked before the queued faults). */
  faultWhen?: (r: RecordedRequest) => Fault | undefined;
  /** When set, requests must carry exactly this Authorization header. */
  expectedAuth?: string;
  /** Page size of metrics/get-history when the client asks for more. */
  historyPageCap = 1000;
  private server = http.createServer((req, res) => void this.handle(req, res));
  private nextExperiment = 1;
  private nextRun = 1;
  private sockets = new Set<import('node:net').Socket>();

  constructor() {
    this.experiments.set('0', { experiment_id: '0', name: 'Default', artifact_location: 'mlflow-artifacts:/0', lifecycle_stage: 'active' });
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
  }

  private port = 0;

  /** Listens on `port` (a free one by default; the same one again after stop() to come back up). */
  async start(port = this.port): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this.url;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  inject(pathPrefix: string, ...faults: Fault[]): void {
    this.faults.set(pathPrefix, [...(this.faults.get(pathPrefix) ?? []), ...faults]);
  }

  callsTo(path: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  private takeFault(path: string): Fault | undefined {
    for (const [prefix, list] of this.faults) if (path.startsWith(prefix) && list.length) return list.shift();
    return undefined;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://x');
    const rec: RecordedRequest = { method: req.method ?? '', path: decodeURIComponent(url.pathname), query: url.searchParams, headers: req.headers, body: Buffer.concat(chunks) };
    this.requests.push(rec);
    const fault = this.faultWhen?.(rec) ?? this.takeFault(rec.path);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    const error = (status: number, code: string, message: string): void => send(status, { error_code: code, message });
    if (fault?.kind === 'hang') return;
    if (fault?.kind === 'drop') return void req.socket.destroy();
    if (fault?.kind === 'status') return send(fault.status, { error_code: fault.errorCode ?? 'INTERNAL_ERROR', message: `injected ${fault.status}` }, fault.retryAfter ? { 'Retry-After': fault.retryAfter } : {});
    if (this.expectedAuth && req.headers.authorization !== this.expectedAuth) return error(401, 'UNAUTHENTICATED', 'You are not authenticated.');
    if (rec.method === 'POST' && !(req.headers['content-type'] ?? '').startsWith('application/json')) {
      return error(400, 'BAD_REQUEST', "Bad Request. Content-Type must be 'application/json'");
    }
    let answer: { status: number; body: unknown; raw?: Buffer };
    try {
      answer = this.route(rec);
    } catch (e) {
      answer = { status: 400, body: { error_code: 'INVALID_PARAMETER_VALUE', message: (e as Error).message } };
    }
    if (fault?.kind === 'drop-after-apply') return void req.socket.destroy();
    if (answer.raw) {
      res.writeHead(answer.status, { 'Content-Type': 'application/octet-stream' });
      return void res.end(answer.raw);
    }
    send(answer.status, answer.body);
  }

  private route(r: RecordedRequest): { status: number; body: unknown; raw?: Buffer } {
    const json = (): any => (r.body.length ? JSON.parse(r.body.toString('utf8')) : {});
    const ok = (body: unknown = {}): { status: number; body: unknown } => ({ status: 200, body });
    const err = (status: number, code: string, message: string): { status: number; body: unknown } => ({ status, body: { error_code: code, message } });
    const api = '/api/2.0/mlflow';
    const artifacts = '/api/2.0/mlflow-artifacts/artifacts';
    const runOf = (id: string | null): Run => {
      const run = id ? this.runs.get(id) : undefined;
      if (!run) throw Object.assign(new Error(`Run '${id}' not found`), { notFound: true });
      return run;
    };
    try {
      switch (`${r.method} ${r.path}`) {
        case `GET ${api}/experiments/get-by-name`: {
          const e = [...this.experiments.values()].find((x) => x.name === r.query.get('experiment_name'));
          return e ? ok({ experiment: { ...e, tags: [] } }) : err(404, 'RESOURCE_DOES_NOT_EXIST', `Could not find experiment with name '${r.query.get('experiment_name')}'`);
        }
        case `POST ${api}/experiments/create`: {
          const { name } = json();
          if ([...this.experiments.values()].some((x) => x.name === name)) return err(400, 'RESOURCE_ALREADY_EXISTS', `Experiment '${name}' already exists.`);
          const id = String(this.nextExperiment++);
          this.experiments.set(id, { experiment_id: id, name, artifact_location: `mlflow-artifacts:/${id}`, lifecycle_stage: 'active' });
          return ok({ experiment_id: id });
        }
        case `POST ${api}/runs/create`: {
          const b = json();
          if (!this.experiments.has(b.experiment_id)) return err(404, 'RESOURCE_DOES_NOT_EXIST', `No Experiment with id=${b.experiment_id} exists`);
          const id = `run${String(this.nextRun++).padStart(4, '0')}abcdef`;
          const run: Run = {
            info: { run_id: id, run_uuid: id, run_name: b.run_name ?? id, experiment_id: b.experiment_id, user_id: b.user_id ?? '', status: 'RUNNING', start_time: b.start_time, artifact_uri: `mlflow-artifacts:/${b.experiment_id}/${id}/artifacts`, lifecycle_stage: 'active' },
            params: new Map(),
            tags: new Map((b.tags ?? []).map((t: { key: string; value: string }) => [t.key, t.value])),
            metrics: [],
          };
          run.tags.set('mlflow.runName', run.info.run_name);
          this.runs.set(id, run);
          return ok({ run: this.view(run) });
        }
        case `POST ${api}/runs/update`: {
          const b = json();
          const run = runOf(b.run_id);
          run.info.status = b.status;
          if (b.end_time !== undefined) run.info.end_time = b.end_time;
          return ok({ run_info: run.info });
        }
        case `GET ${api}/runs/get`:
          return ok({ run: this.view(runOf(r.query.get('run_id'))) });
        case `POST ${api}/runs/search`: {
          const b = json();
          let runs = [...this.runs.values()].filter((x) => b.experiment_ids.includes(x.info.experiment_id) && x.info.lifecycle_stage === 'active');
          const m = /^tags\.`([^`]+)` = '([^']*)'$/.exec(b.filter ?? '');
          if (b.filter && !m) return err(400, 'INVALID_PARAMETER_VALUE', `unsupported filter in this test server: ${b.filter}`);
          if (m) runs = runs.filter((x) => x.tags.get(m[1]) === m[2]);
          const start = Number(b.page_token ?? 0);
          const page = runs.slice(start, start + (b.max_results ?? 1000));
          return ok({ runs: page.map((x) => this.view(x)), ...(start + page.length < runs.length ? { next_page_token: String(start + page.length) } : {}) });
        }
        case `POST ${api}/runs/log-batch`: {
          const b = json();
          const run = runOf(b.run_id);
          const metrics = b.metrics ?? [];
          const params = b.params ?? [];
          const tags = b.tags ?? [];
          // The limits of mlflow/utils/validation.py.
          if (metrics.length > 1000) return err(400, 'INVALID_PARAMETER_VALUE', `A batch logging request can contain at most 1000 metrics. Got ${metrics.length} metrics.`);
          if (params.length > 100) return err(400, 'INVALID_PARAMETER_VALUE', `A batch logging request can contain at most 100 params. Got ${params.length} params.`);
          if (tags.length > 100) return err(400, 'INVALID_PARAMETER_VALUE', `A batch logging request can contain at most 100 tags. Got ${tags.length} tags.`);
          if (metrics.length + params.length + tags.length > 1000) return err(400, 'INVALID_PARAMETER_VALUE', 'A batch logging request can contain at most 1000 metrics, params, and tags.');
          if (r.body.length > 1_000_000) return err(400, 'INVALID_PARAMETER_VALUE', `Batched logging API requests must be at most 1000000 bytes, got a request of size ${r.body.length}.`);
          for (const p of params) {
            const cur = run.params.get(p.key);
            if (cur !== undefined && cur !== p.value) return err(400, 'INVALID_PARAMETER_VALUE', `Changing param values is not allowed. Param with key='${p.key}' was already logged`);
          }
          for (const p of params) run.params.set(p.key, String(p.value).slice(0, 6000));
          for (const t of tags) run.tags.set(t.key, t.value);
          for (const m of metrics) run.metrics.push({ key: m.key, value: m.value, timestamp: m.timestamp, step: m.step ?? 0 });
          return ok({});
        }
        case `POST ${api}/runs/set-tag`: {
          const b = json();
          runOf(b.run_id).tags.set(b.key, b.value);
          return ok({});
        }
        case `GET ${api}/metrics/get-history`: {
          const run = runOf(r.query.get('run_id'));
          const max = Number(r.query.get('max_results') ?? 0);
          // The real server returns nothing without max_results.
          if (!max) return ok({});
          const all = run.metrics.filter((m) => m.key === r.query.get('metric_key'));
          const start = Number(r.query.get('page_token') ?? 0);
          const size = Math.min(max, this.historyPageCap);
          const page = all.slice(start, start + size);
          return ok({ metrics: page, ...(start + page.length < all.length ? { next_page_token: String(start + page.length) } : {}) });
        }
        case `GET ${artifacts}`: {
          const dir = (r.query.get('path') ?? '').replace(/\/+$/, '');
          const children = new Map<string, { path: string; is_dir: boolean; file_size?: number }>();
          for (const [p, bytes] of this.artifacts) {
            if (!p.startsWith(dir + '/')) continue;
            const rest = p.slice(dir.length + 1).split('/');
            children.set(rest[0], rest.length > 1 ? { path: rest[0], is_dir: true } : { path: rest[0], is_dir: false, file_size: bytes.length });
          }
          return ok(children.size ? { files: [...children.values()] } : {});
        }
      }
      if (r.path.startsWith(artifacts + '/')) {
        const p = r.path.slice(artifacts.length + 1);
        if (r.method === 'PUT') {
          this.artifacts.set(p, r.body);
          return ok({});
        }
        if (r.method === 'GET') {
          const bytes = this.artifacts.get(p);
          return bytes ? { status: 200, body: null, raw: bytes } : err(404, 'RESOURCE_DOES_NOT_EXIST', `File not found: ${p}`);
        }
      }
      return err(404, 'ENDPOINT_NOT_FOUND', `no endpoint ${r.method} ${r.path}`);
    } catch (e) {
      if ((e as { notFound?: boolean }).notFound) return err(404, 'RESOURCE_DOES_NOT_EXIST', (e as Error).message);
      throw e;
    }
  }

  private view(run: Run): unknown {
    const latest = new Map<string, Run['metrics'][number]>();
    for (const m of run.metrics) {
      const cur = latest.get(m.key);
      if (!cur || m.step > cur.step || (m.step === cur.step && m.timestamp >= cur.timestamp)) latest.set(m.key, m);
    }
    const kv = (m: Map<string, string>): { key: string; value: string }[] => [...m].map(([key, value]) => ({ key, value }));
    return { info: run.info, data: { metrics: [...latest.values()], params: kv(run.params), tags: kv(run.tags) }, inputs: {} };
  }
}
