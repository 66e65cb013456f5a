using WebSockets.Client;
using WebSockets.Tests.Infrastructure;
using WebSockets.Tests.Redis;

namespace WebSockets.Tests.Client;

/// <summary>Regression (review): the queue of received messages waiting for the handlers was unbounded.</summary>
public sealed class ClientInboundTests
{
    private const string Dropped = "websockets.client.dropped_messages";

    [Fact]
    public async Task FullInboundQueue_DropsAndCounts_AnswersServerRequestsBusy_AndNeverHoldsBackReplies()
    {
        await using var server = await ClientTestServer.StartAsync();
        using var meters = new TestMeterFactory();
        using var metrics = new MetricRecorder(meters);
        await using var client = new SocketClient(server.Uri("/ws/events"), new SocketClientOptions { InboundCapacity = 2, MeterFactory = meters });
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var ticks = new System.Collections.Concurrent.ConcurrentQueue<int>();
        client.On<int>("tick", async (tick, _) =>
        {
            entered.TrySetResult();
            await gate.Task;
            ticks.Enqueue(tick);
        });
        var news = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.On<string>("news", text => news.TrySetResult(text));
        client.On<object, string>("confirm", _ => "yes");
        await client.StartAsync().DefaultTimeout();
        try
        {
            await RunAsync();
        }
        finally
        {
            gate.TrySetResult();   // a failed assertion must not leave the handler (and the client's disposal) blocked
        }

        async Task RunAsync()
        {
        // One batch of 3 ticks blocks the handler; then 30 ticks arrive as 10 batches of 3: 2 wait, 8 are dropped.
        await client.EmitAsync("ticks", 3);
        await entered.Task.DefaultTimeout();
        await client.EmitAsync("ticks", 30);
        await Poll.UntilAsync(() => metrics.Sum(Dropped, "websockets.client.drop_reason", "inbound_full") == 8, "8 batches to be dropped");

        // The receive loop goes on: a reply to the client's own request completes while the handler is blocked, and a
        // server request that finds the queue full is answered client_busy instead of waiting.
        Assert.Equal("error:client_busy", await client.RequestAsync<string>("ask", "confirm").DefaultTimeout());
        Assert.Equal(9, metrics.Sum(Dropped, "websockets.client.drop_reason", "inbound_full"));

        // Once the handler is free, what was kept is handled in order, and later messages get through.
        gate.TrySetResult();
        await Poll.UntilAsync(() => ticks.Count >= 9, "the kept ticks to be handled");
        await client.EmitAsync("news", "after");
        Assert.Equal("after", await news.Task.DefaultTimeout());
        Assert.Equal([1, 2, 3, 1, 2, 3, 4, 5, 6], ticks);
        Assert.Equal("yes", await client.RequestAsync<string>("ask", "confirm").DefaultTimeout());
        }
    }

    [Fact]
    public void InboundCapacity_DefaultsTo10000_AndMustBePositive()
    {
        Assert.Equal(10_000, new SocketClientOptions().InboundCapacity);
        var ex = Assert.Throws<ArgumentException>(() => new SocketClient(new Uri("ws://127.0.0.1:1/"), new SocketClientOptions { InboundCapacity = 0 }));
        Assert.Contains("InboundCapacity", ex.Message, StringComparison.Ordinal);
    }
}
