using System.Net.WebSockets;
using WebSockets.Client;
using WebSockets.Tests.Infrastructure;

namespace WebSockets.Tests.Client;

/// <summary>Edge cases found in review: each test failed before its fix.</summary>
public sealed class ClientEdgeCaseTests
{
    /// <summary>Regression (review): a message larger than a MaxMessageSize that is not a power of two (or below 4096) spins forever on zero-length receives.</summary>
    [Fact]
    public async Task TooBigMessage_WithMaxMessageSizeNotAPowerOfTwo_ClosesWith1009()
    {
        await using var server = await ClientTestServer.StartAsync();
        await using var client = new SocketClient(server.Uri("/ws/echo"), new SocketClientOptions
        {
            Protocol = SocketClientProtocol.Raw,
            MaxMessageSize = 1000,
            RetryInterval = TimeSpan.FromSeconds(30),
            MaxRetryDelay = TimeSpan.FromSeconds(30),
        });
        var states = new StateRecorder(client);
        await client.StartAsync().DefaultTimeout();
        await client.SendAsync(new string('x', 2000));   // echoed back: 2000 bytes > 1000
        var end = await states.WaitForAsync(SocketClientState.Disconnected).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(SocketClientDisconnectReason.MessageTooBig, end.DisconnectReason);
    }

    /// <summary>Regression (review): a send that passed the stop check before StopAsync ran is queued after the outbox was cleared: silently lost.</summary>
    [Fact]
    public async Task SendRacingStop_IsNeverSilentlyLost()
    {
        var time = new GateTime();
        await using var server = await ClientTestServer.StartAsync();
        var client = new SocketClient(server.Uri("/ws/sink"), new SocketClientOptions { Protocol = SocketClientProtocol.Raw, TimeProvider = time });
        await client.StartAsync().DefaultTimeout();

        // The sender is held inside Enqueue, after its _stopRequested check and before the outbox takes the message.
        var send = Task.Factory.StartNew(
            () =>
            {
                GateTime.GateThisThread = true;
                return client.SendAsync("late").AsTask();
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default).Unwrap();
        Assert.True(time.Entered.Wait(TimeSpan.FromSeconds(10)));
        await client.StopAsync().DefaultTimeout();
        time.Release.Set();

        // Either the send fails with Stopped, or the message is counted as dropped; here it succeeds and stays queued forever.
        var ex = await Record.ExceptionAsync(() => send);
        Assert.True(ex is SocketClientSendException { Failure: SocketClientSendFailure.Stopped }, $"send succeeded; OutboxCount after stop = {client.OutboxCount}");
        await client.DisposeAsync();
    }

    /// <summary>Regression (review): a handler that disposes its client waits for itself.</summary>
    [Fact]
    public async Task DisposeAsync_FromAHandler_DoesNotDeadlock()
    {
        await using var server = await ClientTestServer.StartAsync();
        var client = new SocketClient(server.Uri("/ws/events"));
        var disposed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        client.On<string>("news", async (_, _) =>
        {
            await client.DisposeAsync();
            disposed.TrySetResult();
        });
        await client.StartAsync().DefaultTimeout();
        await client.EmitAsync("news", "bye");
        await disposed.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>Regression (review): ConnectTimeout does not bound a token provider that ignores its token; StopAsync then hangs too.</summary>
    [Fact]
    public async Task ConnectTimeout_BoundsATokenProviderThatIgnoresItsToken()
    {
        var never = new TaskCompletionSource<string?>();
        var client = new SocketClient(new Uri("ws://127.0.0.1:1/ws"), new SocketClientOptions
        {
            ConnectTimeout = TimeSpan.FromMilliseconds(200),
            AccessTokenProvider = _ => new ValueTask<string?>(never.Task),
        });
        var start = client.StartOrFailAsync();
        Assert.Same(start, await Task.WhenAny(start, Task.Delay(TimeSpan.FromSeconds(10))));
        await Assert.ThrowsAsync<TimeoutException>(() => start);
        await client.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));
    }

    private sealed class GateTime : TimeProvider
    {
        [ThreadStatic]
        public static bool GateThisThread;

        public ManualResetEventSlim Entered { get; } = new();

        public ManualResetEventSlim Release { get; } = new();

        public override DateTimeOffset GetUtcNow()
        {
            if (GateThisThread)
            {
                GateThisThread = false;
                Entered.Set();
                Release.Wait();
            }

            return base.GetUtcNow();
        }
    }
}
