using Microsoft.Extensions.Logging;
using WebSockets.Client;
using WebSockets.Tests.Infrastructure;

namespace WebSockets.Tests.Client;

/// <summary>The outbox: nothing is lost silently while the client is disconnected.</summary>
public sealed class SocketClientOutboxTests
{
    private const string Dropped = "websockets.client.dropped_messages";

    [Fact]
    public async Task Outbox_FlushedInOrderAfterReconnect_BeforeNewSends_ExpiredDroppedAndCounted()
    {
        var server = await ClientTestServer.StartAsync();
        var time = new ManualTimeProvider();
        using var meters = new TestMeterFactory();
        using var metrics = new MetricRecorder(meters);
        var logs = new TestLoggerProvider();
        using var loggerFactory = LoggerFactory.Create(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Debug));
        var client = new SocketClient(server.Uri("/ws/sink"), new SocketClientOptions
        {
            Protocol = SocketClientProtocol.Raw,
            TimeProvider = time,
            RetryInterval = TimeSpan.FromSeconds(2),
            RetryJitter = 0,
            MeterFactory = meters,
            LoggerFactory = loggerFactory,
        });
        var states = new StateRecorder(client);
        try
        {
            await client.StartAsync().DefaultTimeout();
            await client.SendAsync("before");
            Assert.Equal(["before"], await server.Record.ReadAsync(1));

            await server.DisposeAsync();
            await states.WaitForAsync(SocketClientState.Reconnecting).DefaultTimeout();

            // While disconnected: three messages wait, the second with a short life.
            await client.SendAsync("a");
            await client.SendAsync("b", new SocketClientSendOptions { TimeToLive = TimeSpan.FromSeconds(1) });
            await client.SendJsonAsync(new { c = 3 });
            Assert.Equal(3, client.OutboxCount);

            // A send made when the connection is back queues behind them.
            client.StateChanged += (_, change) =>
            {
                if (change.State == SocketClientState.Connected)
                {
                    _ = client.SendAsync("new");
                }
            };

            time.Advance(TimeSpan.FromSeconds(2)); // retry 1 fails: nobody listens
            var retry = await states.WaitForAsync(SocketClientState.Reconnecting, occurrence: 2).DefaultTimeout();
            server = await server.RestartAsync();
            time.Advance(retry.Delay);
            await states.WaitForAsync(SocketClientState.Connected, occurrence: 2).DefaultTimeout();

            Assert.Equal(["a", "{\"c\":3}", "new"], await server.Record.ReadAsync(3));
            Assert.Equal(1, metrics.Sum(Dropped, "websockets.client.drop_reason", "expired"));
            var log = await logs.WaitForEventAsync("MessagesExpired").DefaultTimeout();
            Assert.Equal(305, log.EventId.Id);
        }
        finally
        {
            await client.DisposeAsync();
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task FullOutbox_SendFailsWithOutboxFull_UntilExpiredMessagesMakeRoom()
    {
        var time = new ManualTimeProvider();
        using var meters = new TestMeterFactory();
        using var metrics = new MetricRecorder(meters);
        await using var client = new SocketClient(new Uri("ws://127.0.0.1:1/never"), new SocketClientOptions
        {
            OutboxCapacity = 2,
            TimeProvider = time,
            MeterFactory = meters,
        });

        await client.SendAsync("one", new SocketClientSendOptions { TimeToLive = TimeSpan.FromSeconds(10) });
        await client.SendAsync("two");
        var full = await Assert.ThrowsAsync<SocketClientSendException>(() => client.SendAsync("three").AsTask());

        Assert.Equal(SocketClientSendFailure.OutboxFull, full.Failure);
        Assert.Contains("full (2 messages", full.Message);

        time.Advance(TimeSpan.FromSeconds(10));
        await client.SendAsync("three");
        Assert.Equal(2, client.OutboxCount);
        Assert.Equal(1, metrics.Sum(Dropped, "websockets.client.drop_reason", "expired"));
    }

    [Fact]
    public async Task FailIfNotConnected_SendWhileDisconnected_ThrowsNotConnected_AndQueuesNothing()
    {
        await using var client = new SocketClient(new Uri("ws://127.0.0.1:1/never"));

        var ex = await Assert.ThrowsAsync<SocketClientSendException>(() => client.SendAsync("x", SocketClientSendOptions.FailIfNotConnected).AsTask());
        var request = await Assert.ThrowsAsync<SocketClientSendException>(() => client.RequestAsync<string>("echo", "x", options: SocketClientSendOptions.FailIfNotConnected));

        Assert.Equal(SocketClientSendFailure.NotConnected, ex.Failure);
        Assert.Equal(SocketClientSendFailure.NotConnected, request.Failure);
        Assert.Equal(0, client.OutboxCount);
    }

    [Fact]
    public async Task RequestAsync_WhileDisconnected_IsBufferedAndAnsweredAfterConnecting()
    {
        await using var server = await ClientTestServer.StartAsync();
        await using var client = new SocketClient(server.Uri("/ws/events"));

        var request = client.RequestAsync<string>("echo", "queued");
        await client.StartAsync().DefaultTimeout();

        Assert.Equal("queued", await request.DefaultTimeout());
    }

    [Fact]
    public async Task StopAsync_FlushesTheOutboxAndClosesNormally_LaterSendsFailWithStopped()
    {
        await using var server = await ClientTestServer.StartAsync();
        var client = new SocketClient(server.Uri("/ws/sink"), new SocketClientOptions { Protocol = SocketClientProtocol.Raw });
        var states = new StateRecorder(client);
        await client.StartAsync().DefaultTimeout();
        for (var i = 0; i < 50; i++)
        {
            await client.SendAsync("m" + i);
        }

        await client.DisposeAsync().AsTask().DefaultTimeout();

        Assert.Equal(Enumerable.Range(0, 50).Select(i => "m" + i), await server.Record.ReadAsync(50));
        Assert.Equal(["Connecting", "Connected", "Disconnected(Stopped)"], states.Sequence);
        var ex = await Assert.ThrowsAsync<SocketClientSendException>(() => client.SendAsync("late").AsTask());
        Assert.Equal(SocketClientSendFailure.Stopped, ex.Failure);
    }

    [Fact]
    public async Task StopAsync_WhileDisconnected_DropsAndCountsWhatIsLeft()
    {
        using var meters = new TestMeterFactory();
        using var metrics = new MetricRecorder(meters);
        var client = new SocketClient(new Uri("ws://127.0.0.1:1/never"), new SocketClientOptions { MeterFactory = meters });
        await client.SendAsync("a");
        await client.SendAsync("b");

        await client.DisposeAsync();

        Assert.Equal(2, metrics.Sum(Dropped, "websockets.client.drop_reason", "stopped"));
    }
}
