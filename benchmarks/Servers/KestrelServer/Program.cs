// Benchmark anchor: hand-written Kestrel WebSockets, no library (benchmarks/README.md, "The contract"):
//   /ws/echo       a receive loop over a pooled buffer that sends every message back with its type;
//   /ws/broadcast  the socket joins a dictionary of subscribers, each with a send lock; input is discarded;
//   GET /broadcast?n=K&size=B  one payload serialized once, K times sent to all subscribers concurrently;
//   GET /pid       the process ID.
using System.Diagnostics;
using KestrelServer;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.AddSingleton<Subscribers>();

var app = builder.Build();
app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(15) });

// Each socket loop also ends when the host stops; otherwise shutdown waits out HostOptions.ShutdownTimeout (30 s).

app.Map("/ws/echo", async context =>
{
    if (!context.WebSockets.IsWebSocketRequest)
    {
        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        return;
    }

    using var socket = await context.WebSockets.AcceptWebSocketAsync();
    using var connectionEnded = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, app.Lifetime.ApplicationStopping);
    await Echo.RunAsync(socket, connectionEnded.Token);
});

app.Map("/ws/broadcast", async (HttpContext context, Subscribers subscribers) =>
{
    if (!context.WebSockets.IsWebSocketRequest)
    {
        context.Response.StatusCode = StatusCodes.Status400BadRequest;
        return;
    }

    using var socket = await context.WebSockets.AcceptWebSocketAsync();
    using var connectionEnded = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, app.Lifetime.ApplicationStopping);
    await subscribers.RunAsync(socket, connectionEnded.Token);
});

app.MapGet("/broadcast", async (Subscribers subscribers, int n = 0, int size = 0) =>
{
    if (n < 0 || size < 0 || size > BroadcastResult.MaxSize)
    {
        return Results.BadRequest($"n must be >= 0 and size between 0 and {BroadcastResult.MaxSize}.");
    }

    var recipients = subscribers.Count;
    var payload = new byte[size];
    Array.Fill(payload, (byte)'x');
    var stopwatch = Stopwatch.StartNew();
    for (var i = 0; i < n; i++)
    {
        await subscribers.SendToAllAsync(payload);
    }

    stopwatch.Stop();
    return Results.Ok(new BroadcastResult(recipients, n, size, stopwatch.Elapsed.TotalMilliseconds));
});

app.MapGet("/pid", () => Environment.ProcessId);

app.Run();
