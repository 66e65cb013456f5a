// Samples of docs/getting-started.md.
using WebSockets;

namespace DocsSnippets.GettingStarted;

public static class EchoProgram
{
    public static void Main(string[] args)
    {
        #region getting-started-echo
        var builder = WebApplication.CreateBuilder(args);
        builder.Services.AddSocketRegistry();

        var app = builder.Build();
        app.MapWebSocketEndpoint("/ws/echo", (string message) => message);
        app.Run();
        #endregion
    }
}

public static class EventsProgram
{
    public static void Main(string[] args)
    {
        #region getting-started-events
        var builder = WebApplication.CreateBuilder(args);
        builder.Services.AddSocketRegistry()
            .AddNamespace("chat", ns => ns
                // Runs once per connection, before its first message is read.
                .OnConnected((socket, ct) => socket.EmitAsync("welcome", new { socket.Id }, ct).AsTask())
                // An event: relayed to every other connection of the namespace.
                .On<ChatMessage>("chat.send", (socket, message, ct) =>
                    socket.BroadcastAsync("chat.message", message with { From = socket.Id }, ct).AsTask())
                // A request: the return value is the reply. ISocketRegistry is injected.
                .On("chat.count", (ISocketRegistry registry) => registry.GetCount("chat")));

        var app = builder.Build();
        app.MapWebSocketEndpoint("/ws/chat", "chat");
        app.Run();
        #endregion
    }
}

#region getting-started-events-model
public sealed record ChatMessage(string Text, string? From);
#endregion

public static class ControllerProgram
{
    public static void Main(string[] args)
    {
        #region getting-started-controller-map
        var builder = WebApplication.CreateBuilder(args);
        builder.Services.AddSingleton<NoteStore>();
        builder.Services.AddSocketRegistry();

        var app = builder.Build();
        app.MapWebSocketController<NotesController>("/ws/notes");
        app.Run();
        #endregion
    }
}

#region getting-started-controller
[SocketNamespace("notes")]
public sealed class NotesController(NoteStore store) : SocketController
{
    // The event "add" (the method name without "Async", first letter lower-cased).
    public async Task<IReadOnlyList<string>> AddAsync(Note note, CancellationToken cancellationToken)
    {
        var all = store.Add(note.Text);
        await Connection.BroadcastAsync("added", note, cancellationToken);
        return all; // the reply, when the client sent a request
    }

    public override Task OnConnectedAsync(CancellationToken cancellationToken)
        => Connection.EmitAsync("hello", cancellationToken).AsTask();
}

public sealed record Note(string Text);

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
#endregion
