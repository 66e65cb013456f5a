using System.Net.WebSockets;
using WebSockets.Client;
using WebSockets.Tests.Infrastructure;

namespace WebSockets.Tests.Client;

/// <summary>When the client gives up, and retries after giving up (review findings): each test failed before its fix.</summary>
public sealed class ClientGiveUpTests
{
    /// <summary>
    /// Regression (review): a StartOrFailAsync made as soon as the previous one failed (here from the StateChanged handler
    /// of the failure, deterministically before the old run loop has ended) returned the old error without a new attempt.
    /// </summary>
    [Fact]
    public async Task StartOrFailAsync_FromTheFailuresHandler_MakesANewAttempt()
    {
        var port = await SocketClientReconnectTests.ClosedPortAsync();
        await using var client = new SocketClient(new Uri($"ws://127.0.0.1:{port}/ws/events"));
        var states = new StateRecorder(client);
        var retried = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.StateChanged += (_, change) =>
        {
            if (change.DisconnectReason == SocketClientDisconnectReason.ConnectFailed && !retried.Task.IsCompleted)
            {
                retried.TrySetResult(client.StartOrFailAsync());
            }
        };

        await Assert.ThrowsAsync<WebSocketException>(() => client.StartOrFailAsync().DefaultTimeout());
        var retry = await retried.Task.DefaultTimeout();
        await Assert.ThrowsAsync<WebSocketException>(() => retry.DefaultTimeout());
        await states.WaitForAsync(SocketClientState.Disconnected, occurrence: 2).DefaultTimeout();
        Assert.Equal(["Connecting", "Disconnected(ConnectFailed)", "Connecting", "Disconnected(ConnectFailed)"], states.Sequence);
    }

    /// <summary>
    /// The same, in a loop from the caller: a StartOrFailAsync right after a failed one could return the old error without a new attempt
    /// (its continuation ran before the old run loop had ended, and EnsureRunning handed back the old faulted task).
    /// </summary>
    [Fact]
    public async Task StartOrFailAsync_AfterAFailure_AlwaysMakesANewAttempt()
    {
        var port = await SocketClientReconnectTests.ClosedPortAsync();
        await using var client = new SocketClient(new Uri($"ws://127.0.0.1:{port}/ws/events"));
        var states = new StateRecorder(client);
        const int Calls = 300;
        for (var i = 1; i <= Calls; i++)
        {
            await Assert.ThrowsAsync<WebSocketException>(() => client.StartOrFailAsync().DefaultTimeout());
            var attempts = states.Changes.Count(c => c.State == SocketClientState.Connecting);
            Assert.True(attempts == i, $"call {i} made no attempt of its own: {attempts} attempts for {i} calls");
        }
    }

    /// <summary>Regression (review): a request queued before StartOrFailAsync failed waited for its timeout (here: forever).</summary>
    [Fact]
    public async Task StartOrFailAsyncFails_QueuedRequestsFailAtOnce_Unsent()
    {
        var port = await SocketClientReconnectTests.ClosedPortAsync();
        await using var client = new SocketClient(new Uri($"ws://127.0.0.1:{port}/ws/events"));
        var request = client.RequestAsync<string>("echo", "x", Timeout.InfiniteTimeSpan);
        await client.EmitAsync("plain", "y");
        Assert.Equal(2, client.OutboxCount);

        await Assert.ThrowsAsync<WebSocketException>(() => client.StartOrFailAsync().DefaultTimeout());

        var error = await Assert.ThrowsAsync<SocketClientSendException>(() => request.DefaultTimeout());
        Assert.Equal(SocketClientSendFailure.NotConnected, error.Failure);
        Assert.Equal(1, client.OutboxCount);   // the plain message waits for the next start
    }

    /// <summary>Regression (review): a request queued while StartAsync kept trying waited for its timeout once the start was canceled.</summary>
    [Fact]
    public async Task StartAsyncCanceled_QueuedRequestsFailAtOnce_Unsent()
    {
        var port = await SocketClientReconnectTests.ClosedPortAsync();
        var time = new ManualTimeProvider();
        await using var client = new SocketClient(new Uri($"ws://127.0.0.1:{port}/ws/events"), new SocketClientOptions { TimeProvider = time });
        var states = new StateRecorder(client);
        using var cts = new CancellationTokenSource();
        var start = client.StartAsync(cts.Token);
        await states.WaitForAsync(SocketClientState.Reconnecting).DefaultTimeout();
        var request = client.RequestAsync<string>("echo", "x", Timeout.InfiniteTimeSpan);

        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => start.DefaultTimeout());

        var error = await Assert.ThrowsAsync<SocketClientSendException>(() => request.DefaultTimeout());
        Assert.Equal(SocketClientSendFailure.NotConnected, error.Failure);
    }

    /// <summary>
    /// Regression (review): with Reconnect off, a request made as the connection ended (here from the Disconnected
    /// handler, before the client had marked itself as given up) was queued and waited for its timeout.
    /// </summary>
    [Fact]
    public async Task ReconnectOff_ARequestMadeAsTheConnectionEnds_FailsAtOnce()
    {
        await using var server = await ClientTestServer.StartAsync();
        await using var client = new SocketClient(server.Uri("/ws/events"), new SocketClientOptions { Reconnect = false });
        var late = new TaskCompletionSource<Task<string>>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.StateChanged += (_, change) =>
        {
            if (change.State == SocketClientState.Disconnected)
            {
                late.TrySetResult(client.RequestAsync<string>("echo", "x", Timeout.InfiniteTimeSpan));
            }
        };
        await client.StartAsync().DefaultTimeout();

        await Assert.ThrowsAsync<SocketClientRequestException>(() => client.RequestAsync<string>("close-then-hang", "x").DefaultTimeout());
        var request = await late.Task.DefaultTimeout();
        var error = await Assert.ThrowsAsync<SocketClientSendException>(() => request.DefaultTimeout());
        Assert.Equal(SocketClientSendFailure.NotConnected, error.Failure);
        Assert.Equal(0, client.OutboxCount);
    }

    /// <summary>A request still queued at stop fails with connection_closed (it passed before too: pinned here with the others).</summary>
    [Fact]
    public async Task Stopped_QueuedRequestsFailWithConnectionClosed()
    {
        var port = await SocketClientReconnectTests.ClosedPortAsync();
        var time = new ManualTimeProvider();
        var client = new SocketClient(new Uri($"ws://127.0.0.1:{port}/ws/events"), new SocketClientOptions { TimeProvider = time });
        var states = new StateRecorder(client);
        var start = client.StartAsync();
        await states.WaitForAsync(SocketClientState.Reconnecting).DefaultTimeout();
        var request = client.RequestAsync<string>("echo", "x", Timeout.InfiniteTimeSpan);

        await client.DisposeAsync();

        var error = await Assert.ThrowsAsync<SocketClientRequestException>(() => request.DefaultTimeout());
        Assert.Equal(SocketClientRequestException.ConnectionClosedCode, error.Code);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => start.DefaultTimeout());
    }
}
