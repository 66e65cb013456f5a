// Benchmark server for the library (benchmarks/README.md, "The contract"):
//   /ws/echo       a raw MapWebSocketEndpoint handler that returns every message as it came (text or binary);
//   /ws/broadcast  subscribers in the registry namespace "broadcast" (no hooks, no events);
//   /ws/events     the event protocol: the request "echo" replies with its data;
//   GET /broadcast?n=K&size=B  K registry broadcasts of one B-byte text message to "broadcast";
//   GET /pid       the process ID.
// With --redis host:port, the registry joins a cluster over the Redis backplane (benchmarks/cluster): broadcasts
// then reach the subscribers of every server, and GET /broadcast reports this server's recipients.
using System.Diagnostics;
using System.Text.Json;
using WebSockets;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);

// Wait: a broadcast slows to the pace of the slowest subscriber instead of dropping or closing it,
// which is what the hand-written anchor (one awaited send per subscriber) does too.
var registryBuilder = builder.Services.AddSocketRegistry(o =>
    {
        o.SendQueueFullMode = SendQueueFullMode.Wait;
        o.SendQueueCapacity = 1024;
    })
    .AddNamespace("broadcast", _ => { })
    .AddNamespace("events", ns => ns
        .On("echo", (JsonElement data) => data));
if (builder.Configuration["redis"] is { Length: > 0 } redis)
{
    registryBuilder.AddRedisBackplane(redis, o => o.ChannelPrefix = "bench");
}

var app = builder.Build();

app.MapWebSocketEndpoint("/ws/echo", (SocketMessage message) => message, o =>
{
    o.MaxMessageSize = 1 << 20;
});
app.MapWebSocketEndpoint("/ws/broadcast", "broadcast", o =>
{
    // Subscribers only listen; the keep-alive matches the anchor's.
    o.KeepAliveInterval = TimeSpan.FromSeconds(15);
});
app.MapWebSocketEndpoint("/ws/events", "events");

app.MapGet("/broadcast", async (ISocketRegistry registry, int n = 0, int size = 0) =>
{
    if (n < 0 || size < 0 || size > BroadcastResult.MaxSize)
    {
        return Results.BadRequest($"n must be >= 0 and size between 0 and {BroadcastResult.MaxSize}.");
    }

    var recipients = registry.GetCount("broadcast");
    var message = SocketMessage.Text(new string('x', size));
    var startedAtUs = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks / 10;
    var stopwatch = Stopwatch.StartNew();
    for (var i = 0; i < n; i++)
    {
        await registry.BroadcastAsync(message, "broadcast");
    }

    stopwatch.Stop();
    return Results.Ok(new BroadcastResult(recipients, n, size, stopwatch.Elapsed.TotalMilliseconds, startedAtUs));
});

app.MapGet("/pid", () => Environment.ProcessId);

app.Run();

/// <summary>The reply of <c>GET /broadcast</c>; <c>StartedAtUs</c> (Unix µs) lets benchmarks/cluster time delivery across processes.</summary>
internal sealed record BroadcastResult(int Recipients, int Messages, int Size, double ElapsedMs, long StartedAtUs)
{
    public const int MaxSize = 16 << 20;
}
