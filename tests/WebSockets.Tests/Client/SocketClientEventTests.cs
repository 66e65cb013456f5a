using System.Net.WebSockets;
using System.Text.Json;
using System.Threading.Channels;
using WebSockets.Client;
using WebSockets.Tests.Infrastructure;

namespace WebSockets.Tests.Client;

/// <summary>The event protocol both ways, against a real server built with the library.</summary>
public sealed class SocketClientEventTests : IAsyncLifetime
{
    private ClientTestServer _server = null!;

    public async Task InitializeAsync() => _server = await ClientTestServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task RequestAsync_EchoRequest_ReturnsReplyData()
    {
        await using var client = await ConnectAsync();

        var reply = await client.RequestAsync<Point>("echo", new Point(3, 4)).DefaultTimeout();

        Assert.Equal(new Point(3, 4), reply);
    }

    [Fact]
    public async Task EmitAsync_Events_ArriveInOrder()
    {
        await using var client = await ConnectAsync();

        for (var i = 1; i <= 5; i++)
        {
            await client.EmitAsync("record", new Point(i, i));
        }

        Assert.Equal(Enumerable.Range(1, 5).Select(i => $"{{\"x\":{i},\"y\":{i}}}"), await _server.Record.ReadAsync(5));
    }

    [Fact]
    public async Task RequestAsync_ErrorReply_ThrowsWithServerCode()
    {
        await using var client = await ConnectAsync();

        var refused = await Assert.ThrowsAsync<SocketClientRequestException>(() => client.RequestAsync<string>("fail", "x").DefaultTimeout());
        var unknown = await Assert.ThrowsAsync<SocketClientRequestException>(() => client.RequestAsync<string>("no.such.event").DefaultTimeout());

        Assert.Equal(("not_allowed", "No."), (refused.Code, refused.Message));
        Assert.Equal("unknown_event", unknown.Code);
    }

    [Fact]
    public async Task ServerRequest_WithHandler_IsAnsweredWithTheHandlersReturnValue()
    {
        await using var client = await ConnectAsync();
        JsonElement? question = null;
        client.On<JsonElement, string>("confirm", data =>
        {
            question = data;
            return "yes";
        });

        var answer = await client.RequestAsync<string>("ask", "confirm").DefaultTimeout();

        Assert.Equal("yes", answer);
        Assert.Equal("ready?", question!.Value.GetProperty("question").GetString());
    }

    [Fact]
    public async Task ServerRequest_WithoutHandler_IsAnsweredWithUnknownEvent()
    {
        await using var client = await ConnectAsync();

        Assert.Equal("error:unknown_event", await client.RequestAsync<string>("ask", "confirm").DefaultTimeout());
    }

    [Fact]
    public async Task ServerRequest_HandlerRefuses_ErrorReplyCarriesItsCode()
    {
        await using var client = await ConnectAsync();
        client.On<JsonElement, string>("confirm", (_, _) => throw new SocketClientRequestException("not_ready", "Not yet."));
        client.On<JsonElement, string>("crash", (_, _) => throw new InvalidOperationException("boom"));

        Assert.Equal("error:not_ready", await client.RequestAsync<string>("ask", "confirm").DefaultTimeout());
        Assert.Equal("error:handler_failed", await client.RequestAsync<string>("ask", "crash").DefaultTimeout());
    }

    [Fact]
    public async Task ServerEvents_AndBatches_ReachHandlersItemByItemInOrder()
    {
        await using var client = await ConnectAsync();
        var received = Channel.CreateUnbounded<string>();
        client.On<int>("tick", tick => received.Writer.TryWrite("tick " + tick));
        client.On<string>("news", text => received.Writer.TryWrite("news " + text));

        await client.EmitAsync("news", "first");
        await client.EmitAsync("ticks", 3); // batched by the server: one batch_tick message with 3 items
        await client.EmitAsync("news", "last");

        var got = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            got.Add(await received.Reader.ReadAsync().AsTask().DefaultTimeout());
        }

        Assert.Equal(["news first", "tick 1", "tick 2", "tick 3", "news last"], got);
    }

    [Fact]
    public async Task BatchHandler_WhenRegistered_GetsTheWholeArray()
    {
        await using var client = await ConnectAsync();
        var batch = new TaskCompletionSource<int[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.On<int[]>("batch_tick", items => batch.TrySetResult(items));

        await client.EmitAsync("ticks", 3);

        var items = await batch.Task.DefaultTimeout();
        Assert.Equal(new[] { 1, 2, 3 }, items);
    }

    [Fact]
    public async Task PendingRequest_ConnectionDrops_FailsWithConnectionClosed()
    {
        await using var client = await ConnectAsync(o => o.Reconnect = false);

        var ex = await Assert.ThrowsAsync<SocketClientRequestException>(() => client.RequestAsync<string>("close-then-hang", "x").DefaultTimeout());

        Assert.Equal(SocketClientRequestException.ConnectionClosedCode, ex.Code);
    }

    [Fact]
    public async Task RequestAsync_NoReplyWithinTimeout_ThrowsTimeoutException_OnTheClientsClock()
    {
        var time = new ManualTimeProvider();
        await using var client = await ConnectAsync(o => o.TimeProvider = time);
        client.On<JsonElement, string>("confirm", async (_, ct) =>
        {
            await Task.Delay(Timeout.Infinite, ct); // the server's "ask" waits for this forever
            return "never";
        });

        var request = client.RequestAsync<string>("ask", "confirm", TimeSpan.FromSeconds(5));
        time.Advance(TimeSpan.FromSeconds(5));

        await Assert.ThrowsAsync<TimeoutException>(() => request.DefaultTimeout());
    }

    [Fact]
    public async Task RawMode_EventsAreNotAvailable_MessagesGoToOnMessage()
    {
        await using var client = new SocketClient(_server.Uri("/ws/echo"), new SocketClientOptions { Protocol = SocketClientProtocol.Raw });
        var echo = new TaskCompletionSource<SocketClientMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        client.OnMessage((message, _) =>
        {
            echo.TrySetResult(message);
            return ValueTask.CompletedTask;
        });
        await client.StartAsync().DefaultTimeout();

        await client.SendAsync("{\"event\":\"x\"}");

        var message = await echo.Task.DefaultTimeout();
        Assert.Equal((WebSocketMessageType.Text, "{\"event\":\"x\"}"), (message.MessageType, message.GetText()));
        Assert.Throws<InvalidOperationException>(() => client.On<string>("x", _ => { }));
        await Assert.ThrowsAsync<InvalidOperationException>(() => client.EmitAsync("x").AsTask());
    }

    [Fact]
    public void On_SecondHandlerForAnEvent_Throws_UntilTheFirstIsDisposed()
    {
        var client = new SocketClient(_server.Uri("/ws/events"));
        var first = client.On<string>("news", _ => { });

        Assert.Throws<InvalidOperationException>(() => client.On<string>("news", _ => { }));
        first.Dispose();
        client.On<string>("news", _ => { }).Dispose();
    }

    [Fact]
    public void Constructor_InvalidOptions_ReportsEveryProblemAtOnce()
    {
        var ex = Assert.Throws<ArgumentException>(() => new SocketClient(new Uri("ftp://x"), new SocketClientOptions
        {
            RetryInterval = TimeSpan.Zero,
            OutboxCapacity = 0,
            RetryJitter = 2,
        }));

        Assert.Contains("scheme", ex.Message);
        Assert.Contains("RetryInterval", ex.Message);
        Assert.Contains("OutboxCapacity", ex.Message);
        Assert.Contains("RetryJitter", ex.Message);
    }

    private async Task<SocketClient> ConnectAsync(Action<SocketClientOptions>? configure = null)
    {
        var options = new SocketClientOptions();
        configure?.Invoke(options);
        var client = new SocketClient(_server.Uri("/ws/events"), options);
        await client.StartAsync().DefaultTimeout();
        return client;
    }

    private sealed record Point(int X, int Y);
}
