// Reconnection, backoff, tokens and the outbox against the real server. Every delay, timeout and expiry runs on a
// ManualClock: the tests move time forward themselves and only wait (with a bound) for real network events.
import assert from "node:assert/strict";
import { afterEach, test } from "node:test";
import { ManualClock, retryDelay, SocketError, type DroppedMessage, type LifecycleEvents, type SocketClient } from "../dist/index.js";
import { client, closeAll, endpoint, next, recordingWebSocket, rejectsWith, within } from "./helpers.js";

afterEach(closeAll);

/** Connects, then makes the server abort the connection, and returns the `reconnecting` event that follows. */
async function connectThenDrop(c: SocketClient): Promise<LifecycleEvents["reconnecting"]> {
  await within(c.connect(), "connect");
  const reconnecting = next(c.lifecycle, "reconnecting");
  c.emit("drop");
  const info = await reconnecting;
  assert.equal(c.state, "reconnecting");
  return info;
}

test("retryDelay: exponential from the base, capped at the max, with jitter taken off", () => {
  const options = { retryInterval: 100, maxRetryDelay: 1000, retryJitter: 0.5 };
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((a) => retryDelay(a, options, () => 0)), [100, 200, 400, 800, 1000, 1000]);
  assert.deepEqual([1, 2, 3, 4, 5].map((a) => retryDelay(a, options, () => 0.5)), [75, 150, 300, 600, 750]);
  assert.equal(retryDelay(1, options, () => 0.999999), 50);
  assert.equal(retryDelay(1000, options, () => 0), 1000);
  assert.equal(retryDelay(3, { ...options, retryJitter: 0 }, () => 0.7), 400);
});

test("backoff: a fresh socket and a fresh token for every attempt, delays growing and capped", async () => {
  const clock = new ManualClock();
  const tokens = ["first", "reject", "reject", "reject", "last"];
  let calls = 0;
  const recording = recordingWebSocket();
  const c = client(endpoint(), {
    clock,
    random: () => 0.5,
    retryInterval: 100,
    maxRetryDelay: 300,
    retryJitter: 0.5,
    WebSocket: recording.ctor,
    accessTokenFactory: async () => tokens[calls++],
  });
  const log: string[] = [];
  c.lifecycle.on("connecting", (e) => log.push(`connecting ${e.attempt}`));
  c.lifecycle.on("connected", (e) => log.push(`connected ${e.attempt}`));
  c.lifecycle.on("reconnecting", (e) => log.push(`reconnecting ${e.attempt} in ${e.delay}`));
  c.lifecycle.on("disconnected", (e) => log.push(`disconnected${e.willReconnect ? ", will reconnect" : ""}`));

  const first = await connectThenDrop(c);
  assert.deepEqual({ attempt: first.attempt, delay: first.delay }, { attempt: 1, delay: 75 });
  assert.match(first.reason, /connection was lost/);

  clock.advance(74);
  assert.equal(recording.urls.length, 1, "no attempt before the delay is over");
  let failed = next(c.lifecycle, "reconnecting", "attempt 1 to fail");
  clock.advance(1);
  const second = await failed;
  assert.deepEqual({ attempt: second.attempt, delay: second.delay }, { attempt: 2, delay: 150 });
  assert.match(second.reason, /could not be opened/);

  failed = next(c.lifecycle, "reconnecting", "attempt 2 to fail");
  clock.advance(150);
  assert.equal((await failed).delay, 225);
  failed = next(c.lifecycle, "reconnecting", "attempt 3 to fail");
  clock.advance(225);
  assert.equal((await failed).delay, 225, "capped at maxRetryDelay, less the jitter");

  const connected = next(c.lifecycle, "connected");
  clock.advance(225);
  assert.equal((await connected).attempt, 4);
  assert.equal((await within(c.request("whoami"), "whoami")).token, "last");

  assert.equal(calls, 5, "one token per attempt");
  assert.equal(recording.urls.length, 5, "one socket per attempt");
  assert.deepEqual(
    recording.urls.map((u) => new URL(u).searchParams.get("access_token")),
    tokens,
  );
  assert.deepEqual(log, [
    "connecting 0",
    "connected 0",
    "disconnected, will reconnect",
    "reconnecting 1 in 75",
    "connecting 1",
    "reconnecting 2 in 150",
    "connecting 2",
    "reconnecting 3 in 225",
    "connecting 3",
    "reconnecting 4 in 225",
    "connecting 4",
    "connected 4",
  ]);

  // A successful connection resets the backoff.
  const again = await connectThenDrop(c);
  assert.deepEqual({ attempt: again.attempt, delay: again.delay }, { attempt: 1, delay: 75 });
});

test("outbox: sends while reconnecting are flushed in order after reconnect, before what the connected listener sends", async () => {
  const clock = new ManualClock();
  const c = client(endpoint(), { clock, random: () => 0, retryInterval: 1000 });
  const info = await connectThenDrop(c);
  assert.equal(info.delay, 1000);

  c.emit("record", 1);
  c.emit("record", 2);
  const recorded = c.request("recorded");
  c.emit("record", 3);
  assert.equal(c.outboxSize, 4);
  c.lifecycle.once("connected", () => c.emit("record", "from the connected listener"));

  const connected = next(c.lifecycle, "connected");
  clock.advance(1000);
  await connected;
  assert.equal(c.outboxSize, 0);
  assert.deepEqual(await within(recorded, "the buffered request's reply"), [1, 2]);
  assert.deepEqual(await within(c.request("recorded"), "recorded"), [1, 2, 3, "from the connected listener"]);
  assert.equal(c.droppedCount, 0);
});

test("expiry: stale messages are dropped and reported, never sent late", async () => {
  const clock = new ManualClock();
  const c = client(endpoint(), { clock, random: () => 0, retryInterval: 1000, messageTtl: 500 });
  const dropped: DroppedMessage[] = [];
  c.lifecycle.on("dropped", (d) => dropped.push(d));
  await connectThenDrop(c);

  c.emit("record", "short-lived", { ttl: 100 });
  const staleRequest = c.request("echo", "stale", { ttl: 100 });
  c.emit("record", "default ttl");
  clock.advance(200);
  c.emit("record", "kept", { ttl: Infinity });
  assert.deepEqual(dropped, [
    { event: "record", request: false, reason: "expired", age: 100 },
    { event: "echo", request: true, reason: "expired", age: 100 },
  ]);
  assert.equal(c.droppedCount, 2);
  const expired = await rejectsWith(staleRequest, "expired");
  assert.match(expired.message, /expired unsent/);

  clock.advance(299); // "default ttl" (500 ms) is still due
  assert.equal(c.outboxSize, 2);
  clock.advance(1);
  assert.equal(c.droppedCount, 3);

  const connected = next(c.lifecycle, "connected");
  clock.advance(500);
  await connected;
  assert.deepEqual(await within(c.request("recorded"), "recorded"), ["kept"]);
  assert.equal(c.droppedCount, 3);
});

test("a full outbox refuses the send: emit throws and request rejects with outbox_full", async () => {
  const clock = new ManualClock();
  const c = client(endpoint(), { clock, outboxCapacity: 2 });
  await connectThenDrop(c);
  c.emit("record", 1);
  c.emit("record", 2);
  assert.throws(
    () => c.emit("record", 3),
    (e: SocketError) => e instanceof SocketError && e.code === "outbox_full" && /outboxCapacity/.test(e.message),
  );
  await rejectsWith(c.request("echo", 4), "outbox_full");
  assert.equal(c.outboxSize, 2);
  assert.equal(c.droppedCount, 0, "refused sends are not drops");
});

test("outboxCapacity 0 disables buffering", async () => {
  const clock = new ManualClock();
  const c = client(endpoint(), { clock, outboxCapacity: 0 });
  await connectThenDrop(c);
  assert.throws(() => c.emit("record", 1), (e: SocketError) => e.code === "outbox_full");
});

test("sends before connect() wait in the outbox; after close() they throw stopped", async () => {
  const c = client(endpoint());
  c.emit("record", "before connect");
  const early = c.request("recorded");
  assert.equal(c.outboxSize, 2);
  await within(c.connect(), "connect");
  assert.deepEqual(await within(early, "the early request"), ["before connect"]);
  await within(c.close(), "close");
  assert.equal(c.state, "disconnected");
  assert.throws(
    () => c.emit("record", 3),
    (e: SocketError) => e.code === "stopped" && /close\(\)/.test(e.message),
  );
  await rejectsWith(c.request("echo", 1), "stopped");
  // connect() works again after close().
  await within(c.connect(), "reconnect after close");
  assert.equal(await within(c.request("echo", 4), "echo"), 4);
});

test("close() while reconnecting: the outbox is dropped as stopped, requests reject, no timer is left", async () => {
  const clock = new ManualClock();
  const c = client(endpoint(), { clock });
  const dropped: DroppedMessage[] = [];
  c.lifecycle.on("dropped", (d) => dropped.push(d));
  await connectThenDrop(c);
  c.emit("record", 1);
  const buffered = c.request("echo", 2);
  const disconnected = next(c.lifecycle, "disconnected");
  await within(c.close(), "close");
  const info = await disconnected;
  assert.deepEqual(info, { reason: "stopped by close()", code: undefined, willReconnect: false });
  await rejectsWith(buffered, "stopped");
  assert.deepEqual(dropped.map((d) => `${d.event} ${d.reason}`), ["record stopped", "echo stopped"]);
  assert.equal(c.droppedCount, 2);
  assert.equal(clock.pending, 0, "no retry, expiry or timeout timer survives close()");
});

test("gives up after maxRetries: connect() rejects, sends throw not_connected, the outbox waits for the next connect()", async () => {
  const clock = new ManualClock();
  const recording = recordingWebSocket();
  let token = "reject";
  const c = client(endpoint(), {
    clock,
    random: () => 0,
    retryInterval: 10,
    maxRetries: 2,
    WebSocket: recording.ctor,
    accessTokenFactory: () => token,
  });
  const connecting = c.connect();
  let failed = next(c.lifecycle, "reconnecting", "the first attempt to fail");
  assert.equal((await failed).attempt, 1);
  c.emit("record", "kept");
  failed = next(c.lifecycle, "reconnecting", "retry 1 to fail");
  clock.advance(10);
  assert.equal((await failed).attempt, 2);
  const disconnected = next(c.lifecycle, "disconnected");
  clock.advance(20);
  const info = await disconnected;
  assert.match(info.reason, /gave up after 2 retries: the connection could not be opened/);
  assert.equal(info.willReconnect, false);
  const error = await rejectsWith(connecting, "connect_failed");
  assert.match(error.message, /gave up after 2 retries/);
  assert.equal(recording.urls.length, 3);
  assert.equal(c.state, "disconnected");
  assert.throws(() => c.emit("record", "refused"), (e: SocketError) => e.code === "not_connected");

  token = "good";
  await within(c.connect(), "connect again");
  assert.deepEqual(await within(c.request("recorded"), "recorded"), ["kept"]);
  assert.equal(c.droppedCount, 0);
});

test("a server close (1001) reconnects like a loss, with its code", async () => {
  const clock = new ManualClock();
  const c = client(endpoint(), { clock, random: () => 0, retryInterval: 50 });
  await within(c.connect(), "connect");
  const reconnecting = next(c.lifecycle, "reconnecting");
  c.emit("close", 1001);
  const info = await reconnecting;
  assert.equal(info.code, 1001);
  assert.match(info.reason, /1001: closed by the test/);
  const connected = next(c.lifecycle, "connected");
  clock.advance(50);
  await connected;
  assert.equal(await within(c.request("echo", "back"), "echo"), "back");
});

test("a failing token provider fails that attempt, which is retried with a new token", async () => {
  const clock = new ManualClock();
  let calls = 0;
  const c = client(endpoint(), {
    clock,
    random: () => 0,
    retryInterval: 10,
    accessTokenFactory: async () => {
      calls++;
      if (calls === 1) {
        throw new Error("token service down");
      }
      return `token-${calls}`;
    },
  });
  const failed = next(c.lifecycle, "reconnecting");
  const connecting = c.connect();
  assert.match((await failed).reason, /access token provider failed: token service down/);
  clock.advance(10);
  await within(connecting, "connect");
  assert.equal((await within(c.request("whoami"), "whoami")).token, "token-2");
});

test("an attempt that doesn't open within connectTimeout is abandoned and retried; the timeout covers the token", async () => {
  const clock = new ManualClock();
  const recording = recordingWebSocket();
  const c = client(endpoint(), { clock, random: () => 0, retryInterval: 10, connectTimeout: 1000, WebSocket: recording.ctor });
  const failed = next(c.lifecycle, "reconnecting");
  const connecting = c.connect();
  // The socket can't have opened yet: opening needs the event loop, and this runs synchronously.
  clock.advance(1000);
  assert.match((await failed).reason, /did not complete within 1000 ms/);
  clock.advance(10);
  await within(connecting, "connect");
  assert.equal(recording.urls.length, 2);
  assert.equal(c.state, "connected");

  // A token provider that never answers is cut off by the same timeout.
  const stuck = client(endpoint(), { clock, random: () => 0, retryInterval: 10, connectTimeout: 1000, accessTokenFactory: () => new Promise<string>(() => {}) });
  const stuckFailed = next(stuck.lifecycle, "reconnecting");
  void stuck.connect().catch(() => {});
  clock.advance(1000);
  assert.match((await stuckFailed).reason, /did not complete within 1000 ms/);
});
