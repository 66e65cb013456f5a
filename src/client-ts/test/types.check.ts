// Type-level tests: compiled by tsc with the rest of the tests (npm run build), never run. Each @ts-expect-error
// line must be an error, or the build fails ("Unused '@ts-expect-error' directive").
import { SocketClient, type ErrorNotice, type RoomsReply } from "../dist/index.js";

interface ServerEvents {
  "chat.message": { text: string; from: string };
  "price.tick": { price: number };
  ping: undefined;
}
interface ClientEvents {
  "chat.send": { text: string };
  typing: undefined;
}
interface ClientRequests {
  "room.count": { data: undefined; reply: number };
  "user.find": { data: { name: string }; reply: { id: string } | null };
}
interface ServerRequests {
  confirm: { data: { question: string }; reply: boolean };
}

export function typeChecks(client: SocketClient<ServerEvents, ClientEvents, ClientRequests, ServerRequests>): void {
  // Server events: the listener's parameter is the event's data.
  client.on("chat.message", (m) => m.text);
  client.on("chat.message", (m) => {
    const from: string = m.from;
    // @ts-expect-error: no such member
    m.missing;
    return from;
  });
  client.once("price.tick", (t) => t.price.toFixed(2));
  client.off("chat.message");
  // batch_<name> carries an array of the event's data.
  client.on("batch_price.tick", (ticks) => ticks.map((t) => t.price));
  // @ts-expect-error: a batch is an array, not one item
  client.on("batch_price.tick", (t: { price: number }) => t.price);
  // Error notices are built in.
  client.on("error", (n: ErrorNotice) => n.code);
  // @ts-expect-error: not a server event
  client.on("chat.mesage", () => {});
  // @ts-expect-error: wrong data type for the listener
  client.on("chat.message", (m: number) => m);

  // Client events: data must match; events without data take none.
  client.emit("chat.send", { text: "hi" });
  client.emit("chat.send", { text: "hi" }, { ttl: 1000 });
  client.emit("typing");
  // @ts-expect-error: missing data
  client.emit("chat.send");
  // @ts-expect-error: wrong data
  client.emit("chat.send", { txt: "hi" });
  // @ts-expect-error: not a client event
  client.emit("chat.message", { text: "hi", from: "me" });

  // Requests: data in, typed reply out.
  const count: Promise<number> = client.request("room.count");
  const found: Promise<{ id: string } | null> = client.request("user.find", { name: "ann" }, { timeout: 500 });
  // @ts-expect-error: the reply is a number
  const wrong: Promise<string> = client.request("room.count");
  // @ts-expect-error: missing data
  client.request("user.find");
  // @ts-expect-error: not a request
  client.request("chat.send", { text: "hi" });
  void count, found, wrong;

  // Server requests: the handler returns (or resolves to) the reply type.
  client.handle("confirm", (q) => q.question.length > 0);
  client.handle("confirm", async () => true);
  // @ts-expect-error: the reply must be a boolean
  client.handle("confirm", () => "yes");
  // @ts-expect-error: not a server request
  client.handle("chat.message", () => true);

  // Rooms.
  const joined: Promise<RoomsReply> = client.join("lobby");
  void joined;
  const rooms: readonly string[] = client.rooms;
  void rooms;

  // Lifecycle events carry their details.
  client.lifecycle.on("reconnecting", ({ attempt, delay }) => attempt + delay);
  client.lifecycle.on("disconnected", ({ reason }) => reason.toUpperCase());
  client.lifecycle.on("dropped", (d) => d.reason === "expired" || d.reason === "stopped");
  // @ts-expect-error: no such lifecycle event
  client.lifecycle.on("reconnected", () => {});
}

export function untyped(client: SocketClient): void {
  // Without maps, any name and any data are allowed.
  client.on("anything", (data) => data.whatever);
  client.emit("anything", { any: 1 });
  client.emit("nothing");
  void client.request("anything", 1).then((r) => r.any);
  client.handle("anything", (d) => d);
}
