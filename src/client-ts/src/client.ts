import { retryDelay } from "./backoff.js";
import { systemClock, type Clock, type TimerHandle } from "./clock.js";
import { Emitter } from "./emitter.js";
import { SocketError } from "./errors.js";
import type {
  AnyEvents,
  AnyRequests,
  DataArgs,
  EventMap,
  IncomingEvents,
  Listener,
  RequestData,
  RequestHandler,
  RequestMap,
  RequestReply,
  RoomsReply,
  WebSocketCloseEventLike,
  WebSocketConstructor,
  WebSocketLike,
} from "./types.js";

/** The connection state. Sends are buffered in the outbox while `connecting` or `reconnecting`. */
export type ConnectionState = "disconnected" | "connecting" | "connected" | "reconnecting";

/** Why a message left the outbox without being sent. */
export type DropReason = "expired" | "stopped";

/** A message dropped from the outbox, as reported by the `dropped` lifecycle event. */
export interface DroppedMessage {
  /** The message's event. */
  readonly event: string;
  /** Whether it was a request (its promise is rejected too). */
  readonly request: boolean;
  /** `expired`: it outlived its time to live; `stopped`: `close()` discarded it. */
  readonly reason: DropReason;
  /** How long it waited in the outbox, in ms. */
  readonly age: number;
}

/** The client's own events, on {@link SocketClient.lifecycle}. */
export interface LifecycleEvents {
  /** A new socket is opening: attempt 0 is the first of `connect()`, then 1, 2, … count the retries. */
  connecting: { readonly attempt: number };
  /** The socket is open; the outbox has been flushed. */
  connected: { readonly attempt: number };
  /** The connection was lost or an attempt failed; attempt `attempt` starts after `delay` ms. */
  reconnecting: { readonly attempt: number; readonly delay: number; readonly reason: string; readonly code: number | undefined };
  /**
   * An open connection ended (`willReconnect` tells whether `reconnecting` follows), or the client stopped:
   * `close()` was called, or it gave up after `maxRetries` retries. `code` is the close code, when there was one.
   */
  disconnected: { readonly reason: string; readonly code: number | undefined; readonly willReconnect: boolean };
  /** A message left the outbox unsent; {@link SocketClient.droppedCount} counts them. */
  dropped: DroppedMessage;
  /** A listener or handler threw, or the server sent something that is not a protocol message. */
  error: { readonly error: unknown; readonly context: string };
}

/** Options of {@link SocketClient}. Every time is in milliseconds. */
export interface SocketClientOptions {
  /** The WebSocket constructor. Default: the global `WebSocket` (browsers, Node 22+, Node 20 with `--experimental-websocket`). */
  WebSocket?: WebSocketConstructor | undefined;
  /** Sub-protocols to offer in the handshake. Default: none. */
  protocols?: string | string[] | undefined;
  /**
   * Called before every connection attempt; a non-empty result is sent as the `access_token` query parameter
   * (browsers can't set headers on a WebSocket). A throwing provider fails that attempt. Default: none.
   */
  accessTokenFactory?: (() => string | null | undefined | PromiseLike<string | null | undefined>) | undefined;
  /** Reconnect when the connection is lost or an attempt fails. Default: `true`. */
  reconnect?: boolean | undefined;
  /** Retries after which the client gives up: with `maxRetries: 2`, it stops after the third failed attempt in a row. Default: `Infinity`. */
  maxRetries?: number | undefined;
  /** The base of the backoff: the delay before the first retry. Default: 1000. */
  retryInterval?: number | undefined;
  /** The longest delay between attempts. Default: 30000. */
  maxRetryDelay?: number | undefined;
  /** The share of each delay taken off at random, 0 to 1. Default: 0.2. */
  retryJitter?: number | undefined;
  /** How long an attempt (token and handshake) may take before it counts as failed. Default: 10000. */
  connectTimeout?: number | undefined;
  /** How long `request()` waits for a reply, counted from the call. Default: 30000. */
  requestTimeout?: number | undefined;
  /** How many messages the outbox holds while not connected; `0` disables buffering. Default: 1000. */
  outboxCapacity?: number | undefined;
  /** How long a message may wait in the outbox before it is dropped. Default: `Infinity` (kept until sent or `close()`). */
  messageTtl?: number | undefined;
  /** Time source for every timer of the client. Default: the real clock. */
  clock?: Clock | undefined;
  /** Random numbers in [0, 1) for the jitter. Default: `Math.random`. */
  random?: (() => number) | undefined;
}

/** Options of one `emit()`. */
export interface EmitOptions {
  /** Overrides `messageTtl` for this message if it has to wait in the outbox. */
  ttl?: number | undefined;
}

/** Options of one `request()`. */
export interface RequestOptions extends EmitOptions {
  /** Overrides `requestTimeout`. */
  timeout?: number | undefined;
}

interface ResolvedOptions {
  readonly protocols: string | string[] | undefined;
  readonly accessTokenFactory: SocketClientOptions["accessTokenFactory"];
  readonly reconnect: boolean;
  readonly maxRetries: number;
  readonly retryInterval: number;
  readonly maxRetryDelay: number;
  readonly retryJitter: number;
  readonly connectTimeout: number;
  readonly requestTimeout: number;
  readonly outboxCapacity: number;
  readonly messageTtl: number;
}

interface OutboxEntry {
  readonly event: string;
  readonly text: string;
  readonly queuedAt: number;
  readonly expiresAt: number;
  readonly request: PendingRequest | undefined;
  timer: TimerHandle | undefined;
}

interface PendingRequest {
  readonly id: number;
  readonly event: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: SocketError) => void;
  timer: TimerHandle | undefined;
  /** The connection generation it was sent on; undefined while it waits in the outbox. */
  sentOn: number | undefined;
}

/** Why the client is `disconnected`: never started, stopped by `close()`, or failed with no retry coming. */
type Idle = "initial" | "stopped" | "failed";

interface ConnectWaiter {
  readonly resolve: () => void;
  readonly reject: (error: SocketError) => void;
}

interface Message {
  event?: unknown;
  data?: unknown;
  id?: unknown;
  reply?: unknown;
  error?: unknown;
}

const OPEN = 1;

function isId(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 1;
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  const result = value ?? fallback;
  if (typeof result !== "number" || Number.isNaN(result) || result < 0) {
    throw new RangeError(`Option '${name}' must be a number >= 0; got ${String(value)}.`);
  }
  return result;
}

/**
 * A client of the WebSockets event protocol (docs/protocol.md) with reconnection and an outbox.
 *
 * @typeParam ServerEvents Events the server emits: name → data type.
 * @typeParam ClientEvents Events the client emits: name → data type.
 * @typeParam ClientRequests Requests the client sends: name → `{ data; reply }`.
 * @typeParam ServerRequests Requests the server sends: name → `{ data; reply }`.
 */
export class SocketClient<
  ServerEvents extends EventMap = AnyEvents,
  ClientEvents extends EventMap = AnyEvents,
  ClientRequests extends RequestMap = AnyRequests,
  ServerRequests extends RequestMap = AnyRequests,
> {
  /** The client's own events: `connecting`, `connected`, `reconnecting`, `disconnected`, `dropped`, `error`. */
  readonly lifecycle: Emitter<LifecycleEvents>;

  private readonly url: URL;
  private readonly WebSocketCtor: WebSocketConstructor;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly options: ResolvedOptions;
  private readonly events: Emitter<IncomingEvents<ServerEvents>>;
  private readonly handlers = new Map<string, (data: any) => unknown>();
  private readonly requests = new Map<number, PendingRequest>();
  private readonly outbox: OutboxEntry[] = [];
  private connectWaiters: ConnectWaiter[] = [];
  private currentState: ConnectionState = "disconnected";
  private idle: Idle = "initial";
  private socket: WebSocketLike | undefined;
  private generation = 0;
  private attempt = 0;
  private retryTimer: TimerHandle | undefined;
  private connectTimer: TimerHandle | undefined;
  private nextId = 0;
  private dropped = 0;
  private joinedRooms: readonly string[] = [];

  /**
   * @param url The endpoint, e.g. `wss://example.com/ws/chat` (`http(s):` is turned into `ws(s):`; in a browser
   *   a relative URL is resolved against the page).
   * @param options See {@link SocketClientOptions}.
   */
  constructor(url: string, options: SocketClientOptions = {}) {
    const base = (globalThis as { location?: { href?: string } }).location?.href;
    this.url = base === undefined ? new URL(url) : new URL(url, base);
    if (this.url.protocol === "http:") {
      this.url.protocol = "ws:";
    } else if (this.url.protocol === "https:") {
      this.url.protocol = "wss:";
    }
    if (this.url.protocol !== "ws:" && this.url.protocol !== "wss:") {
      throw new SyntaxError(`The URL must use ws:, wss:, http: or https:; got '${url}'.`);
    }

    const ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (ctor === undefined) {
      throw new TypeError(
        "No WebSocket implementation: there is no global WebSocket (Node 20 needs --experimental-websocket; Node 22+ and browsers have one). Pass options.WebSocket, e.g. the 'ws' package.",
      );
    }
    this.WebSocketCtor = ctor;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    const retryJitter = nonNegative("retryJitter", options.retryJitter, 0.2);
    if (retryJitter > 1) {
      throw new RangeError(`Option 'retryJitter' must be between 0 and 1; got ${retryJitter}.`);
    }
    this.options = {
      protocols: options.protocols,
      accessTokenFactory: options.accessTokenFactory,
      reconnect: options.reconnect ?? true,
      maxRetries: nonNegative("maxRetries", options.maxRetries, Infinity),
      retryInterval: nonNegative("retryInterval", options.retryInterval, 1000),
      maxRetryDelay: nonNegative("maxRetryDelay", options.maxRetryDelay, 30000),
      retryJitter,
      connectTimeout: nonNegative("connectTimeout", options.connectTimeout, 10000),
      requestTimeout: nonNegative("requestTimeout", options.requestTimeout, 30000),
      outboxCapacity: nonNegative("outboxCapacity", options.outboxCapacity, 1000),
      messageTtl: nonNegative("messageTtl", options.messageTtl, Infinity),
    };

    this.lifecycle = new Emitter<LifecycleEvents>((error, event) => {
      if (event !== "error" && this.lifecycle.has("error")) {
        this.lifecycle.emit("error", { error, context: `lifecycle listener of '${String(event)}'` });
      } else {
        console.error(`aspnetcore-websockets-client: a '${String(event)}' lifecycle listener threw`, error);
      }
    });
    this.events = new Emitter<IncomingEvents<ServerEvents>>((error, event) =>
      this.report(error, `listener of '${String(event)}'`),
    );
  }

  /** The connection state. */
  get state(): ConnectionState {
    return this.currentState;
  }

  /** How many messages were dropped from the outbox so far (expired, or discarded by `close()`). */
  get droppedCount(): number {
    return this.dropped;
  }

  /** How many messages wait in the outbox. */
  get outboxSize(): number {
    return this.outbox.length;
  }

  /** The rooms of the current connection, as of the last `join()`/`leave()` reply; empty after a disconnect. */
  get rooms(): readonly string[] {
    return this.joinedRooms;
  }

  /**
   * Starts connecting (if not already) and resolves once connected. Failed attempts are retried as configured;
   * the promise rejects only when the client gives up (`connect_failed`) or `close()` is called first (`stopped`).
   * Messages sent before it wait in the outbox.
   */
  connect(): Promise<void> {
    if (this.currentState === "connected") {
      return Promise.resolve();
    }
    const promise = new Promise<void>((resolve, reject) => this.connectWaiters.push({ resolve, reject }));
    if (this.currentState === "disconnected") {
      this.attempt = 0;
      void this.open(0);
    }
    return promise;
  }

  /**
   * Stops the client: closes the socket (with `code`, default 1000), stops reconnecting, rejects pending
   * requests with `stopped` and drops the outbox (reported as `stopped`). Sends then throw `stopped` until
   * `connect()` is called again. Resolves when an open socket has closed.
   */
  close(code = 1000, reason?: string): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    this.stop("stopped by close()");
    if (socket === undefined) {
      return Promise.resolve();
    }
    detach(socket);
    if (socket.readyState !== OPEN) {
      // Still connecting (some implementations then never fire close) or already closing: nothing to wait for.
      try {
        socket.close();
      } catch {
        // a socket that never opened may refuse a close; it is discarded anyway
      }
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      socket.onclose = () => resolve();
      try {
        if (reason === undefined) {
          socket.close(code);
        } else {
          socket.close(code, reason);
        }
      } catch (error) {
        this.report(error, "closing the socket");
        resolve();
      }
    });
  }

  /** Listens to a server event, a `batch_<name>` event (the whole array) or `error` notices. Returns `this`. */
  on<K extends keyof IncomingEvents<ServerEvents> & string>(event: K, listener: Listener<IncomingEvents<ServerEvents>[K]>): this {
    this.events.on(event, listener);
    return this;
  }

  /** Like {@link on}, for the next occurrence only. */
  once<K extends keyof IncomingEvents<ServerEvents> & string>(event: K, listener: Listener<IncomingEvents<ServerEvents>[K]>): this {
    this.events.once(event, listener);
    return this;
  }

  /** Removes a listener, or every listener of the event when none is given. */
  off<K extends keyof IncomingEvents<ServerEvents> & string>(event: K, listener?: Listener<IncomingEvents<ServerEvents>[K]>): this {
    this.events.off(event, listener);
    return this;
  }

  /**
   * Answers the server's request `event`: the handler's return value, or what its promise resolves to, is the
   * reply's data. An error with a non-empty string `code` (e.g. a {@link SocketError}) thrown or rejected is sent
   * as an error reply with that code and message; any other error as `handler_failed` with a generic message (the
   * error itself goes to the `error` lifecycle event). A server request without a handler is answered `null` after
   * its `on()` listeners ran when it has some, else with an `unknown_event` error reply. One handler per event: a
   * new one replaces the old; `handle(event, undefined)` removes it.
   */
  handle<K extends keyof ServerRequests & string>(
    event: K,
    handler: RequestHandler<RequestData<ServerRequests, K>, RequestReply<ServerRequests, K>> | undefined,
  ): this {
    if (handler === undefined) {
      this.handlers.delete(event);
    } else {
      this.handlers.set(event, handler);
    }
    return this;
  }

  /**
   * Sends an event (fire and forget). While not connected it waits in the outbox; throws a {@link SocketError}
   * `outbox_full` when the outbox is full, `stopped` after `close()`, `not_connected` when the client gave up.
   */
  emit<K extends keyof ClientEvents & string>(event: K, ...args: DataArgs<ClientEvents[K], EmitOptions>): void {
    const [data, options] = args;
    this.checkEvent(event);
    this.enqueue(event, JSON.stringify({ event, data: data ?? null }), options?.ttl, undefined);
  }

  /**
   * Sends a request and resolves with the reply's data. Rejects with a {@link SocketError}: the server's code on
   * an error reply (`source: "server"`); `timeout` when no reply came within the timeout (counted from the
   * call, outbox time included); `connection_closed` when the connection ended after it was sent; `stopped` when
   * `close()` came first; `expired`, `outbox_full` or `not_connected` when it could not be sent.
   */
  request<K extends keyof ClientRequests & string>(
    event: K,
    ...args: DataArgs<RequestData<ClientRequests, K>, RequestOptions>
  ): Promise<RequestReply<ClientRequests, K>> {
    const [data, options] = args;
    return this.sendRequest(event, data, options) as Promise<RequestReply<ClientRequests, K>>;
  }

  /** Joins a room with the built-in `$join` request; rejects with `forbidden` when refused, `unknown_event` when the server doesn't allow client rooms. */
  async join(room: string, options?: RequestOptions): Promise<RoomsReply> {
    const reply = (await this.sendRequest("$join", { room }, options)) as RoomsReply;
    this.joinedRooms = Array.isArray(reply?.rooms) ? [...reply.rooms] : this.joinedRooms;
    return reply;
  }

  /** Leaves a room with the built-in `$leave` request. */
  async leave(room: string, options?: RequestOptions): Promise<RoomsReply> {
    const reply = (await this.sendRequest("$leave", { room }, options)) as RoomsReply;
    this.joinedRooms = Array.isArray(reply?.rooms) ? [...reply.rooms] : this.joinedRooms;
    return reply;
  }

  /**
   * Presents a fresh token from `accessTokenFactory` over the open connection with the built-in `$auth` request,
   * so that a server that closes connections when their authentication expires keeps this one open. The token
   * must be for the same user. Rejects with `no_token` when there is no factory or it returns none, and with the
   * server's `unauthorized` or `forbidden` when the token is refused.
   */
  async refreshToken(options?: RequestOptions): Promise<void> {
    const factory = this.options.accessTokenFactory;
    const token = factory === undefined ? undefined : await factory();
    if (token === undefined || token === null || token === "") {
      throw new SocketError("no_token", "There is no accessTokenFactory, or it returned no token.");
    }

    await this.sendRequest("$auth", { token }, options);
  }

  private sendRequest(event: string, data: unknown, options: RequestOptions | undefined): Promise<unknown> {
    try {
      this.checkEvent(event);
    } catch (error) {
      return Promise.reject(error);
    }
    let timeout: number;
    try {
      timeout = nonNegative("timeout", options?.timeout, this.options.requestTimeout);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<unknown>((resolve, reject) => {
      const id = ++this.nextId;
      const pending: PendingRequest = { id, event, resolve, reject, timer: undefined, sentOn: undefined };
      try {
        this.requests.set(id, pending);
        this.enqueue(event, JSON.stringify({ event, data: data ?? null, id }), options?.ttl, pending);
      } catch (error) {
        this.requests.delete(id);
        reject(error);
        return;
      }
      if (Number.isFinite(timeout) && this.requests.has(id)) {
        pending.timer = this.clock.setTimeout(() => {
          if (this.requests.get(id) !== pending) {
            return;
          }
          this.requests.delete(id);
          this.removeFromOutbox(pending);
          reject(new SocketError("timeout", `The request '${event}' got no reply within ${timeout} ms.`, "client", event));
        }, timeout);
      }
    });
  }

  private checkEvent(event: string): void {
    if (typeof event !== "string" || event.length === 0) {
      throw new TypeError("The event name must be a non-empty string.");
    }
  }

  /**
   * Sends now when connected, else buffers; throws when it can do neither. A socket that is closing (the loss
   * is not reported yet) counts as not connected: the message waits for the next connection.
   */
  private enqueue(event: string, text: string, ttl: number | undefined, request: PendingRequest | undefined): void {
    if (this.currentState === "connected" && this.socket !== undefined && this.socket.readyState === OPEN) {
      this.socket.send(text);
      if (request) {
        request.sentOn = this.generation;
      }
      return;
    }
    if (this.currentState === "disconnected" && this.idle === "stopped") {
      throw new SocketError("stopped", `Cannot send '${event}': the client was stopped by close(). Call connect() to start it again.`, "client", event);
    }
    if (this.currentState === "disconnected" && this.idle === "failed") {
      throw new SocketError(
        "not_connected",
        `Cannot send '${event}': the client is disconnected and no reconnection is coming (it gave up, or reconnect is off). Call connect() to start it again.`,
        "client",
        event,
      );
    }
    if (this.outbox.length >= this.options.outboxCapacity) {
      throw new SocketError(
        "outbox_full",
        `Cannot send '${event}': the client is not connected and its outbox is full (${this.options.outboxCapacity} messages, option outboxCapacity).`,
        "client",
        event,
      );
    }
    const lifetime = nonNegative("ttl", ttl, this.options.messageTtl);
    const now = this.clock.now();
    const entry: OutboxEntry = { event, text, queuedAt: now, expiresAt: now + lifetime, request, timer: undefined };
    if (Number.isFinite(lifetime)) {
      entry.timer = this.clock.setTimeout(() => this.expire(entry), lifetime);
    }
    this.outbox.push(entry);
  }

  private expire(entry: OutboxEntry): void {
    const index = this.outbox.indexOf(entry);
    if (index >= 0) {
      this.outbox.splice(index, 1);
      this.drop(entry, "expired");
    }
  }

  private drop(entry: OutboxEntry, reason: DropReason): void {
    if (entry.timer !== undefined) {
      this.clock.clearTimeout(entry.timer);
      entry.timer = undefined;
    }
    this.dropped++;
    const age = this.clock.now() - entry.queuedAt;
    const request = entry.request;
    if (request !== undefined && this.requests.get(request.id) === request) {
      this.requests.delete(request.id);
      this.clearRequestTimer(request);
      request.reject(
        reason === "expired"
          ? new SocketError("expired", `The request '${entry.event}' waited ${age} ms in the outbox and expired unsent.`, "client", entry.event)
          : new SocketError("stopped", `The request '${entry.event}' was discarded unsent: the client was stopped by close().`, "client", entry.event),
      );
    }
    this.lifecycle.emit("dropped", { event: entry.event, request: request !== undefined, reason, age });
  }

  private removeFromOutbox(request: PendingRequest): void {
    const index = this.outbox.findIndex((e) => e.request === request);
    if (index >= 0) {
      const [entry] = this.outbox.splice(index, 1);
      if (entry?.timer !== undefined) {
        this.clock.clearTimeout(entry.timer);
      }
    }
  }

  private clearRequestTimer(request: PendingRequest): void {
    if (request.timer !== undefined) {
      this.clock.clearTimeout(request.timer);
      request.timer = undefined;
    }
  }

  private setState(state: ConnectionState): void {
    this.currentState = state;
  }

  private async open(attempt: number): Promise<void> {
    const generation = ++this.generation;
    this.setState("connecting");
    this.lifecycle.emit("connecting", { attempt });
    if (generation !== this.generation) {
      return;
    }

    let socket: WebSocketLike | undefined;
    let opened = false;
    if (Number.isFinite(this.options.connectTimeout)) {
      // Covers the token provider and the handshake.
      this.connectTimer = this.clock.setTimeout(() => {
        this.connectTimer = undefined;
        if (generation !== this.generation || opened) {
          return;
        }
        if (socket !== undefined) {
          this.socket = undefined;
          discard(socket);
        }
        this.retry(`the attempt did not complete within ${this.options.connectTimeout} ms`, undefined, false);
      }, this.options.connectTimeout);
    }

    const url = new URL(this.url.href);
    if (this.options.accessTokenFactory !== undefined) {
      let token: string | null | undefined;
      try {
        token = await this.options.accessTokenFactory();
      } catch (error) {
        if (generation === this.generation) {
          this.clearConnectTimer();
          this.retry(`the access token provider failed: ${error instanceof Error ? error.message : String(error)}`, undefined, false);
        }
        return;
      }
      if (generation !== this.generation) {
        return;
      }
      if (token !== null && token !== undefined && token !== "") {
        url.searchParams.set("access_token", token);
      }
    }

    try {
      socket = this.options.protocols === undefined
        ? new this.WebSocketCtor(url.href)
        : new this.WebSocketCtor(url.href, this.options.protocols);
    } catch (error) {
      this.clearConnectTimer();
      this.retry(`the WebSocket could not be created: ${error instanceof Error ? error.message : String(error)}`, undefined, false);
      return;
    }
    const current = socket;
    this.socket = current;

    current.onopen = () => {
      if (generation !== this.generation) {
        return;
      }
      opened = true;
      this.clearConnectTimer();
      this.attempt = 0;
      this.setState("connected");
      this.flush(current, generation);
      const waiters = this.connectWaiters;
      this.connectWaiters = [];
      for (const waiter of waiters) {
        waiter.resolve();
      }
      if (generation === this.generation) {
        this.lifecycle.emit("connected", { attempt });
      }
    };
    current.onmessage = (event) => {
      if (generation === this.generation) {
        this.receive(event.data, generation);
      }
    };
    current.onerror = () => {
      if (generation !== this.generation || opened) {
        return; // after the open, a close event follows: that is where the loss is handled
      }
      // A failed handshake: browsers follow with a close event, but Node 20's WebSocket fires only this one.
      this.clearConnectTimer();
      this.socket = undefined;
      discard(current);
      this.retry("the connection could not be opened (the handshake failed)", undefined, false);
    };
    current.onclose = (event: WebSocketCloseEventLike) => {
      if (generation !== this.generation) {
        return;
      }
      this.clearConnectTimer();
      this.socket = undefined;
      const detail = `code ${event.code}${event.reason ? `: ${event.reason}` : ""}`;
      if (opened) {
        this.failSent(generation);
        this.retry(`the connection was lost (${detail})`, event.code, true);
      } else {
        this.retry(`the connection could not be opened (${detail})`, event.code, false);
      }
    };
  }

  /** Rejects the requests sent on a connection that ended; they can't be answered any more. */
  private failSent(generation: number): void {
    this.joinedRooms = [];
    for (const [id, request] of [...this.requests]) {
      if (request.sentOn === generation) {
        this.requests.delete(id);
        this.clearRequestTimer(request);
        request.reject(new SocketError("connection_closed", `The connection ended before the reply to '${request.event}' arrived.`, "client", request.event));
      }
    }
  }

  /**
   * After a lost connection (`lost`) or a failed attempt: schedules the next attempt, or gives up. A lost
   * connection is reported as `disconnected` first (with `willReconnect`), then as `reconnecting`.
   */
  private retry(reason: string, code: number | undefined, lost: boolean): void {
    const willReconnect = this.options.reconnect && this.attempt < this.options.maxRetries;
    if (!willReconnect) {
      const final = !this.options.reconnect || lost
        ? reason
        : `gave up after ${this.attempt} ${this.attempt === 1 ? "retry" : "retries"}: ${reason}`;
      this.fail(final, code);
      return;
    }
    const attempt = ++this.attempt;
    const delay = retryDelay(attempt, this.options, this.random);
    const generation = ++this.generation;
    this.setState("reconnecting");
    this.retryTimer = this.clock.setTimeout(() => {
      this.retryTimer = undefined;
      if (generation === this.generation) {
        void this.open(attempt);
      }
    }, delay);
    if (lost) {
      this.lifecycle.emit("disconnected", { reason, code, willReconnect: true });
    }
    if (generation === this.generation) {
      this.lifecycle.emit("reconnecting", { attempt, delay, reason, code });
    }
  }

  /** Leaves every connection state for `disconnected`: no socket, no timer of the connection. */
  private halt(idle: Idle): boolean {
    const wasActive = this.currentState !== "disconnected";
    this.generation++;
    this.clearConnectTimer();
    if (this.retryTimer !== undefined) {
      this.clock.clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
    }
    if (this.socket !== undefined) {
      discard(this.socket);
      this.socket = undefined;
    }
    this.setState("disconnected");
    this.idle = idle;
    this.joinedRooms = [];
    return wasActive;
  }

  /**
   * No connection is coming (reconnect off, or `maxRetries` reached): sends throw `not_connected`, the outbox is
   * kept for a later `connect()` (expiry still applies), and `connect()` callers get `connect_failed`.
   */
  private fail(reason: string, code: number | undefined): void {
    const wasActive = this.halt("failed");
    const waiters = this.connectWaiters;
    this.connectWaiters = [];
    for (const waiter of waiters) {
      waiter.reject(new SocketError("connect_failed", `The client could not connect: ${reason}.`, "client"));
    }
    if (wasActive) {
      this.lifecycle.emit("disconnected", { reason, code, willReconnect: false });
    }
  }

  /** `close()`: rejects every request, drops the outbox, and sends throw `stopped` until `connect()`. */
  private stop(reason: string): void {
    const wasActive = this.halt("stopped");
    for (const [id, request] of [...this.requests]) {
      if (request.sentOn !== undefined) {
        this.requests.delete(id);
        this.clearRequestTimer(request);
        request.reject(new SocketError("stopped", `The client was stopped before the reply to '${request.event}' arrived.`, "client", request.event));
      }
    }
    for (const entry of this.outbox.splice(0)) {
      this.drop(entry, "stopped");
    }
    const waiters = this.connectWaiters;
    this.connectWaiters = [];
    for (const waiter of waiters) {
      waiter.reject(new SocketError("stopped", "The client was stopped by close() before it connected.", "client"));
    }
    if (wasActive) {
      this.lifecycle.emit("disconnected", { reason, code: undefined, willReconnect: false });
    }
  }

  private clearConnectTimer(): void {
    if (this.connectTimer !== undefined) {
      this.clock.clearTimeout(this.connectTimer);
      this.connectTimer = undefined;
    }
  }

  /** Sends the outbox in order; expired entries are dropped, never sent late. */
  private flush(socket: WebSocketLike, generation: number): void {
    while (this.outbox.length > 0 && generation === this.generation && socket.readyState === OPEN) {
      const entry = this.outbox.shift()!;
      if (entry.timer !== undefined) {
        this.clock.clearTimeout(entry.timer);
        entry.timer = undefined;
      }
      if (this.clock.now() >= entry.expiresAt) {
        this.drop(entry, "expired");
        continue;
      }
      socket.send(entry.text);
      if (entry.request !== undefined) {
        entry.request.sentOn = generation;
      }
    }
  }

  private receive(raw: unknown, generation: number): void {
    if (typeof raw !== "string") {
      this.report(new TypeError("A binary message arrived; the event protocol uses text messages only."), "receiving");
      return;
    }
    let message: Message;
    try {
      message = JSON.parse(raw) as Message;
    } catch (error) {
      this.report(error, "parsing a message that is not JSON");
      return;
    }
    if (typeof message !== "object" || message === null || Array.isArray(message)) {
      this.report(new TypeError(`A message is not a JSON object: ${raw.slice(0, 200)}`), "receiving");
      return;
    }

    if (isId(message.reply) && message.event === undefined) {
      this.receiveReply(message.reply, message);
      return;
    }
    if (typeof message.event !== "string" || message.event.length === 0) {
      this.report(new TypeError(`A message has no event: ${raw.slice(0, 200)}`), "receiving");
      return;
    }
    const data = message.data === undefined ? null : message.data;
    if (message.id !== undefined) {
      if (isId(message.id)) {
        this.answer(message.event, data, message.id, generation);
      } else {
        this.report(new TypeError(`A server request has an invalid id: ${raw.slice(0, 200)}`), "receiving");
      }
      return;
    }

    const event = message.event as keyof IncomingEvents<ServerEvents> & string;
    if (event.startsWith("batch_") && Array.isArray(data) && !this.events.has(event)) {
      // Without batch_<name> listeners, a batch goes item by item, in order, to the listeners of <name>.
      const single = event.slice("batch_".length) as keyof IncomingEvents<ServerEvents> & string;
      for (const item of data) {
        this.events.emit(single, item as IncomingEvents<ServerEvents>[typeof single]);
      }
      return;
    }
    this.events.emit(event, data as IncomingEvents<ServerEvents>[typeof event]);
  }

  private receiveReply(id: number, message: Message): void {
    const request = this.requests.get(id);
    if (request === undefined) {
      return; // timed out or rejected already; a late reply is dropped
    }
    this.requests.delete(id);
    this.clearRequestTimer(request);
    const error = message.error as { code?: unknown; message?: unknown } | undefined;
    if (error !== undefined && error !== null) {
      const code = typeof error.code === "string" ? error.code : "error";
      const text = typeof error.message === "string" ? error.message : `The server answered '${request.event}' with error '${code}'.`;
      request.reject(new SocketError(code, text, "server", request.event));
    } else {
      request.resolve(message.data === undefined ? null : message.data);
    }
  }

  private answer(event: string, data: unknown, id: number, generation: number): void {
    const handler = this.handlers.get(event);
    if (handler === undefined) {
      const name = event as keyof IncomingEvents<ServerEvents> & string;
      if (this.events.has(name)) {
        // Like the .NET client: an event handler answers a request with null once it has run.
        const ok = this.events.emit(name, data as IncomingEvents<ServerEvents>[typeof name]);
        this.sendReply(generation, ok
          ? { reply: id, data: null }
          : { reply: id, error: { code: "handler_failed", message: `The client's listener of '${event}' failed.` } });
      } else {
        this.sendReply(generation, { reply: id, error: { code: "unknown_event", message: `The client has no handler for the request '${event}'.` } });
      }
      return;
    }
    const fail = (error: unknown): void => {
      const code = (error as { code?: unknown } | null)?.code;
      if (typeof code === "string" && code !== "") {
        // A deliberate refusal (e.g. a SocketError): its code and message are the reply.
        const text = error instanceof Error ? error.message : String((error as { message?: unknown }).message ?? code);
        this.sendReply(generation, { reply: id, error: { code, message: text } });
      } else {
        this.report(error, `handler of the server request '${event}'`);
        this.sendReply(generation, { reply: id, error: { code: "handler_failed", message: `The client's handler of '${event}' failed.` } });
      }
    };
    let result: unknown;
    try {
      result = handler(data);
    } catch (error) {
      fail(error);
      return;
    }
    Promise.resolve(result).then(
      (value) => this.sendReply(generation, { reply: id, data: value === undefined ? null : value }),
      fail,
    );
  }

  /** Sends a reply on the connection the request came on; if that connection ended, the server has given up on it. */
  private sendReply(generation: number, reply: object): void {
    if (generation !== this.generation || this.socket === undefined || this.currentState !== "connected") {
      return;
    }
    let text: string;
    try {
      text = JSON.stringify(reply);
    } catch (error) {
      const id = (reply as { reply: number }).reply;
      text = JSON.stringify({ reply: id, error: { code: "handler_failed", message: `The reply could not be serialized: ${error instanceof Error ? error.message : String(error)}` } });
    }
    this.socket.send(text);
  }

  private report(error: unknown, context: string): void {
    if (this.lifecycle.has("error")) {
      this.lifecycle.emit("error", { error, context });
    } else {
      console.error(`aspnetcore-websockets-client: ${context}`, error);
    }
  }
}

function detach(socket: WebSocketLike): void {
  socket.onopen = null;
  socket.onmessage = null;
  socket.onclose = null;
  socket.onerror = null;
}

/** Forgets a socket: no more events from it, and closed if it isn't yet. */
function discard(socket: WebSocketLike): void {
  detach(socket);
  try {
    socket.close(1000);
  } catch {
    // a socket that never opened may refuse a close; it is discarded anyway
  }
}
