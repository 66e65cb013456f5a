// A small app that shows the two ways to use the library:
//   /ws/echo    a raw endpoint: every text or binary message comes back unchanged (GoFr-style handler);
//   /ws/events  the event protocol (docs/protocol.md): named events routed to typed handlers;
//   /ws/notes   the same protocol served by a controller class.
// Run it with `dotnet run --project samples/EchoApp`; it listens on http://localhost:5000.
using EchoApp;
using WebSockets;

var builder = WebApplication.CreateBuilder(args);
builder.Services.AddSingleton<NoteStore>();
builder.Services.AddSocketRegistry()
    .AddNamespace(SocketRegistryOptions.DefaultNamespace, ns => ns
        .OnConnected((socket, ct) => socket.SendAsync($"welcome {socket.Id}", ct).AsTask())
        .OnDisconnected((socket, reason, ct) =>
        {
            Console.WriteLine($"{socket.Id} left: {reason}");
            return Task.CompletedTask;
        }))
    .AddNamespace("events", ns => ns
        // A request: the return value is the reply.
        .On("echo", (System.Text.Json.JsonElement data) => data)
        // An event: relayed to everyone else in the namespace.
        .On<Shout>("shout", (socket, shout, ct) => socket.BroadcastAsync("shouted", shout with { From = socket.Id }, ct).AsTask())
        // Ticks are batched: clients get {"event":"batch_tick","data":[…]} at most every 250 ms.
        .UseBatch("tick", TimeSpan.FromMilliseconds(250)));

var app = builder.Build();

// Text comes back as text, binary as binary: SocketMessage carries the frame type.
app.MapWebSocketEndpoint("/ws/echo", (SocketMessage message) => message);
app.MapWebSocketEndpoint("/ws/events", "events");
app.MapWebSocketController<NotesController>("/ws/notes");

// The registry is an ordinary singleton: any endpoint or service can use it.
app.MapGet("/connections", (ISocketRegistry registry) => new { count = registry.Count });
app.MapPost("/tick", async (ISocketRegistry registry) =>
{
    await registry.Namespace("events").EmitAsync("tick", new { at = DateTimeOffset.UtcNow });
    return Results.Accepted();
});
app.MapGet("/", () => "WebSocket sample: connect to /ws/echo (raw), /ws/events or /ws/notes (event protocol).");

app.Run();

/// <summary>Exposed for WebApplicationFactory in the tests.</summary>
public partial class Program;

namespace EchoApp
{
    public sealed record Shout(string Text, string? From);

    public sealed record Note(string Text);

    /// <summary>Notes kept in memory, shared by all connections.</summary>
    public sealed class NoteStore
    {
        private readonly List<string> _notes = [];

        public IReadOnlyList<string> Add(string text)
        {
            lock (_notes)
            {
                _notes.Add(text);
                return [.. _notes];
            }
        }
    }

    /// <summary>The "notes" namespace as a controller: each public method is an event.</summary>
    [SocketNamespace("notes")]
    public sealed class NotesController(NoteStore store) : SocketController
    {
        /// <summary>Request "add": stores a note, tells the others, and replies with every note.</summary>
        public async Task<IReadOnlyList<string>> AddAsync(Note note, CancellationToken cancellationToken)
        {
            var all = store.Add(note.Text);
            await Connection.BroadcastAsync("added", note, cancellationToken);
            return all;
        }
    }
}
