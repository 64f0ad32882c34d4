// The main-thread side of search: lists the TDs a client may see through the hub facade, sends the
// worker what changed since it last heard, and runs one query at a time there under a time limit
// (a query over it gets the worker terminated and a 422; the next query starts a fresh one).

import { isDeepStrictEqual } from 'node:util';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Client, HubApi, Problem } from '@twinhub/core';
import {
  MAX_QUEUED_QUERIES,
  PREPARE_ANSWER_MS,
  PREPARE_STALL_MS,
  QUERY_TIMEOUT_MS,
  tooCostly,
  WORKER_HEAP_MB,
  type Answer,
  type AnswerMessage,
  type MirrorSync,
  type ProgressMessage,
  type QueryMessage,
  type SearchLanguage,
  type StartedMessage,
  type TdObject,
} from './protocol.js';

/**
 * Who lists the TDs for every client but agents: twin TDs differ by role (forms), and one shared
 * copy must not be rebuilt each time a viewer's query follows an operator's. It sees every form,
 * so a viewer also finds a Thing by an action it may only see (see docs/decisions.md).
 */
const SEARCH_READER: Client = Object.freeze({ id: '$twinhub-search', role: 'admin' });

/** listTDs pages at most this many TDs (the core's largest page). */
const LIST_PAGE = 1000;

export interface SearchEngineOptions {
  hub: HubApi;
  logger: Logger;
  timeoutMs?: number;
  /** How long a query waits for the preparation before a 503 (default PREPARE_ANSWER_MS). */
  prepareAnswerMs?: number;
}

interface Running {
  id: number;
  language: SearchLanguage;
  resolve(answer: Answer): void;
  timer: NodeJS.Timeout;
  /** Answers 503 if the preparation outlasts PREPARE_ANSWER_MS (the preparation goes on). */
  answerBy?: NodeJS.Timeout;
  /** The preparation's progress so far, for that answer. */
  converted?: { done: number; total: number };
}

export class SearchEngine {
  private worker: Worker | undefined;
  /** What the worker holds: thingId → the twin TD object last sent (the core's, never modified). */
  private readonly sent = new Map<string, TdObject>();
  private running: Running | undefined;
  /** Queries run one after another: each starts when the previous one settled. */
  private chain: Promise<unknown> = Promise.resolve();
  private queued = 0;
  private nextId = 1;
  private closed = false;
  private readonly timeoutMs: number;

  constructor(private readonly options: SearchEngineOptions) {
    this.timeoutMs = options.timeoutMs ?? QUERY_TIMEOUT_MS;
  }

  search(client: Client, language: SearchLanguage, query: string, accept: string | undefined): Promise<Answer> {
    if (this.queued >= MAX_QUEUED_QUERIES) {
      return Promise.resolve({
        ok: false,
        problem: { status: 503, title: 'Service Unavailable', detail: `${MAX_QUEUED_QUERIES} searches are already waiting, the limit; retry shortly` },
      });
    }
    this.queued++;
    const run = this.chain.then(() => this.run(client, language, query, accept));
    this.chain = run.catch(() => undefined);
    return run.finally(() => this.queued--);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.stopWorker();
  }

  private async run(client: Client, language: SearchLanguage, query: string, accept: string | undefined): Promise<Answer> {
    if (this.closed) return { ok: false, problem: { status: 503, title: 'Service Unavailable', detail: 'the hub is shutting down' } };
    const listed = await this.visibleTds(client);
    if (!listed.ok) return listed;
    // Only agents are restricted (to their own Things): any other listing is every Thing, so what
    // it lacks is gone. An agent's listing says nothing of other agents' Things.
    const sync = this.diff(listed.tds, client.role !== 'agent');
    const visible = listed.tds.map((td) => td.id as string);
    return this.ask({ id: this.nextId++, sync, visible, language, query, accept });
  }

  /**
   * Every twin TD the client may see, through listTDs as a listing gets them: the core's rules
   * apply. Only agents are restricted (to their own Things), so the others' listings are made once
   * for all by SEARCH_READER.
   */
  private async visibleTds(client: Client): Promise<{ ok: true; tds: TdObject[] } | (Answer & { ok: false })> {
    const tds: TdObject[] = [];
    const lister = client.role === 'agent' ? client : SEARCH_READER;
    for (let offset = 0; ; ) {
      const result = await this.options.hub.handle({ operation: 'listTDs', query: { offset, limit: LIST_PAGE } }, { client: lister });
      if (!result.ok) return { ok: false, problem: result.problem };
      const page = Array.isArray(result.output) ? (result.output as TdObject[]) : [];
      for (const td of page) if (typeof td.id === 'string') tds.push(td);
      offset += page.length;
      if (page.length === 0 || result.total === undefined || offset >= result.total) return { ok: true, tds };
    }
  }

  /** What the worker must learn: TDs new or changed (another object and another content), and gone. */
  private diff(tds: TdObject[], complete: boolean): MirrorSync {
    const upserts: [string, TdObject][] = [];
    for (const td of tds) {
      const thingId = td.id as string;
      const previous = this.sent.get(thingId);
      // The core serves the same object while a twin is unchanged; `modified` tells most changes
      // at once, a deep comparison the rest (two writes within one millisecond).
      if (previous === td || (previous !== undefined && previous.modified === td.modified && isDeepStrictEqual(previous, td))) continue;
      this.sent.set(thingId, td);
      upserts.push([thingId, td]);
    }
    const deletes: string[] = [];
    if (complete) {
      const listed = new Set(tds.map((td) => td.id as string));
      for (const thingId of this.sent.keys()) if (!listed.has(thingId)) deletes.push(thingId);
      for (const thingId of deletes) this.sent.delete(thingId);
    }
    return { upserts, deletes };
  }

  private ask(message: QueryMessage): Promise<Answer> {
    const worker = this.startWorker();
    // A query answered 503 while the worker prepared is still `running` until its reply: this one
    // takes over its watch (the worker answers in order, so this one's reply comes after).
    if (this.running) {
      clearTimeout(this.running.timer);
      clearTimeout(this.running.answerBy);
    }
    return new Promise<Answer>((resolve) => {
      const running: Running = { id: message.id, language: message.language, resolve, timer: this.stallTimer(message.language) };
      // Not the query's fault: 503, while the worker keeps converting for the next query (the
      // reply to this one is dropped when it comes; see onReply).
      running.answerBy = setTimeout(() => {
        const progress = running.converted ? ` (${running.converted.done} of ${running.converted.total} Things converted)` : '';
        running.resolve({
          ok: false,
          problem: { status: 503, title: 'Service Unavailable', detail: `the search data is being brought up to date${progress}; retry shortly` },
        });
        running.resolve = () => {};
      }, this.options.prepareAnswerMs ?? PREPARE_ANSWER_MS);
      this.running = running;
      worker.postMessage(message);
    });
  }

  /** A worker that reports no progress for PREPARE_STALL_MS while preparing is stuck: restarted, 503. */
  private stallTimer(language: SearchLanguage): NodeJS.Timeout {
    return this.limit(language, PREPARE_STALL_MS, (s) => ({
      status: 503,
      title: 'Service Unavailable',
      detail: `the search worker made no progress for ${s} s while bringing its data up to date and was restarted; retry later`,
    }));
  }

  /** The worker converts TDs (for this query or one answered 503 before): it is alive. */
  private onProgress(message: ProgressMessage): void {
    const running = this.running;
    if (!running) return;
    if (running.id === message.id) running.converted = message.converting;
    clearTimeout(running.timer);
    running.timer = this.stallTimer(running.language);
  }

  /** After `ms`, the running query is stopped, answered with `problem(seconds)`, and the worker restarted. */
  private limit(language: SearchLanguage, ms: number, problem: (seconds: number) => Problem): NodeJS.Timeout {
    return setTimeout(() => {
      this.options.logger.warn({ language, ms }, 'search stopped by its time limit; restarting the search worker');
      this.fail(problem(ms / 1000));
    }, ms);
  }

  private startWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./worker.js', import.meta.url), { resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } });
    // A search worker never keeps the process alive; close() ends it.
    worker.unref();
    worker.on('message', (reply: AnswerMessage | StartedMessage | ProgressMessage) => {
      if ('started' in reply) this.onStarted(reply);
      else if ('converting' in reply) this.onProgress(reply);
      else this.onReply(reply);
    });
    worker.on('error', (error) => {
      this.options.logger.warn({ err: error }, 'search worker failed; restarting it');
      const memory = (error as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY';
      this.fail(memory ? tooCostly(`the query needed more than ${WORKER_HEAP_MB} MB and was stopped: narrow or simplify it`) : undefined);
    });
    worker.on('exit', () => {
      if (this.worker === worker) this.fail(undefined);
    });
    this.worker = worker;
    return worker;
  }

  /** The query proper starts: from now on it has its own time limit. */
  private onStarted(message: StartedMessage): void {
    const running = this.running;
    if (!running || running.id !== message.id) return;
    clearTimeout(running.timer);
    clearTimeout(running.answerBy);
    running.timer = this.limit(running.language, this.timeoutMs, (s) =>
      tooCostly(`the query ran more than ${s} s, the limit, and was stopped: narrow or simplify it`),
    );
  }

  private onReply(reply: AnswerMessage): void {
    for (const warning of reply.warnings ?? []) this.options.logger.warn({ warning }, 'search');
    const running = this.running;
    if (!running || running.id !== reply.id) return;
    clearTimeout(running.timer);
    clearTimeout(running.answerBy);
    this.running = undefined;
    const { warnings: _warnings, id: _id, ...answer } = reply;
    // After an internal failure the worker's copy may differ from what was sent: start afresh.
    if (!answer.ok && answer.problem.status === 500) void this.stopWorker();
    running.resolve(answer);
  }

  /** Ends the running query with `problem` (an internal error when undefined), and the worker with it. */
  private fail(problem: Problem | undefined): void {
    const running = this.running;
    this.running = undefined;
    void this.stopWorker();
    if (!running) return;
    clearTimeout(running.timer);
    clearTimeout(running.answerBy);
    running.resolve({
      ok: false,
      problem: problem ?? { status: 500, title: 'Internal Server Error', detail: 'The search worker stopped; the error was logged.' },
    });
  }

  private async stopWorker(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.sent.clear();
    if (worker) await worker.terminate();
  }
}
