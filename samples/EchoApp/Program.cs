// The smallest useful app: every WebSocket message to /ws/echo comes back unchanged.
// Run it with `dotnet run --project samples/EchoApp`, then connect to ws://localhost:5000/ws/echo.
using WebSockets;

var builder = WebApplication.CreateBuilder(args);
builder.Services.AddSocketRegistry()
    .AddNamespace(SocketRegistryOptions.DefaultNamespace, ns => ns
        .OnConnected((socket, ct) => socket.SendAsync($"welcome {socket.Id}", ct).AsTask())
        .OnDisconnected((socket, reason, ct) =>
        {
            Console.WriteLine($"{socket.Id} left: {reason}");
            return Task.CompletedTask;
        }));

var app = builder.Build();

// Text comes back as text, binary as binary: SocketMessage carries the frame type.
app.MapWebSocketEndpoint("/ws/echo", (SocketMessage message) => message);

// Live connections, straight from the registry.
app.MapGet("/connections", (ISocketRegistry registry) => new { count = registry.Count });
app.MapGet("/", () => "WebSocket echo sample: connect to /ws/echo.");

app.Run();

/// <summary>Exposed for WebApplicationFactory in the tests.</summary>
public partial class Program;
