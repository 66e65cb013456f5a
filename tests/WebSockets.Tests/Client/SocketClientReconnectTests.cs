using System.Net.WebSockets;
using WebSockets.Client;
using WebSockets.Tests.Infrastructure;

namespace WebSockets.Tests.Client;

/// <summary>Reconnection with back-off on a manual clock, against a real server restarted on the same port.</summary>
public sealed class SocketClientReconnectTests
{
    [Fact]
    public async Task ServerRestart_ClientReconnectsByItself_WithExponentialBackoffCappedByMaxRetryDelay()
    {
        var server = await ClientTestServer.StartAsync();
        var time = new ManualTimeProvider();
        var tokens = 0;
        var options = new SocketClientOptions
        {
            TimeProvider = time,
            RetryInterval = TimeSpan.FromSeconds(2),
            MaxRetryDelay = TimeSpan.FromSeconds(5),
            RetryJitter = 0,
            AccessTokenProvider = _ => ValueTask.FromResult<string?>("token-" + Interlocked.Increment(ref tokens)),
        };
        options.Headers["X-Service"] = "orders";
        options.SubProtocols.Add("svc.v1");
        await using var client = new SocketClient(server.Uri("/ws/events"), options);
        var states = new StateRecorder(client);
        try
        {
            await client.StartAsync().DefaultTimeout();

            // The server goes away: the client notices, and waits RetryInterval before its first retry.
            await server.DisposeAsync();
            var first = await states.WaitForAsync(SocketClientState.Reconnecting).DefaultTimeout();
            Assert.Equal((1, TimeSpan.FromSeconds(2)), (first.Attempt, first.Delay));

            // Retry 1 fails (nobody listens): the delay doubles.
            time.Advance(first.Delay);
            var second = await states.WaitForAsync(SocketClientState.Reconnecting, occurrence: 2).DefaultTimeout();
            Assert.Equal((2, TimeSpan.FromSeconds(4)), (second.Attempt, second.Delay));

            // Retry 2 fails: 8 s would exceed MaxRetryDelay, so 5 s.
            time.Advance(second.Delay);
            var third = await states.WaitForAsync(SocketClientState.Reconnecting, occurrence: 3).DefaultTimeout();
            Assert.Equal((3, TimeSpan.FromSeconds(5)), (third.Attempt, third.Delay));

            // Nothing happens before the delay is over.
            time.Advance(TimeSpan.FromSeconds(4));
            Assert.Equal(SocketClientState.Reconnecting, client.State);

            server = await server.RestartAsync();
            time.Advance(TimeSpan.FromSeconds(1));
            await states.WaitForAsync(SocketClientState.Connected, occurrence: 2).DefaultTimeout();

            Assert.Equal(
                ["Connecting", "Connected", "Disconnected(ServerClosed)", "Reconnecting(1)", "Connecting", "Reconnecting(2)", "Connecting", "Reconnecting(3)", "Connecting", "Connected"],
                states.Sequence);
            Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, states.Changes[2].CloseStatus);

            // Headers and sub-protocol are re-sent on the new connection, with a fresh token (one per attempt).
            var handshakes = server.Record.Handshakes.ToArray();
            Assert.Equal(2, handshakes.Length);
            Assert.Equal(new Handshake("events", "Bearer token-1", "orders", null, "svc.v1"), handshakes[0]);
            Assert.Equal(new Handshake("events", "Bearer token-4", "orders", null, "svc.v1"), handshakes[1]);

            // And the new connection works.
            Assert.Equal("hi", await client.RequestAsync<string>("echo", "hi").DefaultTimeout());
        }
        finally
        {
            await client.DisposeAsync();
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task AccessToken_CanGoInTheQueryString_FreshOnEachConnection()
    {
        await using var server = await ClientTestServer.StartAsync();
        var tokens = 0;
        await using var client = new SocketClient(server.Uri("/ws/events?tenant=a"), new SocketClientOptions
        {
            AccessTokenPlacement = AccessTokenPlacement.QueryString,
            AccessTokenProvider = _ => ValueTask.FromResult<string?>("t" + Interlocked.Increment(ref tokens)),
            RetryInterval = TimeSpan.FromMilliseconds(10),
        });
        var states = new StateRecorder(client);
        await client.StartAsync().DefaultTimeout();

        // The server closes the connection; the client reconnects after a short real delay.
        await Assert.ThrowsAsync<SocketClientRequestException>(() => client.RequestAsync<string>("close-then-hang", "x").DefaultTimeout());
        await states.WaitForAsync(SocketClientState.Connected, occurrence: 2).DefaultTimeout();

        Assert.Equal(["t1", "t2"], server.Record.Handshakes.Select(h => h.QueryToken));
        Assert.All(server.Record.Handshakes, h => Assert.Null(h.Authorization));
    }

    [Fact]
    public async Task StartAsync_ServerDown_KeepsTryingUntilCanceled()
    {
        var port = await ClosedPortAsync();
        var time = new ManualTimeProvider();
        await using var client = new SocketClient(new Uri($"ws://127.0.0.1:{port}/ws/events"), new SocketClientOptions { TimeProvider = time });
        var states = new StateRecorder(client);
        using var cts = new CancellationTokenSource();

        var start = client.StartAsync(cts.Token);
        await states.WaitForAsync(SocketClientState.Reconnecting).DefaultTimeout();
        Assert.False(start.IsCompleted);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => start.DefaultTimeout());
        await states.WaitForAsync(SocketClientState.Disconnected).DefaultTimeout();
        Assert.Equal(["Connecting", "Reconnecting(1)", "Disconnected(Stopped)"], states.Sequence);
    }

    [Fact]
    public async Task StartAsync_ServerComesUpLater_Connects()
    {
        var port = await ClosedPortAsync();
        var time = new ManualTimeProvider();
        await using var client = new SocketClient(new Uri($"ws://127.0.0.1:{port}/ws/events"), new SocketClientOptions { TimeProvider = time });
        var states = new StateRecorder(client);

        var start = client.StartAsync();
        var retry = await states.WaitForAsync(SocketClientState.Reconnecting).DefaultTimeout();
        await using var server = await ClientTestServer.StartAsync(port);
        time.Advance(retry.Delay);

        await start.DefaultTimeout();
        Assert.Equal(SocketClientState.Connected, client.State);
    }

    [Fact]
    public async Task StartOrFailAsync_ServerDown_ThrowsOnFirstFailure()
    {
        var port = await ClosedPortAsync();
        await using var client = new SocketClient(new Uri($"ws://127.0.0.1:{port}/ws/events"));
        var states = new StateRecorder(client);

        await Assert.ThrowsAsync<WebSocketException>(() => client.StartOrFailAsync().DefaultTimeout());

        Assert.Equal(["Connecting", "Disconnected(ConnectFailed)"], states.Sequence);
        Assert.IsType<WebSocketException>(states.Changes[1].Exception);
        var send = await Assert.ThrowsAsync<SocketClientSendException>(() => client.SendAsync("x").AsTask());
        Assert.Equal(SocketClientSendFailure.NotConnected, send.Failure);
    }

    [Fact]
    public async Task ReconnectOff_ConnectionDrops_ClientStaysDisconnected()
    {
        await using var server = await ClientTestServer.StartAsync();
        await using var client = new SocketClient(server.Uri("/ws/events"), new SocketClientOptions { Reconnect = false });
        var states = new StateRecorder(client);
        await client.StartAsync().DefaultTimeout();

        await Assert.ThrowsAsync<SocketClientRequestException>(() => client.RequestAsync<string>("close-then-hang", "x").DefaultTimeout());
        await states.WaitForAsync(SocketClientState.Disconnected).DefaultTimeout();

        Assert.Equal(["Connecting", "Connected", "Disconnected(ServerClosed)"], states.Sequence);
        var send = await Assert.ThrowsAsync<SocketClientSendException>(() => client.SendAsync("x").AsTask());
        Assert.Equal(SocketClientSendFailure.NotConnected, send.Failure);
    }

    [Fact]
    public void Backoff_DoublesFromRetryInterval_CappedAtMaxRetryDelay_WithJitterBelowNominal()
    {
        var client = new SocketClient(new Uri("ws://127.0.0.1:1/"), new SocketClientOptions
        {
            RetryInterval = TimeSpan.FromSeconds(1),
            MaxRetryDelay = TimeSpan.FromSeconds(30),
            RetryJitter = 0.2,
        });

        for (var i = 0; i < 200; i++)
        {
            foreach (var (attempt, nominal) in new[] { (1, 1.0), (2, 2.0), (3, 4.0), (5, 16.0), (6, 30.0), (100, 30.0) })
            {
                var delay = client.ComputeDelay(attempt).TotalSeconds;
                Assert.InRange(delay, nominal * 0.8, nominal);
            }
        }
    }

    /// <summary>A port on which nothing listens: one a server just released.</summary>
    internal static async Task<int> ClosedPortAsync()
    {
        await using var server = await ClientTestServer.StartAsync();
        return server.Port;
    }
}
