using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using WebSockets.Tests.Infrastructure;

namespace WebSockets.Tests;

/// <summary>GoFr-style handlers: binding each message, injecting services, writing the return value back.</summary>
public sealed class HandlerTests
{
    public sealed record ChatMessage(string User, string Text);

    public sealed class Counter
    {
        private int _value;

        public int Next() => Interlocked.Increment(ref _value);
    }

    public sealed class ScopedMarker
    {
        public Guid Id { get; } = Guid.NewGuid();
    }

    [Fact]
    public async Task StringHandler_EchoesTextBack()
    {
        await using var host = await TestHost.StartAsync(s => s.AddSocketRegistry(), app => app.MapWebSocketEndpoint("/ws", (string message) => message));
        using var client = await host.ConnectAsync("/ws");

        await client.SendTextAsync("hello");
        Assert.Equal("hello", await client.ReceiveTextAsync());
        await client.SendTextAsync("world");
        Assert.Equal("world", await client.ReceiveTextAsync());
    }

    [Fact]
    public async Task JsonHandler_BindsRecordAndRepliesWithJson()
    {
        await using var host = await TestHost.StartAsync(s => s.AddSocketRegistry(),
            app => app.MapWebSocketEndpoint("/ws", (ChatMessage msg) => new { msg.User, Shout = msg.Text.ToUpperInvariant() }));
        using var client = await host.ConnectAsync("/ws");

        await client.SendTextAsync("""{"user":"ann","text":"hi"}""");
        var reply = (await client.ReceiveMessageAsync()).Json;
        Assert.Equal("ann", reply.GetProperty("user").GetString());
        Assert.Equal("HI", reply.GetProperty("shout").GetString());
    }

    [Fact]
    public async Task MalformedJson_GetsBadJsonNotice_AndConnectionStaysOpen()
    {
        await using var host = await TestHost.StartAsync(s => s.AddSocketRegistry(), app => app.MapWebSocketEndpoint("/ws", (ChatMessage msg) => msg.Text));
        using var client = await host.ConnectAsync("/ws");

        await client.SendTextAsync("{\"user\":\"ann\",");
        var notice = (await client.ReceiveMessageAsync()).Json;
        Assert.Equal("error", notice.GetProperty("event").GetString());
        Assert.Equal("bad_json", notice.GetProperty("data").GetProperty("code").GetString());
        Assert.False(string.IsNullOrEmpty(notice.GetProperty("data").GetProperty("message").GetString()));

        await client.SendTextAsync("""{"user":"ann","text":"still here"}""");
        Assert.Equal("still here", await client.ReceiveTextAsync());
        Assert.Equal(WebSocketState.Open, client.State);
    }

    [Theory]
    [InlineData("""{"user":"ann","text":42}""")]
    [InlineData("[1,2,3]")]
    [InlineData("null")]
    public async Task WellFormedJsonOfWrongShape_GetsBadDataNotice(string payload)
    {
        await using var host = await TestHost.StartAsync(s => s.AddSocketRegistry(), app => app.MapWebSocketEndpoint("/ws", (ChatMessage msg) => msg.Text));
        using var client = await host.ConnectAsync("/ws");

        await client.SendTextAsync(payload);
        var notice = (await client.ReceiveMessageAsync()).Json;
        Assert.Equal("bad_data", notice.GetProperty("data").GetProperty("code").GetString());

        await client.SendTextAsync("""{"user":"ann","text":"ok"}""");
        Assert.Equal("ok", await client.ReceiveTextAsync());
    }

    [Fact]
    public async Task NullableMessageParameter_AcceptsJsonNull()
    {
        await using var host = await TestHost.StartAsync(s => s.AddSocketRegistry(),
            app => app.MapWebSocketEndpoint("/ws", (ChatMessage? msg) => msg is null ? "none" : msg.Text));
        using var client = await host.ConnectAsync("/ws");

        await client.SendTextAsync("null");
        Assert.Equal("none", await client.ReceiveTextAsync());
    }

    [Fact]
    public async Task BinaryFrameOnTextEndpoint_GetsNotice_AndConnectionStaysOpen()
    {
        await using var host = await TestHost.StartAsync(s => s.AddSocketRegistry(), app => app.MapWebSocketEndpoint("/ws", (string message) => message));
        using var client = await host.ConnectAsync("/ws");

        await client.SendBinaryAsync([1, 2, 3]);
        var notice = (await client.ReceiveMessageAsync()).Json;
        Assert.Equal("binary_not_supported", notice.GetProperty("data").GetProperty("code").GetString());

        await client.SendTextAsync("text still works");
        Assert.Equal("text still works", await client.ReceiveTextAsync());
    }

    [Fact]
    public async Task HandlerException_IsLoggedAndReportedWithoutDetails_AndConnectionStaysOpen()
    {
        await using var host = await TestHost.StartAsync(s => s.AddSocketRegistry(),
            app => app.MapWebSocketEndpoint("/ws", (string message) => message == "boom" ? throw new InvalidOperationException("secret detail") : message));
        using var client = await host.ConnectAsync("/ws");

        await client.SendTextAsync("boom");
        var data = (await client.ReceiveMessageAsync()).Json.GetProperty("data");
        Assert.Equal("handler_failed", data.GetProperty("code").GetString());
        Assert.DoesNotContain("secret detail", data.GetProperty("message").GetString());
        var logged = await host.Logs.WaitForEventAsync("HandlerFailed").DefaultTimeout();
        Assert.IsType<InvalidOperationException>(logged.Exception);

        await client.SendTextAsync("after");
        Assert.Equal("after", await client.ReceiveTextAsync());
    }

    [Fact]
    public async Task HandlerException_WithDetailedErrors_IncludesExceptionMessage()
    {
        await using var host = await TestHost.StartAsync(s => s.AddSocketRegistry(o => o.EnableDetailedErrors = true),
            app => app.MapWebSocketEndpoint("/ws", string (string message) => throw new InvalidOperationException("visible detail")));
        using var client = await host.ConnectAsync("/ws");

        await client.SendTextAsync("x");
        var data = (await client.ReceiveMessageAsync()).Json.GetProperty("data");
        Assert.Equal("handler_failed", data.GetProperty("code").GetString());
        Assert.Contains("visible detail", data.GetProperty("message").GetString());
    }

    [Fact]
    public async Task Services_AreInjected_WithOneScopePerMessage()
    {
        await using var host = await TestHost.StartAsync(
            s =>
            {
                s.AddSocketRegistry();
                s.AddSingleton<Counter>();
                s.AddScoped<ScopedMarker>();
            },
            app => app.MapWebSocketEndpoint("/ws", (string message, Counter counter, ScopedMarker a, [FromServices] ScopedMarker b) =>
                new { n = counter.Next(), sameScope = a.Id == b.Id, scope = a.Id }));
        using var client = await host.ConnectAsync("/ws");

        await client.SendTextAsync("one");
        var first = (await client.ReceiveMessageAsync()).Json;
        await client.SendTextAsync("two");
        var second = (await client.ReceiveMessageAsync()).Json;

        Assert.Equal(1, first.GetProperty("n").GetInt32());
        Assert.Equal(2, second.GetProperty("n").GetInt32());
        Assert.True(first.GetProperty("sameScope").GetBoolean());
        Assert.NotEqual(first.GetProperty("scope").GetGuid(), second.GetProperty("scope").GetGuid());
    }

    [Fact]
    public async Task ConnectionAndToken_AreInjected_TokenCanceledWhenConnectionEnds()
    {
        var token = new TaskCompletionSource<CancellationToken>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = await TestHost.StartAsync(s => s.AddSocketRegistry(), app => app.MapWebSocketEndpoint("/ws", (ISocketConnection socket, string message, CancellationToken ct) =>
        {
            token.TrySetResult(ct);
            return socket.Id;
        }));
        using var client = await host.ConnectAsync("/ws");

        await client.SendTextAsync("who am i");
        var id = await client.ReceiveTextAsync();
        Assert.True(host.Registry.TryGetConnection(id, out _));
        var ct = await token.Task.DefaultTimeout();
        Assert.False(ct.IsCancellationRequested);

        var canceled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var registration = ct.Register(() => canceled.TrySetResult());
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None).DefaultTimeout();
        await canceled.Task.DefaultTimeout();
    }

    [Fact]
    public async Task AsyncReturnTypes_AreAwaitedAndWrittenBack()
    {
        await using var host = await TestHost.StartAsync(s => s.AddSocketRegistry(), app =>
        {
            app.MapWebSocketEndpoint("/task", async (string m) =>
            {
                await Task.Yield();
                return m + "!";
            });
            app.MapWebSocketEndpoint("/valuetask", (string m) => new ValueTask<ChatMessage>(new ChatMessage("bot", m)));
        });
        using var taskClient = await host.ConnectAsync("/task");
        using var valueTaskClient = await host.ConnectAsync("/valuetask");

        await taskClient.SendTextAsync("a");
        Assert.Equal("a!", await taskClient.ReceiveTextAsync());
        await valueTaskClient.SendTextAsync("b");
        var reply = (await valueTaskClient.ReceiveMessageAsync()).Json;
        Assert.Equal("bot", reply.GetProperty("user").GetString());
        Assert.Equal("b", reply.GetProperty("text").GetString());
    }

    [Fact]
    public async Task NullResult_SendsNothing()
    {
        await using var host = await TestHost.StartAsync(s => s.AddSocketRegistry(),
            app => app.MapWebSocketEndpoint("/ws", (string m) => m == "quiet" ? null : m));
        using var client = await host.ConnectAsync("/ws");

        await client.SendTextAsync("quiet");
        await client.SendTextAsync("loud");
        Assert.Equal("loud", await client.ReceiveTextAsync());
    }

    [Fact]
    public async Task ByteArrayResult_IsSentAsBinaryFrame()
    {
        await using var host = await TestHost.StartAsync(s => s.AddSocketRegistry(),
            app => app.MapWebSocketEndpoint("/ws", (byte[] data) => data.Reverse().ToArray()));
        using var client = await host.ConnectAsync("/ws");

        await client.SendBinaryAsync([1, 2, 3]);
        var reply = await client.ReceiveMessageAsync();
        Assert.Equal(WebSocketMessageType.Binary, reply.Type);
        Assert.Equal([3, 2, 1], reply.Data);
    }

    [Fact]
    public async Task SocketMessageEcho_KeepsFrameTypeAndBytes_AcrossManyMessages()
    {
        // The echoed message is queued after the handler returns, when the receive buffer is reused:
        // every echo must still carry its own bytes.
        await using var host = await TestHost.StartAsync(s => s.AddSocketRegistry(),
            app => app.MapWebSocketEndpoint("/ws", (SocketMessage message) => message));
        using var client = await host.ConnectAsync("/ws");

        const int count = 200;
        var sending = Task.Run(async () =>
        {
            for (var i = 0; i < count; i++)
            {
                if (i % 2 == 0)
                {
                    await client.SendTextAsync($"text-{i}-{new string('x', i)}");
                }
                else
                {
                    await client.SendBinaryAsync(Enumerable.Repeat((byte)i, i).ToArray());
                }
            }
        });

        for (var i = 0; i < count; i++)
        {
            var reply = await client.ReceiveMessageAsync();
            if (i % 2 == 0)
            {
                Assert.Equal(WebSocketMessageType.Text, reply.Type);
                Assert.Equal($"text-{i}-{new string('x', i)}", reply.Text);
            }
            else
            {
                Assert.Equal(WebSocketMessageType.Binary, reply.Type);
                Assert.Equal(Enumerable.Repeat((byte)i, i).ToArray(), reply.Data);
            }
        }

        await sending.DefaultTimeout();
    }

    [Fact]
    public async Task HandlerWithoutMessageParameter_RunsForEveryMessage()
    {
        await using var host = await TestHost.StartAsync(
            s =>
            {
                s.AddSocketRegistry();
                s.AddSingleton<Counter>();
            },
            app => app.MapWebSocketEndpoint("/ws", (Counter counter) => counter.Next().ToString(System.Globalization.CultureInfo.InvariantCulture)));
        using var client = await host.ConnectAsync("/ws");

        await client.SendTextAsync("anything");
        Assert.Equal("1", await client.ReceiveTextAsync());
        await client.SendBinaryAsync([9]);
        Assert.Equal("2", await client.ReceiveTextAsync());
    }

    [Fact]
    public async Task RelayingTheReceivedSocketMessage_SendsItsOwnBytes_NotTheReusedReceiveBuffer()
    {
        // Regression: the handler used to get a view of the pooled receive buffer; sending it queued bytes that the
        // next message (possibly another connection's) overwrote. Wait mode: on a loaded machine the write pump may lag
        // behind 300 quick messages, and this test is about the bytes, not the full-queue policy.
        await using var host = await TestHost.StartAsync(s => s.AddSocketRegistry(o => o.SendQueueFullMode = SendQueueFullMode.Wait),
            app => app.MapWebSocketEndpoint("/ws", (SocketMessage message, ISocketConnection socket) => socket.SendAsync(message)));
        using var client = await host.ConnectAsync("/ws");

        const int count = 300;
        var sending = Task.Run(async () =>
        {
            for (var i = 0; i < count; i++)
            {
                await client.SendTextAsync($"relay-{i:D4}-{new string((char)('a' + (i % 26)), 40)}");
            }
        });

        for (var i = 0; i < count; i++)
        {
            Assert.Equal($"relay-{i:D4}-{new string((char)('a' + (i % 26)), 40)}", await client.ReceiveTextAsync());
        }

        await sending.DefaultTimeout();
    }

    [Fact]
    public async Task ThrowingConnectionClosedCallback_IsLogged_AndDisconnectHooksStillRun()
    {
        var disconnected = new TaskCompletionSource<DisconnectReason>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = await TestHost.StartAsync(
            s => s.AddSocketRegistry().AddNamespace(SocketRegistryOptions.DefaultNamespace, ns => ns.OnDisconnected((_, reason, _) =>
            {
                disconnected.TrySetResult(reason);
                return Task.CompletedTask;
            })),
            app => app.MapWebSocketEndpoint("/ws", (ISocketConnection socket, string message) =>
            {
                socket.ConnectionClosed.Register(() => throw new InvalidOperationException("user callback bug"));
                return "registered";
            }));
        using var client = await host.ConnectAsync("/ws");
        await client.SendTextAsync("x");
        Assert.Equal("registered", await client.ReceiveTextAsync());

        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).DefaultTimeout();

        Assert.Equal(DisconnectReason.ClientClosed, await disconnected.Task.DefaultTimeout());
        var logged = await host.Logs.WaitForEventAsync("ClosedCallbackFailed").DefaultTimeout();
        Assert.NotNull(logged.Exception);
    }
}
