using System.Diagnostics.Metrics;
using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.Channels;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using WebSockets.Internal;
using WebSockets.Tests.Infrastructure;

namespace WebSockets.Tests;

/// <summary>
/// Per-connection message limits (issue 8): the message rate limit, the cap on pending requests and the handler timeout,
/// over real sockets.
/// </summary>
public sealed class MessageLimitsTests
{
    private const string Chat = "chat";
    private const string Rejected = "websockets.server.rejected_messages";
    private const string ReasonTag = "websockets.rejection.reason";

    // ---- Message rate limit ---------------------------------------------------------------------------------

    [Fact]
    public async Task RateLimit_Reject_MessagesBeyondTheBurstAreDroppedWithRateLimited_RequestsGetItAsAReply_ConnectionStaysOpen()
    {
        var app = new App();
        await using var host = await StartAsync(app, o => o.MessageRateLimit = Bucket(burst: 3, perPeriod: 1, TimeSpan.FromHours(1)));
        using var metrics = new MetricRecorder(host.Services.GetRequiredService<IMeterFactory>());
        using var client = await host.ConnectAsync("/ws");
        var connection = await app.NextConnectedAsync();

        await client.SendTextAsync("""{"event":"echo","data":"a","id":1}""");
        Assert.Equal("a", Reply(await NextAsync(client), 1).GetString());
        await client.SendTextAsync("""{"event":"echo","data":"b","id":2}""");
        Assert.Equal("b", Reply(await NextAsync(client), 2).GetString());
        await client.SendTextAsync("""{"event":"note","data":"n1"}""");

        // The bucket is empty: a request gets an error reply with its id, an event an error notice; neither is handled.
        await client.SendTextAsync("""{"event":"echo","data":"c","id":3}""");
        Assert.Equal("rate_limited", ErrorReply(await NextAsync(client), 3));
        await client.SendTextAsync("""{"event":"note","data":"n2"}""");
        Assert.Equal("rate_limited", Notice(await NextAsync(client)).GetProperty("code").GetString());

        // A reply to a request of the server is not rate limited: the server asked for it.
        var asking = connection.RequestAsync<string>("confirm");
        var request = await NextAsync(client);
        Assert.Equal("confirm", request.GetProperty("event").GetString());
        await client.SendTextAsync($$"""{"reply":{{request.GetProperty("id").GetInt64()}},"data":"yes"}""");
        Assert.Equal("yes", await asking.DefaultTimeout());

        Assert.Equal(["n1"], app.Notes);
        Assert.True(connection.IsOpen);
        Assert.Equal(2, metrics.Sum(Rejected, ReasonTag, "rate_limited"));
        Assert.Equal(2, host.Logs.WithEventName("MessageRateLimited").Count());
    }

    [Fact]
    public async Task RateLimit_EmptyBucket_RefillsAsTimePasses()
    {
        var app = new App();
        await using var host = await StartAsync(app, o => o.MessageRateLimit = Bucket(burst: 1, perPeriod: 1, TimeSpan.FromSeconds(2)));
        using var client = await host.ConnectAsync("/ws");

        // Two requests back to back: the second finds the bucket empty.
        await client.SendTextAsync("""{"event":"echo","data":"a","id":1}""");
        await client.SendTextAsync("""{"event":"echo","data":"b","id":2}""");
        Assert.Equal("a", Reply(await NextAsync(client), 1).GetString());
        Assert.Equal("rate_limited", ErrorReply(await NextAsync(client), 2));

        // The bucket has no timer: it refills, at one token per 2 s, when the next message arrives.
        var deadline = DateTime.UtcNow + TaskTimeoutExtensions.DefaultTimeoutValue;
        for (var id = 3; ; id++)
        {
            await client.SendTextAsync($$"""{"event":"echo","data":"later","id":{{id}}}""");
            var reply = await NextAsync(client);
            if (!reply.TryGetProperty("error", out _))
            {
                Assert.Equal("later", Reply(reply, id).GetString());
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, "The bucket never refilled.");
            await Task.Delay(250);
        }
    }

    [Fact]
    public async Task RateLimit_Close_ClosesWith1008AndDisconnectReasonRateLimited()
    {
        var app = new App();
        await using var host = await StartAsync(app, o =>
        {
            o.MessageRateLimit = Bucket(burst: 2, perPeriod: 1, TimeSpan.FromHours(1));
            o.MessageRateLimitMode = MessageRateLimitMode.Close;
        });
        using var metrics = new MetricRecorder(host.Services.GetRequiredService<IMeterFactory>());
        using var client = await host.ConnectAsync("/ws");
        await app.NextConnectedAsync();

        for (var i = 1; i <= 3; i++)
        {
            await client.SendTextAsync($$"""{"event":"note","data":"n{{i}}"}""");
        }

        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await client.ReceiveCloseAsync());
        Assert.Equal(DisconnectReason.RateLimited, await app.NextDisconnectedAsync());
        Assert.Equal(["n1", "n2"], app.Notes);
        Assert.Equal(1, metrics.Sum("websockets.server.disconnects", "websockets.disconnect.reason", "rate_limited"));
        Assert.Single(host.Logs.WithEventName("RateLimitClose"));
    }

    [Fact]
    public async Task RateLimit_RawHandlerEndpoint_Reject_DropsTheMessageAndSendsAnErrorNotice()
    {
        var handled = 0;
        await using var host = await TestHost.StartAsync(
            s => s.AddSocketRegistry(),
            web => web.MapWebSocketEndpoint(
                "/raw",
                (string message) =>
                {
                    Interlocked.Increment(ref handled);
                    return message;
                },
                o => o.MessageRateLimit = Bucket(burst: 2, perPeriod: 1, TimeSpan.FromHours(1))));
        using var metrics = new MetricRecorder(host.Services.GetRequiredService<IMeterFactory>());
        using var client = await host.ConnectAsync("/raw");

        await client.SendTextAsync("a");
        await client.SendTextAsync("b");
        await client.SendTextAsync("c");

        Assert.Equal("a", await client.ReceiveTextAsync());
        Assert.Equal("b", await client.ReceiveTextAsync());
        Assert.Equal("rate_limited", Notice((await client.ReceiveMessageAsync()).Json).GetProperty("code").GetString());
        Assert.Equal(2, Volatile.Read(ref handled));
        Assert.Equal(1, host.Registry.Count);
        Assert.Equal(WebSocketState.Open, client.State);
        Assert.Equal(1, metrics.Sum(Rejected, ReasonTag, "rate_limited"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RateLimit_PermitCheck_AllocatesNothingPerMessage(bool withLimit)
    {
        var app = new App();
        await using var host = await StartAsync(app, o =>
        {
            if (withLimit)
            {
                o.MessageRateLimit = Bucket(burst: 1_000_000, perPeriod: 1, TimeSpan.FromHours(1));
            }
        });
        using var client = await host.ConnectAsync("/ws");
        var connection = (SocketConnection)await app.NextConnectedAsync();
        Assert.True(connection.TryAcquireMessagePermit()); // warm up

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            Assert.True(connection.TryAcquireMessagePermit());
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    // ---- Pending requests -----------------------------------------------------------------------------------

    [Fact]
    public async Task MaxPendingRequests_RequestBeyondIt_GetsTooManyRequestsWithItsId_EventsStillQueue_ConnectionStaysOpen()
    {
        var app = new App();
        await using var host = await StartAsync(app, o => o.MaxPendingRequests = 2);
        using var metrics = new MetricRecorder(host.Services.GetRequiredService<IMeterFactory>());
        using var client = await host.ConnectAsync("/ws");

        await client.SendTextAsync("""{"event":"slow","id":1}""");
        await app.SlowStarted.Task.DefaultTimeout(); // request 1 runs
        await client.SendTextAsync("""{"event":"slow","id":2}"""); // request 2 waits
        await client.SendTextAsync("""{"event":"slow","id":3}""");
        Assert.Equal("too_many_requests", ErrorReply(await NextAsync(client), 3));
        await client.SendTextAsync("""{"event":"note","data":"queued"}""");

        app.ReleaseSlow();
        Assert.Equal("done", Reply(await NextAsync(client), 1).GetString());
        Assert.Equal("done", Reply(await NextAsync(client), 2).GetString());

        // Pending requests are done: the connection serves again, the refused id included.
        await client.SendTextAsync("""{"event":"echo","data":"x","id":3}""");
        Assert.Equal("x", Reply(await NextAsync(client), 3).GetString());
        Assert.Equal(["queued"], app.Notes);
        Assert.Equal(1, metrics.Sum(Rejected, ReasonTag, "too_many_requests"));
        Assert.Single(host.Logs.WithEventName("TooManyRequests"));
    }

    [Fact]
    public async Task MaxPendingRequests_Default_SixteenRequestsArePending_TheRestGetTooManyRequests()
    {
        const int Sent = 20;
        const int Default = 16;
        var app = new App();
        await using var host = await StartAsync(app, _ => { });
        using var client = await host.ConnectAsync("/ws");

        for (var id = 1; id <= Sent; id++)
        {
            await client.SendTextAsync($$"""{"event":"slow","id":{{id}}}""");
        }

        for (var id = Default + 1; id <= Sent; id++)
        {
            Assert.Equal("too_many_requests", ErrorReply(await NextAsync(client), id));
        }

        app.ReleaseSlow();
        for (var id = 1; id <= Default; id++)
        {
            Assert.Equal("done", Reply(await NextAsync(client), id).GetString());
        }
    }

    // ---- Handler timeout ------------------------------------------------------------------------------------

    [Fact]
    public async Task HandlerTimeout_HangingHandler_RequestGetsHandlerTimeout_TokenCanceled_NextMessageAnswered_OthersUnaffected()
    {
        var app = new App();
        await using var host = await StartAsync(app, o => o.HandlerTimeout = TimeSpan.FromSeconds(3));
        using var metrics = new MetricRecorder(host.Services.GetRequiredService<IMeterFactory>());
        using var hung = await host.ConnectAsync("/ws");
        using var other = await host.ConnectAsync("/ws");

        await hung.SendTextAsync("""{"event":"hang","id":1}""");
        var token = await app.HangStarted.Task.DefaultTimeout();
        await hung.SendTextAsync("""{"event":"echo","data":"after","id":2}"""); // waits behind the hung handler

        // Another connection is served while the handler hangs.
        await other.SendTextAsync("""{"event":"echo","data":"other","id":1}""");
        Assert.Equal("other", Reply(await NextAsync(other), 1).GetString());
        Assert.False(token.IsCancellationRequested, "The other connection was answered only after the timeout.");

        // At the timeout: the handler's token is canceled, its request gets handler_timeout, the next message is handled.
        Assert.Equal("handler_timeout", ErrorReply(await NextAsync(hung), 1));
        Assert.True(token.IsCancellationRequested);
        Assert.Equal("after", Reply(await NextAsync(hung), 2).GetString());
        await hung.SendTextAsync("""{"event":"echo","data":"again","id":1}""");
        Assert.Equal("again", Reply(await NextAsync(hung), 1).GetString());

        Assert.Equal(2, host.Registry.Count);
        Assert.Equal(1, metrics.Sum("websockets.server.handler_timeouts"));
        var log = Assert.Single(host.Logs.WithEventName("HandlerTimedOut"));
        Assert.Contains("'hang'", log.Message, StringComparison.Ordinal);
        app.ReleaseHang(); // the abandoned handler ends; nothing more is sent for it
        await hung.SendTextAsync("""{"event":"echo","data":"last","id":3}""");
        Assert.Equal("last", Reply(await NextAsync(hung), 3).GetString());
    }

    [Fact]
    public async Task HandlerTimeout_HandlersThatNeverStop_AreCappedPerConnection_OneTooManyClosesItWith1011()
    {
        var app = new App();
        await using var host = await StartAsync(app, o => o.HandlerTimeout = TimeSpan.FromMilliseconds(50));
        using var client = await host.ConnectAsync("/ws");
        var connection = (SocketConnection)Assert.Single(host.Registry.GetConnections());

        // Each hang ignores its token and runs on after its timeout; up to the cap, the connection goes on.
        for (var id = 1; id <= SocketConnection.MaxAbandonedHandlers; id++)
        {
            await client.SendTextAsync($$"""{"event":"hang","id":{{id}}}""");
            Assert.Equal("handler_timeout", ErrorReply(await NextAsync(client), id));
        }

        Assert.Equal(SocketConnection.MaxAbandonedHandlers, connection.AbandonedHandlers);
        await client.SendTextAsync("""{"event":"echo","data":"still here","id":100}""");
        Assert.Equal("still here", Reply(await NextAsync(client), 100).GetString());

        // One more closes the connection: a client can't pile up work that outlives it.
        await client.SendTextAsync("""{"event":"hang","id":101}""");
        Assert.Equal(WebSocketCloseStatus.InternalServerError, await client.ReceiveCloseAsync().DefaultTimeout());
        await host.Logs.WaitForEventAsync("TooManyAbandonedHandlers").DefaultTimeout();

        app.ReleaseHang();
        await Eventually.Until(() => Task.FromResult(connection.AbandonedHandlers), n => n == 0, "the abandoned handlers to end");
    }

    [Fact]
    public async Task HandlerTimeout_AbandonedHandler_ItsScopedServicesAreDisposedOnlyWhenItEnds()
    {
        var app = new App();
        await using var host = await StartAsync(app, o => o.HandlerTimeout = TimeSpan.FromMilliseconds(300));
        using var client = await host.ConnectAsync("/ws");

        await client.SendTextAsync("""{"event":"hangScoped","id":1}""");
        Assert.Equal("handler_timeout", ErrorReply(await NextAsync(client), 1));
        var probe = await app.ScopedProbeSeen.Task.DefaultTimeout();
        Assert.False(probe.Disposed.Task.IsCompleted, "The scope was disposed under a handler that still runs.");

        app.ReleaseHang();
        await probe.Disposed.Task.DefaultTimeout();
    }

    [Fact]
    public async Task HandlerTimeout_RawHandlerHangs_ErrorNoticeThenTheNextMessageIsHandled()
    {
        var release = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = await TestHost.StartAsync(
            s => s.AddSocketRegistry(),
            web => web.MapWebSocketEndpoint(
                "/raw",
                (string message) => message == "hang" ? release.Task : Task.FromResult(message),
                o => o.HandlerTimeout = TimeSpan.FromMilliseconds(500)));
        using var client = await host.ConnectAsync("/raw");

        await client.SendTextAsync("hang");
        await client.SendTextAsync("next");

        Assert.Equal("handler_timeout", Notice((await client.ReceiveMessageAsync()).Json).GetProperty("code").GetString());
        Assert.Equal("next", await client.ReceiveTextAsync());
        Assert.Single(host.Logs.WithEventName("MessageHandlerTimedOut"));
        release.SetResult("late"); // discarded: the client got its notice
        await client.SendTextAsync("end");
        Assert.Equal("end", await client.ReceiveTextAsync());
    }

    // ---- Options --------------------------------------------------------------------------------------------

    [Fact]
    public void MessageLimits_Defaults()
    {
        var options = new WebSocketEndpointOptions();

        Assert.Null(options.MessageRateLimit);
        Assert.Equal(MessageRateLimitMode.Reject, options.MessageRateLimitMode);
        Assert.Equal(16, options.MaxPendingRequests);
        Assert.Equal(Timeout.InfiniteTimeSpan, options.HandlerTimeout);
    }

    [Fact]
    public async Task MessageLimits_InvalidValues_MapThrowsNamingEveryFailure()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Services.AddSocketRegistry();
        await using var web = builder.Build();

        var ex = Assert.Throws<OptionsValidationException>(() => web.MapWebSocketEndpoint("/ws", o =>
        {
            o.MaxPendingRequests = SocketConnection.MaxQueuedInvocations + 1;
            o.HandlerTimeout = TimeSpan.Zero;
            o.MessageRateLimitMode = (MessageRateLimitMode)7;
            o.MessageRateLimit = new TokenBucketRateLimiterOptions { TokenLimit = 0, TokensPerPeriod = 0, ReplenishmentPeriod = TimeSpan.Zero };
        }));

        Assert.Contains(ex.Failures, f => f.Contains(nameof(WebSocketEndpointOptions.MaxPendingRequests), StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.Contains(nameof(WebSocketEndpointOptions.HandlerTimeout), StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.Contains(nameof(WebSocketEndpointOptions.MessageRateLimitMode), StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.Contains("TokenLimit", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.Contains("TokensPerPeriod", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.Contains("ReplenishmentPeriod", StringComparison.Ordinal));
        Assert.Equal(6, ex.Failures.Count());
    }

    // ---- Helpers ---------------------------------------------------------------------------------------------

    private static TokenBucketRateLimiterOptions Bucket(int burst, int perPeriod, TimeSpan period)
        => new() { TokenLimit = burst, TokensPerPeriod = perPeriod, ReplenishmentPeriod = period };

    private static Task<TestHost> StartAsync(App app, Action<WebSocketEndpointOptions> endpoint)
        => TestHost.StartAsync(
            s =>
            {
                s.AddScoped<ScopedProbe>();
                s.AddSocketRegistry().AddNamespace(Chat, app.Attach);
            },
            web => web.MapWebSocketEndpoint("/ws", Chat, endpoint));

    private static Task<JsonElement> NextAsync(ClientWebSocket client) => ReceiveJsonAsync(client);

    private static async Task<JsonElement> ReceiveJsonAsync(ClientWebSocket client)
    {
        var message = await client.ReceiveMessageAsync();
        Assert.True(message.Type == WebSocketMessageType.Text, $"Expected a text message, got {message.Type} ({client.CloseStatus} {client.CloseStatusDescription}).");
        return message.Json;
    }

    private static JsonElement Reply(JsonElement message, long id)
    {
        Assert.Equal(id, message.GetProperty("reply").GetInt64());
        Assert.False(message.TryGetProperty("error", out var error), $"Unexpected error reply: {error}");
        return message.GetProperty("data");
    }

    private static string? ErrorReply(JsonElement message, long id)
    {
        Assert.Equal(id, message.GetProperty("reply").GetInt64());
        return message.GetProperty("error").GetProperty("code").GetString();
    }

    private static JsonElement Notice(JsonElement message)
    {
        Assert.Equal("error", message.GetProperty("event").GetString());
        return message.GetProperty("data");
    }

    /// <summary>A scoped, disposable service that says when it is disposed.</summary>
    public sealed class ScopedProbe : IDisposable
    {
        public TaskCompletionSource Disposed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Dispose() => Disposed.TrySetResult();
    }

    /// <summary>The "chat" namespace of these tests: its handlers, hooks and what they saw.</summary>
    private sealed class App
    {
        private readonly Channel<ISocketConnection> _connected = Channel.CreateUnbounded<ISocketConnection>();
        private readonly Channel<DisconnectReason> _disconnected = Channel.CreateUnbounded<DisconnectReason>();
        private readonly TaskCompletionSource _slowGate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource<string> _hangGate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly List<string> _notes = [];

        public TaskCompletionSource SlowStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<CancellationToken> HangStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource<ScopedProbe> ScopedProbeSeen { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public IReadOnlyList<string> Notes
        {
            get
            {
                lock (_notes)
                {
                    return [.. _notes];
                }
            }
        }

        public void ReleaseSlow() => _slowGate.TrySetResult();

        public void ReleaseHang() => _hangGate.TrySetResult("late");

        public Task<ISocketConnection> NextConnectedAsync() => _connected.Reader.ReadAsync().AsTask().DefaultTimeout();

        public Task<DisconnectReason> NextDisconnectedAsync() => _disconnected.Reader.ReadAsync().AsTask().DefaultTimeout();

        public void Attach(SocketNamespaceBuilder ns) => ns
            .OnConnected((socket, _) =>
            {
                _connected.Writer.TryWrite(socket);
                return Task.CompletedTask;
            })
            .OnDisconnected((_, reason, _) =>
            {
                _disconnected.Writer.TryWrite(reason);
                return Task.CompletedTask;
            })
            .On<string, string>("echo", (_, text, _) => Task.FromResult(text))
            .On("note", (string text) =>
            {
                lock (_notes)
                {
                    _notes.Add(text);
                }
            })
            .On("slow", async () =>
            {
                SlowStarted.TrySetResult();
                await _slowGate.Task;
                return "done";
            })
            .On("hang", (CancellationToken ct) =>
            {
                // Ignores its token: only the timeout can unblock the connection.
                HangStarted.TrySetResult(ct);
                return _hangGate.Task;
            })
            .On("hangScoped", (ScopedProbe probe) =>
            {
                ScopedProbeSeen.TrySetResult(probe);
                return _hangGate.Task;
            });
    }
}
