// The event protocol against the real server: events, requests, error replies and notices, server requests,
// batches, rooms, and the WebSocket implementation (global or injected).
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { ManualClock, SocketClient, SocketError, type ErrorNotice } from "../dist/index.js";
import { closeAll, client, endpoint, GlobalWebSocket, next, nextEvent, recordingWebSocket, rejectsWith, serverUrl, track, within } from "./helpers.js";

afterEach(closeAll);

interface ServerEvents {
  "chat.message": { text: string; from: string };
  "room.message": { room: string; text: string };
  tick: number;
}
interface ClientEvents {
  "chat.send": { text: string };
  "room.say": { room: string; text: string };
  record: unknown;
  nope: undefined;
  drop: undefined;
}
interface ClientRequests {
  echo: { data: unknown; reply: unknown };
  whoami: { data: undefined; reply: { id: string; token: string } };
  fail: { data: string | undefined; reply: never };
  crash: { data: undefined; reply: never };
  hang: { data: undefined; reply: never };
  ticks: { data: number; reply: number };
  ask: { data: { event: string; data?: unknown }; reply: { reply: unknown; error: { code: string; message: string } | null } };
}
interface ServerRequests {
  confirm: { data: { question: string }; reply: string };
  later: { data: number; reply: number };
  broken: { data: unknown; reply: never };
  refuse: { data: unknown; reply: never };
}

function typed(url = endpoint(), options = {}): SocketClient<ServerEvents, ClientEvents, ClientRequests, ServerRequests> {
  return track(new SocketClient<ServerEvents, ClientEvents, ClientRequests, ServerRequests>(url, options));
}

test("connect resolves when open; emit reaches the server and on() gets its event", async () => {
  const c = typed();
  const states: string[] = [];
  c.lifecycle.on("connecting", (e) => states.push(`connecting ${e.attempt}`));
  c.lifecycle.on("connected", (e) => states.push(`connected ${e.attempt}`));
  assert.equal(c.state, "disconnected");
  await within(c.connect(), "connect");
  assert.equal(c.state, "connected");
  assert.deepEqual(states, ["connecting 0", "connected 0"]);

  const message = nextEvent(c, "chat.message");
  c.emit("chat.send", { text: "hi" });
  const m = await message;
  assert.equal(m.text, "hi");
  assert.equal(typeof m.from, "string");
});

test("once() fires once, off() removes a listener, other listeners still run when one throws", async () => {
  const c = typed();
  const errors: string[] = [];
  c.lifecycle.on("error", (e) => errors.push(e.context));
  await within(c.connect(), "connect");
  const onceTexts: string[] = [];
  const allTexts: string[] = [];
  const removed: string[] = [];
  const removedListener = (m: { text: string }) => removed.push(m.text);
  c.once("chat.message", (m) => onceTexts.push(m.text));
  c.on("chat.message", () => {
    throw new Error("listener bug");
  });
  c.on("chat.message", (m) => allTexts.push(m.text));
  c.on("chat.message", removedListener);
  c.off("chat.message", removedListener);

  c.emit("chat.send", { text: "one" });
  c.emit("chat.send", { text: "two" });
  await within(c.request("echo", "sync"), "a request behind the events");
  assert.deepEqual(onceTexts, ["one"]);
  assert.deepEqual(allTexts, ["one", "two"]);
  assert.deepEqual(removed, []);
  assert.deepEqual(errors, ["listener of 'chat.message'", "listener of 'chat.message'"]);
});

test("request resolves with the reply's data; concurrent requests get their own replies", async () => {
  const c = typed();
  await within(c.connect(), "connect");
  const values = [1, "two", { three: [3] }, null, true];
  const replies = await within(Promise.all(values.map((v) => c.request("echo", v))), "echo replies");
  assert.deepEqual(replies, values);
});

test("an error reply rejects with the server's code, message and source", async () => {
  const c = typed();
  await within(c.connect(), "connect");
  const refused = await rejectsWith(c.request("fail", "not_today"), "not_today");
  assert.equal(refused.message, "Refused on purpose.");
  assert.equal(refused.source, "server");
  assert.ok(refused instanceof SocketError);
  await rejectsWith(c.request("crash"), "handler_failed");
  const unknown = await rejectsWith((c as unknown as SocketClient).request("no.such.event", {}), "unknown_event");
  assert.equal(unknown.source, "server");
  // The connection stays usable.
  assert.equal(await within(c.request("echo", 7), "echo"), 7);
});

test("a request times out through the injected clock", async () => {
  const clock = new ManualClock();
  const c = typed(endpoint(), { clock });
  await within(c.connect(), "connect");
  let settled = false;
  const hanging = c.request("hang", undefined, { timeout: 1500 });
  hanging.then(() => (settled = true), () => (settled = true));
  clock.advance(1499);
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(settled, false, "not before the timeout");
  clock.advance(1);
  const timedOut = await rejectsWith(hanging, "timeout");
  assert.equal(timedOut.source, "client");
  assert.match(timedOut.message, /1500 ms/);
});

test("a pending request rejects with connection_closed when the connection drops; without reconnect the client is then disconnected", async () => {
  const c = typed(endpoint(), { reconnect: false });
  const kicker = client(endpoint());
  await within(Promise.all([c.connect(), kicker.connect()]), "connect");
  const { id } = await within(c.request("whoami"), "whoami");
  const hanging = c.request("hang");
  const disconnected = next(c.lifecycle, "disconnected");
  kicker.emit("kick", id);
  await rejectsWith(hanging, "connection_closed");
  const info = await disconnected;
  assert.match(info.reason, /connection was lost/);
  assert.equal(info.willReconnect, false);
  assert.equal(c.state, "disconnected");
  assert.throws(() => c.emit("nope"), (e: SocketError) => e.code === "not_connected");
});

test("server requests: a handler's value or promise is the reply; none gives unknown_event; a throw gives an error reply", async () => {
  const c = typed();
  const reported: string[] = [];
  c.lifecycle.on("error", (e) => reported.push(`${e.context}: ${(e.error as Error).message}`));
  c.handle("confirm", (q) => `${q.question} yes`);
  c.handle("later", async (n) => n * 2);
  c.handle("broken", () => {
    throw new Error("client bug");
  });
  c.handle("refuse", async () => {
    throw new SocketError("not_now", "Not now.");
  });
  await within(c.connect(), "connect");

  assert.deepEqual(await within(c.request("ask", { event: "confirm", data: { question: "stay?" } }), "confirm"), {
    reply: "stay? yes",
    error: null,
  });
  assert.deepEqual(await within(c.request("ask", { event: "later", data: 21 }), "later"), { reply: 42, error: null });

  const unknown = await within(c.request("ask", { event: "unhandled", data: 1 }), "unhandled");
  assert.equal(unknown.error?.code, "unknown_event");
  assert.match(unknown.error?.message ?? "", /unhandled/);

  const broken = await within(c.request("ask", { event: "broken" }), "broken");
  assert.deepEqual(broken.error, { code: "handler_failed", message: "The client's handler of 'broken' failed." });
  assert.deepEqual(reported, ["handler of the server request 'broken': client bug"]);

  const refused = await within(c.request("ask", { event: "refuse" }), "refuse");
  assert.deepEqual(refused.error, { code: "not_now", message: "Not now." });

  c.handle("confirm", undefined);
  const removed = await within(c.request("ask", { event: "confirm", data: { question: "?" } }), "removed handler");
  assert.equal(removed.error?.code, "unknown_event");
});

test("a server request with on() listeners but no handler is answered null after they ran", async () => {
  const c = client(endpoint());
  await within(c.connect(), "connect");
  const seen: unknown[] = [];
  c.on("notify", (d) => seen.push(d));
  assert.deepEqual(await within(c.request("ask", { event: "notify", data: { n: 1 } }), "notify"), { reply: null, error: null });
  assert.deepEqual(seen, [{ n: 1 }]);
  c.lifecycle.on("error", () => {});
  c.on("notify", () => {
    throw new Error("listener bug");
  });
  const failed = await within(c.request("ask", { event: "notify", data: 2 }), "failing notify");
  assert.equal(failed.error.code, "handler_failed");
});

test("an error notice reaches on('error') with its code", async () => {
  const c = typed();
  await within(c.connect(), "connect");
  const notice: Promise<ErrorNotice> = nextEvent(c, "error");
  c.emit("nope");
  const n = await notice;
  assert.equal(n.code, "unknown_event");
  assert.match(n.message, /nope/);
});

test("a batched event goes item by item, in order, to the event's listeners", async () => {
  const c = typed();
  await within(c.connect(), "connect");
  const items: number[] = [];
  let resolveAll: () => void = () => {};
  const all = new Promise<void>((resolve) => (resolveAll = resolve));
  c.on("tick", (n) => {
    items.push(n);
    if (items.length === 5) {
      resolveAll();
    }
  });
  assert.equal(await within(c.request("ticks", 5), "ticks"), 5);
  await within(all, "five ticks");
  assert.deepEqual(items, [0, 1, 2, 3, 4]);
});

test("with batch_<name> listeners, a batch arrives whole as an array instead", async () => {
  const c = typed();
  await within(c.connect(), "connect");
  const single: number[] = [];
  const batches: number[][] = [];
  let resolveAll: () => void = () => {};
  const all = new Promise<void>((resolve) => (resolveAll = resolve));
  c.on("tick", (n) => single.push(n));
  c.on("batch_tick", (list) => {
    batches.push(list);
    if (batches.flat().length === 3) {
      resolveAll();
    }
  });
  assert.equal(await within(c.request("ticks", 3), "ticks"), 3);
  await within(all, "the batch");
  assert.ok(batches.every((b) => Array.isArray(b)));
  assert.deepEqual(batches.flat(), [0, 1, 2]);
  assert.deepEqual(single, []);
});

test("rooms: join and leave with $join/$leave, refused joins reject with forbidden", async () => {
  const a = typed();
  const b = typed();
  await within(Promise.all([a.connect(), b.connect()]), "connect");

  assert.deepEqual(await within(a.join("lobby"), "join"), { room: "lobby", rooms: ["lobby"] });
  assert.deepEqual(a.rooms, ["lobby"]);
  const refused = await rejectsWith(a.join("staff"), "forbidden");
  assert.equal(refused.source, "server");

  const heard = nextEvent(a, "room.message");
  b.emit("room.say", { room: "lobby", text: "hello lobby" });
  assert.deepEqual(await heard, { room: "lobby", text: "hello lobby" });

  assert.deepEqual(await within(a.leave("lobby"), "leave"), { room: "lobby", rooms: [] });
  assert.deepEqual(a.rooms, []);
  // After leaving, the room's messages no longer arrive: a request behind the emit proves it was handled.
  const after: unknown[] = [];
  a.on("room.message", (m) => after.push(m));
  b.emit("room.say", { room: "lobby", text: "gone" });
  await within(b.request("echo", 1), "echo after the say");
  await within(a.request("echo", 1), "echo on the leaver");
  assert.deepEqual(after, []);
});

test("refreshToken sends the factory's next token with $auth and surfaces the server's refusal", async () => {
  const issued: string[] = [];
  const c = client(endpoint(), { accessTokenFactory: () => { issued.push(`t${issued.length + 1}`); return issued[issued.length - 1]; } });
  await within(c.connect(), "connect");
  assert.deepEqual(issued, ["t1"]);

  // The test server authenticates no one, so the server refuses a refresh of an anonymous connection.
  const refused = await rejectsWith(c.refreshToken(), "forbidden");
  assert.equal(refused.source, "server");
  assert.deepEqual(issued, ["t1", "t2"]);
  assert.equal(await within(c.request("echo", "still open"), "echo"), "still open");

  const noFactory = client(endpoint());
  await within(noFactory.connect(), "connect");
  const missing = await rejectsWith(noFactory.refreshToken(), "no_token");
  assert.equal(missing.source, "client");
});

test("rooms on a namespace that doesn't allow them reject with unknown_event", async () => {
  const c = client(endpoint("/ws/plain"));
  await within(c.connect(), "connect");
  await rejectsWith(c.join("lobby"), "unknown_event");
  assert.equal(await within(c.request("echo", "plain"), "echo"), "plain");
});

test("an injected WebSocket constructor is used, and sub-protocol-less raw endpoints work", async () => {
  const recording = recordingWebSocket();
  const c = client(`${serverUrl}/ws/echo`, { WebSocket: recording.ctor });
  await within(c.connect(), "connect");
  assert.equal(recording.urls.length, 1);
  assert.equal(recording.urls[0], `${serverUrl}/ws/echo`);
  // The raw endpoint sends our own message back, which reads as an event from the server.
  const echoed = nextEvent(c, "ping");
  c.emit("ping", { n: 1 });
  assert.deepEqual(await echoed, { n: 1 });
  // A request comes back as a server request; with no handler the client answers unknown_event,
  // which the echo returns as the reply to the request.
  await rejectsWith(c.request("anything", 1), "unknown_event");
});

test("without a global or injected WebSocket the constructor throws a clear error", () => {
  const holder = globalThis as { WebSocket?: unknown };
  const saved = holder.WebSocket;
  assert.ok(saved, "the tests need the global WebSocket (node --experimental-websocket on Node 20)");
  delete holder.WebSocket;
  try {
    assert.throws(() => new SocketClient(`${serverUrl}/ws/ts`), /No WebSocket implementation.*--experimental-websocket/);
    assert.ok(new SocketClient(`${serverUrl}/ws/ts`, { WebSocket: GlobalWebSocket }));
  } finally {
    holder.WebSocket = saved;
  }
});

test("URLs: http(s) maps to ws(s), other schemes and bad options are refused", async () => {
  assert.throws(() => new SocketClient("ftp://example.com/ws"), /ws:, wss:, http: or https:/);
  assert.throws(() => new SocketClient(`${serverUrl}/ws`, { retryInterval: -1 }), /retryInterval/);
  assert.throws(() => new SocketClient(`${serverUrl}/ws`, { retryJitter: 2 }), /retryJitter/);
  const recording = recordingWebSocket();
  const c = new SocketClient(serverUrl.replace("ws:", "http:") + "/ws/ts", { WebSocket: recording.ctor });
  const connecting = c.connect().catch((e: unknown) => e);
  assert.equal(recording.urls[0], `${serverUrl}/ws/ts`);
  await c.close();
  assert.equal(((await connecting) as SocketError).code, "stopped");
});
