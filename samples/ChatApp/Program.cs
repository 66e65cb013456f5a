// The chat sample: a web page where people pick a nickname, join rooms and chat, served by one ASP.NET Core app.
//   /                              the page (wwwroot), which uses the TypeScript client from src/client-ts
//   /ws/chat                       the "chat" namespace, served by ChatController (event protocol, docs/protocol.md)
//   /ws/echo                       a raw endpoint: every text or binary message comes back unchanged
//   /api/rooms, /api/connections   MVC controllers that read the socket registry
//   POST /api/rooms/{room}/announce  posts a message from "system" to a room
//
// Run it with `dotnet run --project samples/ChatApp`: http://localhost:5000 (`--urls` or ASPNETCORE_URLS change it).
// `--redis localhost:6379` (or the "Redis" setting) adds the Redis backplane, so that several instances share rooms,
// presence and messages.
using ChatApp.Chat;
using WebSockets;

var builder = WebApplication.CreateBuilder(args);

builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddSingleton<ChatHistory>();
builder.Services.AddSingleton<RoomDirectory>();
builder.Services.AddSingleton<PresenceLocks>();
builder.Services.AddControllers();

var sockets = builder.Services.AddSocketRegistry(options =>
{
    // Presence carries each member's nickname, so every server can list who is in a room.
    options.PublicSessionItems.Add(RoomDirectory.NameItem);
    // A join beyond it throws, and ChatController answers too_many_rooms.
    options.MaxRoomsPerConnection = ChatRules.MaxRoomsPerConnection;
});
var redis = builder.Configuration["Redis"];
if (!string.IsNullOrEmpty(redis))
{
    sockets.AddRedisBackplane(redis);
}

var app = builder.Build();

app.UseDefaultFiles();
app.UseStaticFiles();

app.MapWebSocketController<ChatController>("/ws/chat");

// Text comes back as text and binary as binary: SocketMessage carries the frame type.
app.MapWebSocketEndpoint("/ws/echo", (SocketMessage message) => message);

app.MapControllers();

if (!string.IsNullOrEmpty(redis))
{
    app.Logger.LogInformation("Sharing rooms with other instances through Redis at {Redis}", redis);
}

app.Run();
