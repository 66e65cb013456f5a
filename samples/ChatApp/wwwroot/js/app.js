// The chat page. It talks to the "chat" namespace at /ws/chat through the TypeScript client (src/client-ts), which
// the app's build copies to /lib/websockets-client. User text is only ever set with textContent, never as HTML.
import { SocketClient } from "../lib/websockets-client/index.js";

const DEFAULT_ROOM = "lobby";
const MAX_MESSAGE_LENGTH = 2000; // The server enforces it; the page only shows the count.
const TYPING_SEND_INTERVAL = 2000; // Send "typing" at most this often while typing.
const TYPING_SHOW_FOR = 3500; // Show "… is typing" this long after the last "typing".
const TOAST_FOR = 6000;
const NICKNAME_KEY = "chat.nickname";
const AVATAR_COLORS = ["#4f46e5", "#0891b2", "#db2777", "#ea580c", "#16a34a", "#7c3aed", "#ca8a04", "#dc2626"];

const $ = (id) => document.getElementById(id);
const ui = {
  state: $("state"),
  whoami: $("whoami"),
  login: $("login"),
  loginForm: $("login-form"),
  nickname: $("nickname"),
  loginError: $("login-error"),
  loginButton: $("login-button"),
  chat: $("chat"),
  rooms: $("rooms"),
  newRoomForm: $("new-room-form"),
  newRoom: $("new-room"),
  roomTitle: $("room-title"),
  roomCount: $("room-count"),
  messages: $("messages"),
  typing: $("typing"),
  composer: $("composer"),
  message: $("message"),
  counter: $("counter"),
  send: $("send"),
  memberCount: $("member-count"),
  members: $("members"),
  toasts: $("toasts"),
};

const chat = {
  id: null, // This connection's ID, from "welcome"; a new one after each reconnect.
  name: "", // The nickname, once the server accepted it.
  room: null, // The room shown.
  inRoom: false, // Whether this connection has joined it (not yet after a reconnect).
  joining: null, // { room, members } while a room.join is pending: the latest "presence" of that room meanwhile.
  members: [],
  rooms: [], // [{ name, members }] from the server: rooms that have people in them.
  typing: new Map(), // connection ID -> { name, until }
  lastTypingSent: 0,
  pendingText: null, // The text sent last, cleared from the composer when it comes back.
  lastAt: 0, // The time of the latest message shown, in ms.
  everConnected: false,
};

// Retries quickly at first, then at most every 5 s: a chat page should come back soon after the server does.
const client = new SocketClient("/ws/chat", { retryInterval: 500, maxRetryDelay: 5000, requestTimeout: 15000 });

// ---- Connection state -------------------------------------------------------------------------------------------

function showState(state, label) {
  document.body.dataset.connection = state;
  ui.state.dataset.state = state;
  ui.state.textContent = label;
  updateComposer();
}

client.lifecycle.on("connecting", ({ attempt }) =>
  attempt > 0 || chat.everConnected ? showState("reconnecting", "Reconnecting…") : showState("connecting", "Connecting…"));
client.lifecycle.on("reconnecting", () => showState("reconnecting", "Reconnecting…"));
client.lifecycle.on("disconnected", ({ willReconnect }) => {
  // The server took this connection out of its rooms; the page joins again once reconnected.
  chat.inRoom = false;
  if (chat.room !== null) {
    addNotice(willReconnect ? "Connection lost. Reconnecting…" : "Disconnected.");
  }
  if (willReconnect) {
    showState("reconnecting", "Reconnecting…");
  } else {
    showState("disconnected", "Offline");
  }
});
client.lifecycle.on("connected", async () => {
  const reconnected = chat.everConnected;
  chat.everConnected = true;
  showState("connected", "Connected");

  // Rooms belong to a connection: after a reconnect, join the room again (the reply brings its history).
  if (reconnected && chat.room !== null) {
    try {
      await enterRoom(chat.room);
      addNotice("Reconnected.");
    } catch (error) {
      toast(error.message);
    }
  }
});

// ---- Server events ----------------------------------------------------------------------------------------------

client.on("welcome", ({ id }) => {
  chat.id = id;
});

client.on("rooms", (rooms) => {
  chat.rooms = rooms;
  renderRooms();
});

client.on("chat.message", (message) => {
  if (message.room !== chat.room) {
    return;
  }

  chat.typing.delete(message.fromId);
  renderTyping();
  addMessage(message);
  if (message.fromId === chat.id && chat.pendingText !== null && message.text === chat.pendingText.trim()) {
    if (ui.message.value === chat.pendingText) {
      ui.message.value = "";
      updateComposer();
    }
    chat.pendingText = null;
  }
});

client.on("presence", ({ room, members, joined, left }) => {
  if (chat.joining?.room === room) {
    chat.joining.members = members;
  }
  if (room !== chat.room) {
    return;
  }

  chat.members = members;
  renderMembers();
  if (joined && joined.id !== chat.id) {
    addNotice(`${joined.name} joined`);
  }
  if (left && left.id !== chat.id) {
    chat.typing.delete(left.id);
    renderTyping();
    addNotice(`${left.name} left`);
  }
});

client.on("typing", ({ room, id, name }) => {
  if (room !== chat.room) {
    return;
  }

  chat.typing.set(id, { name, until: Date.now() + TYPING_SHOW_FOR });
  renderTyping();
  setTimeout(renderTyping, TYPING_SHOW_FOR + 50);
});

// Error notices: what the server refused (an empty or too long message, …). Failed requests reject instead.
client.on("error", ({ message }) => toast(message));

// ---- Actions ----------------------------------------------------------------------------------------------------

/** Joins `room` (leaving the one shown, if another) and shows its members and history. */
async function enterRoom(room) {
  // The server sends "presence" for a room in the order of its changes, and the reply's list is as old as the first
  // of those this connection gets; so a "presence" that comes during the request is at least as new as the reply.
  const joining = { room, members: null };
  chat.joining = joining;
  let reply;
  try {
    reply = await client.request("room.join", { room, name: chat.name });
  } finally {
    if (chat.joining === joining) {
      chat.joining = null;
    }
  }

  const previous = chat.room;
  const rejoined = previous === reply.room;
  chat.room = reply.room;
  chat.inRoom = true;
  chat.members = joining.members ?? reply.members;
  chat.typing.clear();
  if (rejoined) {
    // Back in the same room after a reconnect: keep what is shown, add what was said meanwhile.
    const shownUntil = chat.lastAt;
    for (const message of reply.history.filter((m) => Date.parse(m.at) > shownUntil)) {
      addMessage(message);
    }
  } else {
    ui.messages.replaceChildren();
    chat.lastAt = 0;
    for (const message of reply.history) {
      addMessage(message);
    }
    addNotice(`You joined #${reply.room}`);
  }
  renderRoomHeader();
  renderMembers();
  renderRooms();
  renderTyping();
  updateComposer();
  if (previous !== null && previous !== reply.room) {
    client.request("room.leave", { room: previous }).catch((error) => toast(error.message));
  }
}

ui.loginForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  ui.loginError.textContent = "";
  ui.loginButton.disabled = true;
  chat.name = ui.nickname.value.trim();
  try {
    await enterRoom(chat.room ?? DEFAULT_ROOM);
    localStorage.setItem(NICKNAME_KEY, chat.name);
    ui.whoami.replaceChildren("Signed in as ", strong(chat.name));
    ui.whoami.hidden = false;
    ui.login.hidden = true;
    ui.chat.hidden = false;
    ui.message.focus();
  } catch (error) {
    ui.loginError.textContent = error.message;
  } finally {
    ui.loginButton.disabled = false;
  }
});

ui.newRoomForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const room = ui.newRoom.value.trim().toLowerCase().replace(/\s+/g, "-");
  if (room === "") {
    return;
  }

  try {
    await enterRoom(room);
    ui.newRoom.value = "";
  } catch (error) {
    toast(error.message);
  }
});

ui.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  sendMessage();
});

ui.message.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    sendMessage();
  }
});

ui.message.addEventListener("input", () => {
  updateComposer();
  const now = Date.now();
  if (chat.inRoom && ui.message.value.trim() !== "" && now - chat.lastTypingSent > TYPING_SEND_INTERVAL && client.state === "connected") {
    chat.lastTypingSent = now;
    client.emit("typing", { room: chat.room });
  }
});

/** Sends what is in the composer. The server checks it; the text stays until it comes back, so a refusal loses nothing. */
function sendMessage() {
  if (!chat.inRoom || client.state !== "connected") {
    return;
  }

  chat.pendingText = ui.message.value;
  chat.lastTypingSent = 0;
  client.emit("chat.send", { room: chat.room, text: ui.message.value });
}

// ---- Rendering --------------------------------------------------------------------------------------------------

function renderRoomHeader() {
  ui.roomTitle.textContent = `#${chat.room}`;
  ui.message.placeholder = `Message #${chat.room}`;
}

function renderRooms() {
  const counts = new Map(chat.rooms.map((r) => [r.name, r.members]));
  const names = new Set([DEFAULT_ROOM, ...counts.keys()]);
  if (chat.room !== null) {
    names.add(chat.room);
  }

  ui.rooms.replaceChildren(...[...names].sort().map((name) => {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.room = name;
    button.setAttribute("aria-current", String(name === chat.room));
    const label = document.createElement("span");
    label.textContent = `# ${name}`;
    const count = document.createElement("span");
    count.className = "count";
    count.textContent = String(counts.get(name) ?? 0);
    button.append(label, count);
    button.addEventListener("click", () => {
      if (name !== chat.room) {
        enterRoom(name).catch((error) => toast(error.message));
      }
    });
    const item = document.createElement("li");
    item.append(button);
    return item;
  }));
}

function renderMembers() {
  ui.memberCount.textContent = String(chat.members.length);
  ui.roomCount.textContent = `${chat.members.length} online`;
  ui.members.replaceChildren(...chat.members.map((member) => {
    const item = document.createElement("li");
    item.dataset.id = member.id;
    item.classList.toggle("me", member.id === chat.id);
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = member.name;
    item.append(avatar(member.name), name);
    return item;
  }));
}

function renderTyping() {
  const now = Date.now();
  for (const [id, entry] of chat.typing) {
    if (entry.until <= now) {
      chat.typing.delete(id);
    }
  }

  const names = [...chat.typing.values()].map((t) => t.name);
  ui.typing.textContent =
    names.length === 0 ? "" :
    names.length === 1 ? `${names[0]} is typing…` :
    names.length === 2 ? `${names[0]} and ${names[1]} are typing…` :
    "Several people are typing…";
}

function addMessage({ from, fromId, text, at }) {
  chat.lastAt = Math.max(chat.lastAt, Date.parse(at));
  const item = document.createElement("li");
  item.className = "message";
  item.classList.toggle("own", fromId !== null && fromId === chat.id);
  item.classList.toggle("system", fromId === null);

  const meta = document.createElement("div");
  meta.className = "meta";
  const author = document.createElement("span");
  author.className = "author";
  author.textContent = from;
  const time = document.createElement("time");
  time.dateTime = at;
  time.textContent = new Date(at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  meta.append(author, time);

  const body = document.createElement("div");
  body.className = "body";
  const paragraph = document.createElement("p");
  paragraph.className = "text";
  paragraph.textContent = text;
  body.append(meta, paragraph);

  item.append(avatar(from), body);
  appendToMessages(item);
}

function addNotice(text) {
  const item = document.createElement("li");
  item.className = "notice";
  item.textContent = text;
  appendToMessages(item);
}

function appendToMessages(item) {
  const list = ui.messages;
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.append(item);
  if (atBottom) {
    list.scrollTop = list.scrollHeight;
  }
}

function updateComposer() {
  const length = ui.message.value.trim().length;
  ui.counter.textContent = length > MAX_MESSAGE_LENGTH * 0.8 ? `${length} / ${MAX_MESSAGE_LENGTH}` : "";
  ui.counter.classList.toggle("over", length > MAX_MESSAGE_LENGTH);
  ui.send.disabled = client.state !== "connected" || !chat.inRoom;
}

function avatar(name) {
  const circle = document.createElement("span");
  circle.className = "avatar";
  circle.setAttribute("aria-hidden", "true");
  circle.textContent = (name.trim()[0] ?? "?").toUpperCase();
  let hash = 0;
  for (const char of name) {
    hash = (hash * 31 + char.codePointAt(0)) >>> 0;
  }
  circle.style.background = AVATAR_COLORS[hash % AVATAR_COLORS.length];
  return circle;
}

function strong(text) {
  const element = document.createElement("strong");
  element.textContent = text;
  return element;
}

function toast(text) {
  const element = document.createElement("div");
  element.className = "toast";
  element.setAttribute("role", "alert");
  element.textContent = text;
  element.addEventListener("click", () => element.remove());
  ui.toasts.append(element);
  setTimeout(() => element.remove(), TOAST_FOR);
}

// ---- Start ------------------------------------------------------------------------------------------------------

ui.nickname.value = localStorage.getItem(NICKNAME_KEY) ?? "";
renderRooms();
updateComposer();
client.connect().catch((error) => showState("disconnected", `Offline: ${error.message}`));
