// Benchmark anchor: a SignalR hub (benchmarks/README.md, "The contract"). Clients speak the JSON hub
// protocol directly over the WebSocket (no negotiate):
//   /ws/echo, /ws/broadcast  the same hub, BenchHub: Echo(string) returns its argument;
//   GET /broadcast?n=K&size=B  K times Clients.All.SendAsync("msg", payload) with one B-char payload;
//   GET /pid                  the process ID.
using System.Diagnostics;
using Microsoft.AspNetCore.SignalR;
using SignalRServer;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.Services.AddSignalR();
builder.Services.AddSingleton<SubscriberCounter>();

var app = builder.Build();

app.MapHub<BenchHub>("/ws/echo");
app.MapHub<BenchHub>(BenchHub.BroadcastPath);

app.MapGet("/broadcast", async (IHubContext<BenchHub> hubContext, SubscriberCounter subscribers, int n = 0, int size = 0) =>
{
    if (n < 0 || size < 0 || size > BroadcastResult.MaxSize)
    {
        return Results.BadRequest($"n must be >= 0 and size between 0 and {BroadcastResult.MaxSize}.");
    }

    var recipients = subscribers.Count;
    var payload = new string('x', size);
    var stopwatch = Stopwatch.StartNew();
    for (var i = 0; i < n; i++)
    {
        await hubContext.Clients.All.SendAsync("msg", payload);
    }

    stopwatch.Stop();
    return Results.Ok(new BroadcastResult(recipients, n, size, stopwatch.Elapsed.TotalMilliseconds));
});

app.MapGet("/pid", () => Environment.ProcessId);

app.Run();
