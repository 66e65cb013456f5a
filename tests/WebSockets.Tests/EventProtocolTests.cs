using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using WebSockets.Tests.Infrastructure;

namespace WebSockets.Tests;

/// <summary>
/// The event protocol over real sockets: events and requests in both directions, emits to connections, audiences and
/// namespaces, handler ordering, error notices and error replies, batching, and source-generated JSON.
/// </summary>
public sealed partial class EventProtocolTests
{
    private const string Chat = "chat";
    private const string Lobby = "lobby";

    public sealed record ChatMessage(string User, string Text);

    public sealed record JoinRequest(string Room, string User);

    public sealed record JoinReply(string Room, int Members);

    public sealed record Tick(string Symbol, int Price);

    public sealed record Note(string Text);

    public sealed record Unregistered(int Value);

    public sealed record ScopeReport(Guid ProbeId, bool SameInstance, string ConnectionId, bool DisposedDuringHandler, bool TokenCanceled);

    /// <summary>A singleton that records which scoped probes were disposed.</summary>
    public sealed class DisposalLog
    {
        private readonly ConcurrentDictionary<Guid, TaskCompletionSource> _disposed = new();

        public IReadOnlyCollection<Guid> Disposed => [.. _disposed.Where(d => d.Value.Task.IsCompleted).Select(d => d.Key)];

        public void Record(Guid id) => Signal(id).TrySetResult();

        public bool IsDisposed(Guid id) => _disposed.TryGetValue(id, out var signal) && signal.Task.IsCompleted;

        public Task WhenDisposed(Guid id) => Signal(id).Task;

        private TaskCompletionSource Signal(Guid id) => _disposed.GetOrAdd(id, static _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
    }

    /// <summary>A scoped, disposable service: one instance per message.</summary>
    public sealed class ScopedProbe(DisposalLog log) : IDisposable
    {
        public Guid Id { get; } = Guid.NewGuid();

        public void Dispose() => log.Record(Id);
    }

    [JsonSerializable(typeof(ChatMessage))]
    [JsonSerializable(typeof(JoinRequest))]
    [JsonSerializable(typeof(JoinReply))]
    [JsonSerializable(typeof(Tick))]
    [JsonSerializable(typeof(string))]
    [JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
    internal sealed partial class ProtocolJsonContext : JsonSerializerContext
    {
    }

    // ---- 1. Round trips ------------------------------------------------------------------------------------

    [Fact]
    public async Task ClientEvent_ReachesTypedHandler_WithCamelCaseDataBound()
    {
        var received = new TaskCompletionSource<(string ConnectionId, ChatMessage Message)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var connections = new ConnectionLog();
        await using var host = await StartAsync(ns =>
        {
            connections.Attach(ns);
            ns.On<ChatMessage>("chat.send", (socket, msg, ct) =>
            {
                received.TrySetResult((socket.Id, msg));
                return Task.CompletedTask;
            });
        });
        using var client = await host.ConnectAsync("/ws/chat");
        var connection = await connections.NextAsync().DefaultTimeout();

        await client.SendTextAsync("""{"event":"chat.send","data":{"user":"ann","text":"hello"}}""");

        var (connectionId, message) = await received.Task.DefaultTimeout();
        Assert.Equal(new ChatMessage("ann", "hello"), message);
        Assert.Equal(connection.Id, connectionId);
        await AssertStillServesAsync(client, 1);
        AssertNothingLoggedAboveWarning(host);
    }

    [Fact]
    public async Task Request_ToTypedHandler_GetsExactlyOneReplyWithItsId()
    {
        await using var host = await StartAsync(ns =>
            ns.On<JoinRequest, JoinReply>("room.join", (socket, request, ct) => Task.FromResult(new JoinReply(request.Room, request.User.Length))));
        using var client = await host.ConnectAsync("/ws/chat");

        await client.SendTextAsync("""{"event":"room.join","data":{"room":"lobby","user":"annie"},"id":7}""");

        var reply = await ReceiveJsonAsync(client);
        Assert.False(reply.TryGetProperty("event", out _));
        Assert.False(reply.TryGetProperty("error", out _));
        var data = AssertReply(reply, 7);
        Assert.Equal("lobby", data.GetProperty("room").GetString());
        Assert.Equal(5, data.GetProperty("members").GetInt32());

        // The next frame answers the next request: request 7 got one reply, not two.
        await AssertStillServesAsync(client, 8);
        AssertNothingLoggedAboveWarning(host);
    }

    [Fact]
    public async Task Request_ToHandlerReturningVoidOrTask_GetsReplyWithNullData()
    {
        var marks = new ConcurrentQueue<string>();
        await using var host = await StartAsync(ns =>
        {
            ns.On("mark", (ISocketConnection socket) => marks.Enqueue("void"));
            ns.On<ChatMessage>("chat.send", async (socket, msg, ct) =>
            {
                await Task.Yield();
                marks.Enqueue(msg.Text);
            });
        });
        using var client = await host.ConnectAsync("/ws/chat");

        await client.SendTextAsync("""{"event":"mark","id":3}""");
        var data = AssertReply(await ReceiveJsonAsync(client), 3);
        Assert.Equal(JsonValueKind.Null, data.ValueKind);

        await client.SendTextAsync("""{"event":"chat.send","data":{"user":"ann","text":"hi"},"id":4}""");
        data = AssertReply(await ReceiveJsonAsync(client), 4);
        Assert.Equal(JsonValueKind.Null, data.ValueKind);

        Assert.Equal(["void", "hi"], marks);
    }

    [Fact]
    public async Task Event_ToHandlerWithReturnValue_GetsNoReply()
    {
        var calls = 0;
        await using var host = await StartAsync(ns =>
            ns.On<JoinRequest, JoinReply>("room.join", (socket, request, ct) => Task.FromResult(new JoinReply(request.Room, Interlocked.Increment(ref calls)))));
        using var client = await host.ConnectAsync("/ws/chat");

        await client.SendTextAsync("""{"event":"room.join","data":{"room":"a","user":"ann"}}""");
        await client.SendTextAsync("""{"event":"room.join","data":{"room":"b","user":"ann"},"id":9}""");

        // The first frame is the reply to the request: the event (handled first, in order) was answered with nothing.
        var data = AssertReply(await ReceiveJsonAsync(client), 9);
        Assert.Equal("b", data.GetProperty("room").GetString());
        Assert.Equal(2, data.GetProperty("members").GetInt32());
        Assert.Equal(2, Volatile.Read(ref calls));
    }

    // ---- 2. Handler parameters -----------------------------------------------------------------------------

    [Fact]
    public async Task Handler_GetsScopedServicesPerMessage_DisposedAfterEach_PlusConnectionAndToken()
    {
        var tokens = new ConcurrentQueue<CancellationToken>();
        var connections = new ConnectionLog();
        await using var host = await StartAsync(
            ns =>
            {
                connections.Attach(ns);
                ns.On("probe", (ISocketConnection socket, ScopedProbe probe, [FromServices] ScopedProbe sameScope, DisposalLog log, CancellationToken ct, Note note) =>
                {
                    tokens.Enqueue(ct);
                    return new ScopeReport(probe.Id, ReferenceEquals(probe, sameScope), socket.Id, log.IsDisposed(probe.Id), ct.IsCancellationRequested);
                });
            },
            services: s =>
            {
                s.AddSingleton<DisposalLog>();
                s.AddScoped<ScopedProbe>();
            });
        var disposals = host.Services.GetRequiredService<DisposalLog>();
        using var client = await host.ConnectAsync("/ws/chat");
        var connection = await connections.NextAsync().DefaultTimeout();

        await client.SendTextAsync("""{"event":"probe","data":{"text":"one"},"id":1}""");
        var first = AssertReply(await ReceiveJsonAsync(client), 1).Deserialize<ScopeReport>(JsonSerializerOptions.Web)!;
        await disposals.WhenDisposed(first.ProbeId).DefaultTimeout();

        await client.SendTextAsync("""{"event":"probe","data":{"text":"two"},"id":2}""");
        var second = AssertReply(await ReceiveJsonAsync(client), 2).Deserialize<ScopeReport>(JsonSerializerOptions.Web)!;
        await disposals.WhenDisposed(second.ProbeId).DefaultTimeout();

        Assert.NotEqual(first.ProbeId, second.ProbeId);
        Assert.All([first, second], report =>
        {
            Assert.True(report.SameInstance, "Two resolutions in one message must share the message's scope.");
            Assert.False(report.DisposedDuringHandler, "The scope must live until the handler returns.");
            Assert.Equal(connection.Id, report.ConnectionId);
            Assert.False(report.TokenCanceled);
        });
        Assert.Equal(2, disposals.Disposed.Count);

        // Each handler's token is canceled when the connection ends.
        Assert.Equal(2, tokens.Count);
        var canceled = tokens.Select(token =>
        {
            var signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            token.UnsafeRegister(static s => ((TaskCompletionSource)s!).TrySetResult(), signal);
            return signal.Task;
        }).ToArray();
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).DefaultTimeout();
        await Task.WhenAll(canceled).DefaultTimeout();
    }

    // ---- 3. Sending from the server ------------------------------------------------------------------------

    [Fact]
    public async Task EmitFromConnectHookAndHandler_ReachesThatConnection()
    {
        await using var host = await StartAsync(ns =>
        {
            ns.OnConnected((socket, ct) => socket.EmitAsync("welcome", new Note($"hi {socket.Id}"), ct).AsTask());
            ns.On<string>("ping", (socket, text, ct) => socket.EmitAsync("pong", new Note(text), ct).AsTask());
        });
        using var client = await host.ConnectAsync("/ws/chat");

        var welcome = AssertEvent(await ReceiveJsonAsync(client), "welcome");
        var id = welcome.GetProperty("text").GetString()!["hi ".Length..];
        Assert.True(host.Registry.TryGetConnection(id, out _));

        await client.SendTextAsync("""{"event":"ping","data":"ball"}""");
        var pong = AssertEvent(await ReceiveJsonAsync(client), "pong");
        Assert.Equal("ball", pong.GetProperty("text").GetString());
    }

    [Fact]
    public async Task RegistryEmitById_DeliversToThatConnectionOnly_AndReturnsFalseForUnknownId()
    {
        var connections = new ConnectionLog();
        await using var host = await StartAsync(connections.Attach);
        using var clientA = await host.ConnectAsync("/ws/chat");
        var a = await connections.NextAsync().DefaultTimeout();
        using var clientB = await host.ConnectAsync("/ws/chat");
        var b = await connections.NextAsync().DefaultTimeout();

        Assert.True(await host.Registry.EmitAsync(b.Id, "direct", new Note("for b")).DefaultTimeout());
        Assert.True(await host.Registry.EmitAsync(a.Id, "marker", new Note("for a")).DefaultTimeout());
        Assert.False(await host.Registry.EmitAsync("no-such-id", "direct", new Note("nobody")).DefaultTimeout());

        Assert.Equal("for b", AssertEvent(await ReceiveJsonAsync(clientB), "direct").GetProperty("text").GetString());

        // A's first frame is its own marker: the direct event did not reach it.
        Assert.Equal("for a", AssertEvent(await ReceiveJsonAsync(clientA), "marker").GetProperty("text").GetString());
    }

    [Fact]
    public async Task NamespaceAudience_ReachesEveryConnectionOfTheNamespace_AndNoOther()
    {
        var chat = new ConnectionLog();
        var lobby = new ConnectionLog();
        await using var host = await StartAsync(chat.Attach, lobby: lobby.Attach);
        using var chat1 = await host.ConnectAsync("/ws/chat");
        await chat.NextAsync().DefaultTimeout();
        using var chat2 = await host.ConnectAsync("/ws/chat");
        await chat.NextAsync().DefaultTimeout();
        using var lobby1 = await host.ConnectAsync("/ws/lobby");
        await lobby.NextAsync().DefaultTimeout();

        await host.Registry.Namespace(Chat).EmitAsync("news", new Note("chat only")).DefaultTimeout();
        await host.Registry.Namespace("no-such-namespace").EmitAsync("news", new Note("nobody")).DefaultTimeout();
        await host.Registry.Namespace(Lobby).EmitAsync("marker", new Note("lobby")).DefaultTimeout();

        Assert.Equal("chat only", AssertEvent(await ReceiveJsonAsync(chat1), "news").GetProperty("text").GetString());
        Assert.Equal("chat only", AssertEvent(await ReceiveJsonAsync(chat2), "news").GetProperty("text").GetString());
        Assert.Equal("lobby", AssertEvent(await ReceiveJsonAsync(lobby1), "marker").GetProperty("text").GetString());
    }

    [Fact]
    public async Task NamespaceAudienceWhere_FiltersBySessionItem()
    {
        var connections = new ConnectionLog();
        await using var host = await StartAsync(ns =>
        {
            ns.OnConnected((socket, ct) =>
            {
                socket.Session.Set("team", socket.Query["team"].ToString());
                return Task.CompletedTask;
            });
            connections.Attach(ns);
        });
        using var red1 = await host.ConnectAsync("/ws/chat?team=red");
        await connections.NextAsync().DefaultTimeout();
        using var blue = await host.ConnectAsync("/ws/chat?team=blue");
        var blueConnection = await connections.NextAsync().DefaultTimeout();
        using var red2 = await host.ConnectAsync("/ws/chat?team=red");
        await connections.NextAsync().DefaultTimeout();

        await host.Registry.Namespace(Chat).Where(c => c.Session.Get<string>("team") == "red").EmitAsync("team.news", new Note("red only")).DefaultTimeout();
        Assert.True(await host.Registry.EmitAsync(blueConnection.Id, "marker", new Note("blue")).DefaultTimeout());

        Assert.Equal("red only", AssertEvent(await ReceiveJsonAsync(red1), "team.news").GetProperty("text").GetString());
        Assert.Equal("red only", AssertEvent(await ReceiveJsonAsync(red2), "team.news").GetProperty("text").GetString());
        Assert.Equal("blue", AssertEvent(await ReceiveJsonAsync(blue), "marker").GetProperty("text").GetString());
    }

    [Fact]
    public async Task Broadcast_ReachesEveryOtherConnectionOfTheNamespace_NotTheSender()
    {
        var chat = new ConnectionLog();
        var lobby = new ConnectionLog();
        await using var host = await StartAsync(
            ns =>
            {
                chat.Attach(ns);
                ns.On<string>("shout", (socket, text, ct) => socket.BroadcastAsync("shouted", new ChatMessage(socket.Id, text), ct).AsTask());
            },
            lobby: lobby.Attach);
        using var sender = await host.ConnectAsync("/ws/chat");
        var senderConnection = await chat.NextAsync().DefaultTimeout();
        using var other1 = await host.ConnectAsync("/ws/chat");
        await chat.NextAsync().DefaultTimeout();
        using var other2 = await host.ConnectAsync("/ws/chat");
        await chat.NextAsync().DefaultTimeout();
        using var lobby1 = await host.ConnectAsync("/ws/lobby");
        await lobby.NextAsync().DefaultTimeout();

        await sender.SendTextAsync("""{"event":"shout","data":"hey all","id":1}""");

        // The broadcast is queued before the reply: had it reached the sender, it would come first.
        Assert.Equal(JsonValueKind.Null, AssertReply(await ReceiveJsonAsync(sender), 1).ValueKind);
        foreach (var other in new[] { other1, other2 })
        {
            var shouted = AssertEvent(await ReceiveJsonAsync(other), "shouted");
            Assert.Equal(senderConnection.Id, shouted.GetProperty("user").GetString());
            Assert.Equal("hey all", shouted.GetProperty("text").GetString());
        }

        await host.Registry.Namespace(Lobby).EmitAsync("marker", new Note("lobby")).DefaultTimeout();
        Assert.Equal("lobby", AssertEvent(await ReceiveJsonAsync(lobby1), "marker").GetProperty("text").GetString());
    }

    // ---- 4. Server-to-client requests ----------------------------------------------------------------------

    [Fact]
    public async Task ServerRequest_ClientReplies_ReturnsTypedValue_MatchedById()
    {
        var connections = new ConnectionLog();
        await using var host = await StartAsync(connections.Attach);
        using var client = await host.ConnectAsync("/ws/chat");
        var connection = await connections.NextAsync().DefaultTimeout();

        var join = connection.RequestAsync<JoinReply>("ask.join", new JoinRequest("lobby", "ann"), TimeSpan.FromSeconds(20));
        var name = connection.RequestAsync<string>("ask.name", null, TimeSpan.FromSeconds(20));

        var (joinId, joinData) = AssertRequest(await ReceiveJsonAsync(client), "ask.join");
        Assert.Equal("lobby", joinData.GetProperty("room").GetString());
        Assert.Equal("ann", joinData.GetProperty("user").GetString());
        var (nameId, nameData) = AssertRequest(await ReceiveJsonAsync(client), "ask.name");
        Assert.Equal(JsonValueKind.Null, nameData.ValueKind);
        Assert.NotEqual(joinId, nameId);

        // Answered out of order: each reply completes its own request.
        await client.SendTextAsync($$$"""{"reply":{{{nameId}}},"data":"ann"}""");
        await client.SendTextAsync($$$"""{"reply":{{{joinId}}},"data":{"room":"lobby","members":4}}""");

        Assert.Equal("ann", await name.DefaultTimeout());
        Assert.Equal(new JoinReply("lobby", 4), await join.DefaultTimeout());
        AssertNothingLoggedAboveWarning(host);
    }

    [Fact]
    public async Task ServerRequest_ClientRepliesWithError_ThrowsSocketRequestExceptionWithItsCode()
    {
        var connections = new ConnectionLog();
        await using var host = await StartAsync(connections.Attach);
        using var client = await host.ConnectAsync("/ws/chat");
        var connection = await connections.NextAsync().DefaultTimeout();

        var asking = connection.RequestAsync<string>("ask", "please", TimeSpan.FromSeconds(20));
        var (id, _) = AssertRequest(await ReceiveJsonAsync(client), "ask");
        await client.SendTextAsync($$$"""{"reply":{{{id}}},"error":{"code":"not_allowed","message":"Ask someone else."}}""");

        var ex = await Assert.ThrowsAsync<SocketRequestException>(() => asking).DefaultTimeout();
        Assert.Equal("not_allowed", ex.Code);
        Assert.Equal("Ask someone else.", ex.Message);
    }

    [Fact]
    public async Task ServerRequest_ReplyThatDoesNotBind_ThrowsSocketRequestExceptionBadData()
    {
        var connections = new ConnectionLog();
        await using var host = await StartAsync(connections.Attach);
        using var client = await host.ConnectAsync("/ws/chat");
        var connection = await connections.NextAsync().DefaultTimeout();

        var asking = connection.RequestAsync<JoinReply>("ask", null, TimeSpan.FromSeconds(20));
        var (id, _) = AssertRequest(await ReceiveJsonAsync(client), "ask");
        await client.SendTextAsync($$$"""{"reply":{{{id}}},"data":{"room":"lobby","members":"many"}}""");

        var ex = await Assert.ThrowsAsync<SocketRequestException>(() => asking).DefaultTimeout();
        Assert.Equal("bad_data", ex.Code);
        await AssertStillServesAsync(client, 1);
    }

    [Fact]
    public async Task ServerRequest_NoReply_ThrowsTimeoutException_AndALateReplyIsUnknown()
    {
        var connections = new ConnectionLog();
        await using var host = await StartAsync(connections.Attach);
        using var client = await host.ConnectAsync("/ws/chat");
        var connection = await connections.NextAsync().DefaultTimeout();

        var asking = connection.RequestAsync<string>("ask", null, TimeSpan.FromMilliseconds(300));
        var (id, _) = AssertRequest(await ReceiveJsonAsync(client), "ask");

        await Assert.ThrowsAsync<TimeoutException>(() => asking).DefaultTimeout();

        await client.SendTextAsync($$$"""{"reply":{{{id}}},"data":"too late"}""");
        AssertNotice(await ReceiveJsonAsync(client), "unknown_reply", id);
        await AssertStillServesAsync(client, 1);
        AssertNothingLoggedAboveWarning(host);
    }

    [Fact]
    public async Task ServerRequest_Canceled_ThrowsOperationCanceledException()
    {
        var connections = new ConnectionLog();
        await using var host = await StartAsync(connections.Attach);
        using var client = await host.ConnectAsync("/ws/chat");
        var connection = await connections.NextAsync().DefaultTimeout();
        using var cts = new CancellationTokenSource();

        var asking = connection.RequestAsync<string>("ask", null, TimeSpan.FromSeconds(20), cts.Token);
        var (id, _) = AssertRequest(await ReceiveJsonAsync(client), "ask");
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => asking).DefaultTimeout();

        // The canceled request no longer waits: its reply is unknown.
        await client.SendTextAsync($$$"""{"reply":{{{id}}},"data":"after cancel"}""");
        AssertNotice(await ReceiveJsonAsync(client), "unknown_reply", id);
    }

    [Fact]
    public async Task ServerRequest_ConnectionClosesWhileWaiting_ThrowsConnectionClosed()
    {
        var connections = new ConnectionLog();
        await using var host = await StartAsync(connections.Attach);
        using var client = await host.ConnectAsync("/ws/chat");
        var connection = await connections.NextAsync().DefaultTimeout();

        var asking = connection.RequestAsync<string>("ask", null, TimeSpan.FromMinutes(2));
        AssertRequest(await ReceiveJsonAsync(client), "ask");
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).DefaultTimeout();

        var ex = await Assert.ThrowsAsync<SocketRequestException>(() => asking).DefaultTimeout();
        Assert.Equal("connection_closed", ex.Code);

        // Once closed, a request fails at once.
        ex = await Assert.ThrowsAsync<SocketRequestException>(() => connection.RequestAsync<string>("ask", null, TimeSpan.FromMinutes(2))).DefaultTimeout();
        Assert.Equal("connection_closed", ex.Code);
    }

    [Fact]
    public async Task ServerRequestFromHandler_ConnectionClosesWhileWaiting_ThrowsConnectionClosed()
    {
        // A handler that does not pass its token on must not keep the closed connection (and its disconnect hooks)
        // waiting for the request's whole timeout.
        var outcome = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var disconnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = await StartAsync(ns =>
        {
            ns.On<string, string>("relay", async (socket, text, ct) =>
            {
                try
                {
                    var answer = await socket.RequestAsync<string>("ask", text, TimeSpan.FromMinutes(2));
                    outcome.TrySetResult(null);
                    return answer;
                }
                catch (Exception ex)
                {
                    outcome.TrySetResult(ex);
                    return "failed";
                }
            });
            ns.OnDisconnected((socket, reason, ct) =>
            {
                disconnected.TrySetResult();
                return Task.CompletedTask;
            });
        });
        using var client = await host.ConnectAsync("/ws/chat");

        await client.SendTextAsync("""{"event":"relay","data":"who?","id":1}""");
        AssertRequest(await ReceiveJsonAsync(client), "ask");
        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).DefaultTimeout();

        var ex = Assert.IsType<SocketRequestException>(await outcome.Task.DefaultTimeout());
        Assert.Equal("connection_closed", ex.Code);
        await disconnected.Task.DefaultTimeout();
    }

    // ---- 5. No deadlock ------------------------------------------------------------------------------------

    [Fact]
    public async Task RequestHandler_AwaitingServerRequestToSameClient_Completes()
    {
        await using var host = await StartAsync(ns =>
            ns.On<string, string>("greet", async (socket, text, ct) =>
                "hello " + await socket.RequestAsync<string>("ask.name", text, TimeSpan.FromSeconds(20), ct)));
        using var client = await host.ConnectAsync("/ws/chat");

        await client.SendTextAsync("""{"event":"greet","data":"who are you?","id":1}""");

        // The server asks while the client's own request is pending; the client answers it.
        var (askId, askData) = AssertRequest(await ReceiveJsonAsync(client), "ask.name");
        Assert.Equal("who are you?", askData.GetString());
        await client.SendTextAsync($$$"""{"reply":{{{askId}}},"data":"ann"}""");

        Assert.Equal("hello ann", AssertReply(await ReceiveJsonAsync(client), 1).GetString());
        await AssertStillServesAsync(client, 2);
    }

    // ---- 6. Ordering ---------------------------------------------------------------------------------------

    [Fact]
    public async Task EventsFromOneConnection_AreHandledOneAtATimeInArrivalOrder()
    {
        var order = new ConcurrentQueue<string>();
        var firstStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var releaseFirst = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var lastDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var connections = new ConnectionLog();
        await using var host = await StartAsync(ns =>
        {
            connections.Attach(ns);
            ns.On<int>("step", async (socket, n, ct) =>
            {
                order.Enqueue($"start {n}");
                if (n == 1)
                {
                    firstStarted.TrySetResult();
                    await releaseFirst.Task;
                }
                else
                {
                    await Task.Yield();
                }

                order.Enqueue($"end {n}");
                if (n == 3)
                {
                    lastDone.TrySetResult();
                }
            });
        });
        using var client = await host.ConnectAsync("/ws/chat");
        var connection = await connections.NextAsync().DefaultTimeout();

        await client.SendTextAsync("""{"event":"step","data":1}""");
        await client.SendTextAsync("""{"event":"step","data":2}""");
        await client.SendTextAsync("""{"event":"step","data":3}""");
        await firstStarted.Task.DefaultTimeout();

        // A barrier: the client's reply is read after events 2 and 3, so once the request completes the server has
        // read both of them while handler 1 still runs.
        var sync = connection.RequestAsync<int>("sync", null, TimeSpan.FromSeconds(20));
        var (syncId, _) = AssertRequest(await ReceiveJsonAsync(client), "sync");
        await client.SendTextAsync($$$"""{"reply":{{{syncId}}},"data":0}""");
        await sync.DefaultTimeout();
        Assert.Equal(["start 1"], order);

        releaseFirst.TrySetResult();
        await lastDone.Task.DefaultTimeout();
        Assert.Equal(["start 1", "end 1", "start 2", "end 2", "start 3", "end 3"], order);
    }

    // ---- 7. Bad input --------------------------------------------------------------------------------------

    [Theory]
    [InlineData("""{"event":"room.join","data":""", "bad_json")]
    [InlineData("not json at all", "bad_json")]
    [InlineData("""{"event":"room.join","data":{"room":"a","user":"b"}} {"event":"room.join"}""", "bad_json")]
    [InlineData("[1,2,3]", "bad_message")]
    [InlineData("\"hello\"", "bad_message")]
    [InlineData("""{"data":{"room":"a","user":"b"}}""", "bad_message")]
    [InlineData("""{"event":"","data":{"room":"a","user":"b"}}""", "bad_message")]
    [InlineData("""{"event":"no.such.event","data":1}""", "unknown_event")]
    [InlineData("""{"event":"room.join","data":{"room":42,"user":"b"}}""", "bad_data")]
    [InlineData("""{"event":"room.join","data":"lobby"}""", "bad_data")]
    public async Task BadMessage_GetsErrorNotice_ErrorHookSeesIt_AndConnectionStaysOpen(string payload, string code)
    {
        var errors = new ErrorLog();
        await using var host = await StartAsync(ns =>
        {
            errors.Attach(ns);
            ns.On<JoinRequest, JoinReply>("room.join", (socket, request, ct) => Task.FromResult(new JoinReply(request.Room, 1)));
        });
        using var client = await host.ConnectAsync("/ws/chat");

        await client.SendTextAsync(payload);

        var notice = AssertNotice(await ReceiveJsonAsync(client), code);
        Assert.False(notice.TryGetProperty("id", out _));
        var error = await errors.NextAsync().DefaultTimeout();
        Assert.Equal(code, error.Code);
        Assert.Null(error.RequestId);

        await AssertStillServesAsync(client, 1);
        Assert.Equal(WebSocketState.Open, client.State);
        AssertNothingLoggedAboveWarning(host);
    }

    [Theory]
    [InlineData("""{"event":"no.such.event","data":1,"id":31}""", "unknown_event", "no.such.event")]
    [InlineData("""{"event":"room.join","data":{"room":42,"user":"b"},"id":31}""", "bad_data", "room.join")]
    [InlineData("""{"event":"room.join","data":null,"id":31}""", "bad_data", "room.join")]
    [InlineData("""{"event":"room.join","id":31}""", "bad_data", "room.join")]
    public async Task BadRequest_GetsErrorReplyWithItsId_AndConnectionStaysOpen(string payload, string code, string eventName)
    {
        var errors = new ErrorLog();
        await using var host = await StartAsync(ns =>
        {
            errors.Attach(ns);
            ns.On<JoinRequest, JoinReply>("room.join", (socket, request, ct) => Task.FromResult(new JoinReply(request.Room, 1)));
        });
        using var client = await host.ConnectAsync("/ws/chat");

        await client.SendTextAsync(payload);

        AssertErrorReply(await ReceiveJsonAsync(client), 31, code);
        var error = await errors.NextAsync().DefaultTimeout();
        Assert.Equal(code, error.Code);
        Assert.Equal(31, error.RequestId);
        Assert.Equal(eventName, error.EventName);

        await AssertStillServesAsync(client, 32);
        AssertNothingLoggedAboveWarning(host);
    }

    [Fact]
    public async Task RequestIdReusedWhileFirstIsPending_GetsDuplicateIdNotice_AndFirstStillGetsItsReply()
    {
        var errors = new ErrorLog();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = new ConcurrentQueue<int>();
        await using var host = await StartAsync(ns =>
        {
            errors.Attach(ns);
            ns.On<int, int>("slow", async (socket, n, ct) =>
            {
                calls.Enqueue(n);
                if (n == 1)
                {
                    started.TrySetResult();
                    await release.Task;
                }

                return n * 10;
            });
        });
        using var client = await host.ConnectAsync("/ws/chat");

        await client.SendTextAsync("""{"event":"slow","data":1,"id":5}""");
        await started.Task.DefaultTimeout();
        await client.SendTextAsync("""{"event":"slow","data":2,"id":5}""");

        AssertNotice(await ReceiveJsonAsync(client), "duplicate_id", 5);
        var error = await errors.NextAsync().DefaultTimeout();
        Assert.Equal("duplicate_id", error.Code);
        Assert.Equal(5, error.RequestId);

        release.TrySetResult();
        Assert.Equal(10, AssertReply(await ReceiveJsonAsync(client), 5).GetInt32());
        await AssertStillServesAsync(client, 6);

        // Once answered, the ID may be used again.
        await client.SendTextAsync("""{"event":"slow","data":3,"id":5}""");
        Assert.Equal(30, AssertReply(await ReceiveJsonAsync(client), 5).GetInt32());
        Assert.Equal([1, 3], calls);
        AssertNothingLoggedAboveWarning(host);
    }

    [Fact]
    public async Task ThrowingHandler_GetsHandlerFailedWithoutDetails_IsLoggedAsError_AndConnectionStaysOpen()
    {
        var errors = new ErrorLog();
        await using var host = await StartAsync(ns =>
        {
            errors.Attach(ns);
            ns.On<string>("boom", (socket, text, ct) => throw new InvalidOperationException("secret detail"));
        });
        using var client = await host.ConnectAsync("/ws/chat");

        await client.SendTextAsync("""{"event":"boom","data":"x"}""");
        var notice = AssertNotice(await ReceiveJsonAsync(client), "handler_failed");
        Assert.DoesNotContain("secret detail", notice.GetProperty("message").GetString(), StringComparison.Ordinal);
        var error = await errors.NextAsync().DefaultTimeout();
        Assert.Equal("handler_failed", error.Code);
        Assert.Equal("boom", error.EventName);
        Assert.IsType<InvalidOperationException>(error.Exception);

        await client.SendTextAsync("""{"event":"boom","data":"x","id":12}""");
        var message = AssertErrorReply(await ReceiveJsonAsync(client), 12, "handler_failed");
        Assert.DoesNotContain("secret detail", message, StringComparison.Ordinal);
        error = await errors.NextAsync().DefaultTimeout();
        Assert.Equal("handler_failed", error.Code);
        Assert.Equal(12, error.RequestId);

        var logged = await host.Logs.WaitForEventAsync("EventHandlerFailed").DefaultTimeout();
        Assert.Equal(LogLevel.Error, logged.Level);
        Assert.IsType<InvalidOperationException>(logged.Exception);

        await AssertStillServesAsync(client, 13);
        AssertNothingLoggedAboveWarning(host, "EventHandlerFailed");
    }

    [Fact]
    public async Task ThrowingHandler_WithDetailedErrors_IncludesExceptionMessage()
    {
        await using var host = await StartAsync(
            ns => ns.On<string>("boom", (socket, text, ct) => throw new InvalidOperationException("visible detail")),
            options: o => o.EnableDetailedErrors = true);
        using var client = await host.ConnectAsync("/ws/chat");

        await client.SendTextAsync("""{"event":"boom","data":"x","id":1}""");
        Assert.Contains("visible detail", AssertErrorReply(await ReceiveJsonAsync(client), 1, "handler_failed"), StringComparison.Ordinal);
        await client.SendTextAsync("""{"event":"boom","data":"x"}""");
        Assert.Contains("visible detail", AssertNotice(await ReceiveJsonAsync(client), "handler_failed").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReplyToUnknownId_GetsUnknownReplyNoticeWithThatId()
    {
        var errors = new ErrorLog();
        await using var host = await StartAsync(errors.Attach);
        using var client = await host.ConnectAsync("/ws/chat");

        await client.SendTextAsync("""{"reply":999,"data":1}""");

        AssertNotice(await ReceiveJsonAsync(client), "unknown_reply", 999);
        var error = await errors.NextAsync().DefaultTimeout();
        Assert.Equal("unknown_reply", error.Code);
        Assert.Equal(999, error.RequestId);
        await AssertStillServesAsync(client, 1);
        AssertNothingLoggedAboveWarning(host);
    }

    [Fact]
    public async Task BinaryFrame_WithoutBinaryHandler_GetsBinaryNotSupported()
    {
        var errors = new ErrorLog();
        await using var host = await StartAsync(errors.Attach);
        using var client = await host.ConnectAsync("/ws/chat");

        await client.SendBinaryAsync([1, 2, 3]);

        AssertNotice(await ReceiveJsonAsync(client), "binary_not_supported");
        Assert.Equal("binary_not_supported", (await errors.NextAsync().DefaultTimeout()).Code);
        await AssertStillServesAsync(client, 1);
        AssertNothingLoggedAboveWarning(host);
    }

    [Fact]
    public async Task BinaryFrame_WithBinaryHandler_IsEchoedAsBinary()
    {
        await using var host = await StartAsync(ns => ns.OnBinary((byte[] bytes) => bytes));
        using var client = await host.ConnectAsync("/ws/chat");

        await client.SendBinaryAsync([1, 2, 3]);

        var echo = await client.ReceiveMessageAsync();
        Assert.Equal(WebSocketMessageType.Binary, echo.Type);
        Assert.Equal([1, 2, 3], echo.Data);
        await AssertStillServesAsync(client, 1);
        AssertNothingLoggedAboveWarning(host);
    }

    [Fact]
    public async Task BinaryFrame_WhileHandlerAwaitsServerRequest_DoesNotBlockTheReply_AndKeepsOrder()
    {
        // The client's reply follows a binary frame: reading must go on while the handler waits for that reply.
        await using var host = await StartAsync(ns =>
        {
            ns.On<string, string>("greet", async (socket, text, ct) =>
                "hello " + await socket.RequestAsync<string>("ask.name", text, TimeSpan.FromSeconds(10), ct));
            ns.OnBinary((byte[] bytes) => bytes);
        });
        using var client = await host.ConnectAsync("/ws/chat");

        await client.SendTextAsync("""{"event":"greet","data":"who?","id":1}""");
        var (askId, _) = AssertRequest(await ReceiveJsonAsync(client), "ask.name");
        await client.SendBinaryAsync([4, 5, 6]);
        await client.SendTextAsync($$$"""{"reply":{{{askId}}},"data":"ann"}""");

        // The binary frame is handled after the request that arrived before it.
        Assert.Equal("hello ann", AssertReply(await ReceiveJsonAsync(client), 1).GetString());
        var echo = await client.ReceiveMessageAsync();
        Assert.Equal(WebSocketMessageType.Binary, echo.Type);
        Assert.Equal([4, 5, 6], echo.Data);
        await AssertStillServesAsync(client, 2);
        AssertNothingLoggedAboveWarning(host);
    }

    // ---- 8. Batching ---------------------------------------------------------------------------------------

    [Fact]
    public async Task Batch_MaxItemsReached_SendsOneBatchInOrder_AtOnce()
    {
        var connections = new ConnectionLog();
        await using var host = await StartAsync(ns =>
        {
            connections.Attach(ns);
            ns.UseBatch("price.tick", TimeSpan.FromHours(1), maxItems: 5); // only maxItems can send it
        });
        using var client = await host.ConnectAsync("/ws/chat");
        var connection = await connections.NextAsync().DefaultTimeout();

        for (var price = 1; price <= 7; price++)
        {
            await connection.EmitAsync("price.tick", new Tick("ACME", price)).DefaultTimeout();
        }

        await connection.EmitAsync("marker", new Note("after ticks")).DefaultTimeout();

        var batch = AssertEvent(await ReceiveJsonAsync(client), "batch_price.tick");
        Assert.Equal(new[] { 1, 2, 3, 4, 5 }, Prices(batch));
        Assert.All(batch.EnumerateArray(), t => Assert.Equal("ACME", t.GetProperty("symbol").GetString()));

        // Ticks 6 and 7 wait for the next batch; no single tick was sent on its own.
        AssertEvent(await ReceiveJsonAsync(client), "marker");
    }

    [Fact]
    public async Task Batch_FewerThanMaxItems_ArrivesAfterTheInterval()
    {
        var connections = new ConnectionLog();
        await using var host = await StartAsync(ns =>
        {
            connections.Attach(ns);
            ns.UseBatch("price.tick", TimeSpan.FromMilliseconds(500), maxItems: 5);
        });
        using var client = await host.ConnectAsync("/ws/chat");
        var connection = await connections.NextAsync().DefaultTimeout();

        // Every way of emitting joins the same per-connection batch.
        await connection.EmitAsync("price.tick", new Tick("ACME", 1)).DefaultTimeout();
        await host.Registry.Namespace(Chat).EmitAsync("price.tick", new Tick("ACME", 2)).DefaultTimeout();
        Assert.True(await host.Registry.EmitAsync(connection.Id, "price.tick", new Tick("ACME", 3)).DefaultTimeout());
        await connection.EmitAsync("marker", new Note("sent at once")).DefaultTimeout();

        AssertEvent(await ReceiveJsonAsync(client), "marker");
        Assert.Equal(new[] { 1, 2, 3 }, Prices(AssertEvent(await ReceiveJsonAsync(client), "batch_price.tick")));

        // The next item starts a new interval.
        await connection.EmitAsync("price.tick", new Tick("ACME", 4)).DefaultTimeout();
        Assert.Equal(new[] { 4 }, Prices(AssertEvent(await ReceiveJsonAsync(client), "batch_price.tick")));
    }

    [Fact]
    public async Task Batch_ServerClosesConnection_BatchArrivesBeforeCloseFrame()
    {
        var connections = new ConnectionLog();
        await using var host = await StartAsync(ns =>
        {
            connections.Attach(ns);
            ns.UseBatch("price.tick", TimeSpan.FromHours(1), maxItems: 100); // only the flush on close can send it
        });
        using var client = await host.ConnectAsync("/ws/chat");
        var connection = await connections.NextAsync().DefaultTimeout();

        for (var price = 1; price <= 3; price++)
        {
            await connection.EmitAsync("price.tick", new Tick("ACME", price)).DefaultTimeout();
        }

        var closing = connection.CloseAsync();

        Assert.Equal(new[] { 1, 2, 3 }, Prices(AssertEvent(await ReceiveJsonAsync(client), "batch_price.tick")));
        var close = await client.ReceiveMessageAsync();
        Assert.Equal(WebSocketMessageType.Close, close.Type);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, client.CloseStatus);
        await client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).DefaultTimeout();
        await closing.DefaultTimeout();
    }

    [Fact]
    public async Task Batch_HostStops_BatchArrivesBeforeGoingAwayClose()
    {
        var connections = new ConnectionLog();
        await using var host = await StartAsync(ns =>
        {
            connections.Attach(ns);
            ns.UseBatch("price.tick", TimeSpan.FromHours(1), maxItems: 100);
        });
        using var client = await host.ConnectAsync("/ws/chat");
        var connection = await connections.NextAsync().DefaultTimeout();

        await connection.EmitAsync("price.tick", new Tick("ACME", 1)).DefaultTimeout();
        await host.Registry.Namespace(Chat).EmitAsync("price.tick", new Tick("ACME", 2)).DefaultTimeout();

        var stopping = host.StopAsync();

        Assert.Equal(new[] { 1, 2 }, Prices(AssertEvent(await ReceiveJsonAsync(client), "batch_price.tick")));
        var close = await client.ReceiveMessageAsync();
        Assert.Equal(WebSocketMessageType.Close, close.Type);
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, client.CloseStatus);
        await client.CloseOutputAsync(WebSocketCloseStatus.EndpointUnavailable, null, CancellationToken.None).DefaultTimeout();
        await stopping.DefaultTimeout();
    }

    // ---- 9. Source-generated JSON --------------------------------------------------------------------------

    [Fact]
    public async Task SourceGeneratedJsonContext_BindsEventData_AndSerializesRepliesEmitsAndRequests()
    {
        var received = new TaskCompletionSource<ChatMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        var connections = new ConnectionLog();
        await using var host = await StartAsync(
            ns =>
            {
                connections.Attach(ns);
                ns.On<ChatMessage>("chat.send", (socket, msg, ct) =>
                {
                    received.TrySetResult(msg);
                    return Task.CompletedTask;
                });
                ns.On<JoinRequest, JoinReply>("room.join", (socket, request, ct) => Task.FromResult(new JoinReply(request.Room, 2)));
            },
            options: o => o.JsonSerializerOptions = new JsonSerializerOptions(JsonSerializerDefaults.Web) { TypeInfoResolver = ProtocolJsonContext.Default });
        using var client = await host.ConnectAsync("/ws/chat");
        var connection = await connections.NextAsync().DefaultTimeout();

        await client.SendTextAsync("""{"event":"chat.send","data":{"user":"ann","text":"generated"}}""");
        Assert.Equal(new ChatMessage("ann", "generated"), await received.Task.DefaultTimeout());

        await client.SendTextAsync("""{"event":"room.join","data":{"room":"lobby","user":"ann"},"id":1}""");
        var reply = AssertReply(await ReceiveJsonAsync(client), 1);
        Assert.Equal("lobby", reply.GetProperty("room").GetString());
        Assert.Equal(2, reply.GetProperty("members").GetInt32());

        // The configured resolver is the only one: a type it does not know fails where it is emitted, and the
        // failure leaves nothing half-written behind for the next frame.
        Assert.Throws<NotSupportedException>(() => Emit(connection, "unregistered", new Unregistered(1)));
        await connection.EmitAsync("price.tick", new Tick("ACME", 7)).DefaultTimeout();
        var tick = AssertEvent(await ReceiveJsonAsync(client), "price.tick");
        Assert.Equal("ACME", tick.GetProperty("symbol").GetString());
        Assert.Equal(7, tick.GetProperty("price").GetInt32());

        var asking = connection.RequestAsync<JoinReply>("ask", new JoinRequest("lobby", "bob"), TimeSpan.FromSeconds(20));
        var (id, data) = AssertRequest(await ReceiveJsonAsync(client), "ask");
        Assert.Equal("bob", data.GetProperty("user").GetString());
        await client.SendTextAsync($$$"""{"reply":{{{id}}},"data":{"room":"lobby","members":3}}""");
        Assert.Equal(new JoinReply("lobby", 3), await asking.DefaultTimeout());

        AssertNothingLoggedAboveWarning(host);

        static void Emit<T>(ISocketConnection connection, string eventName, T data)
        {
            var emitting = connection.EmitAsync(eventName, data);
            emitting.AsTask().GetAwaiter().GetResult();
        }
    }

    // ---- Helpers -------------------------------------------------------------------------------------------

    /// <summary>A host with namespaces "chat" (/ws/chat) and "lobby" (/ws/lobby), each with an "echo" request handler.</summary>
    [Fact]
    public async Task ClientFloodsEventsWhileHandlerAwaitsItsReply_ExtraEventsGetBusy_AndTheReplyStillGetsThrough()
    {
        // A blocked read pump would never read the reply the running handler awaits: over the limit, messages are
        // refused with "busy" instead, and reading goes on.
        var notes = new ConcurrentQueue<string>();
        var allNotes = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        const int sent = 40;
        const int limit = WebSockets.Internal.SocketConnection.MaxQueuedInvocations;
        await using var host = await StartAsync(ns => ns
            .On("ask", (ISocketConnection socket, CancellationToken ct) => socket.RequestAsync<string>("confirm", null, TimeSpan.FromSeconds(20), ct))
            .On("note", (string text) =>
            {
                notes.Enqueue(text);
                if (notes.Count == limit)
                {
                    allNotes.TrySetResult();
                }
            }));
        using var client = await host.ConnectAsync("/ws/chat");

        await client.SendTextAsync("""{"event":"ask","id":1}""");
        var askFrame = await ReceiveJsonAsync(client);
        Assert.Equal("confirm", askFrame.GetProperty("event").GetString());
        var askId = askFrame.GetProperty("id").GetInt64();
        for (var i = 0; i < sent; i++)
        {
            await client.SendTextAsync($$$"""{"event":"note","data":"n{{{i}}}"}""");
        }

        await client.SendTextAsync($$$"""{"reply":{{{askId}}},"data":"yes"}""");

        for (var i = 0; i < sent - limit; i++)
        {
            var notice = AssertEvent(await ReceiveJsonAsync(client), "error");
            Assert.Equal("busy", notice.GetProperty("code").GetString());
        }

        Assert.Equal("yes", AssertReply(await ReceiveJsonAsync(client), 1).GetString());
        await allNotes.Task.DefaultTimeout();
        Assert.Equal(Enumerable.Range(0, limit).Select(i => $"n{i}"), notes);
        await AssertStillServesAsync(client, 2);
    }

    public sealed record Stamp(int Value);

    /// <summary>Writes a <see cref="Stamp"/> with the number of this very call, so a second serialization shows.</summary>
    private sealed class CountingStampConverter : JsonConverter<Stamp>
    {
        private int _writes;

        public int Writes => Volatile.Read(ref _writes);

        public override Stamp Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => throw new NotSupportedException();

        public override void Write(Utf8JsonWriter writer, Stamp value, JsonSerializerOptions options)
        {
            var call = Interlocked.Increment(ref _writes);
            writer.WriteStartObject();
            writer.WriteNumber("value", value.Value);
            writer.WriteNumber("serialization", call);
            writer.WriteEndObject();
        }
    }

    [Fact]
    public async Task NamespaceEmit_SerializesTheEventOnce_ForEveryRecipient()
    {
        var converter = new CountingStampConverter();
        var connected = 0;
        var allConnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = await StartAsync(
            ns => ns.OnConnected((_, _) =>
            {
                if (Interlocked.Increment(ref connected) == 3)
                {
                    allConnected.TrySetResult();
                }

                return Task.CompletedTask;
            }),
            o => o.JsonSerializerOptions.Converters.Add(converter));
        using var a = await host.ConnectAsync("/ws/chat");
        using var b = await host.ConnectAsync("/ws/chat");
        using var c = await host.ConnectAsync("/ws/chat");
        await allConnected.Task.DefaultTimeout();

        await host.Registry.Namespace(Chat).EmitAsync("stamp", new Stamp(7)).DefaultTimeout();

        foreach (var client in new[] { a, b, c })
        {
            Assert.Equal("""{"event":"stamp","data":{"value":7,"serialization":1}}""", (await client.ReceiveMessageAsync()).Text);
        }

        Assert.Equal(1, converter.Writes);
    }

    [Fact]
    public async Task BinaryHandler_CanAwaitARequestToItsClient_WithoutBlockingTheReply()
    {
        await using var host = await StartAsync(ns => ns.OnBinary(async (byte[] data, ISocketConnection socket, CancellationToken ct) =>
        {
            var answer = await socket.RequestAsync<string>("confirm", null, TimeSpan.FromSeconds(20), ct);
            return System.Text.Encoding.UTF8.GetBytes($"{answer}:{data.Length}");
        }));
        using var client = await host.ConnectAsync("/ws/chat");

        await client.SendBinaryAsync([1, 2, 3]);
        var ask = await ReceiveJsonAsync(client);
        Assert.Equal("confirm", ask.GetProperty("event").GetString());
        await client.SendTextAsync($$$"""{"reply":{{{ask.GetProperty("id").GetInt64()}}},"data":"yes"}""");

        var reply = await client.ReceiveMessageAsync();
        Assert.Equal(WebSocketMessageType.Binary, reply.Type);
        Assert.Equal("yes:3", reply.Text);
    }

    [Fact]
    public async Task BinaryHandlerWhoseResultCannotBeSent_GetsHandlerFailed_AndLaterMessagesStillRun()
    {
        // Regression: a failure after the binary handler returned used to break the connection's handler chain.
        await using var host = await StartAsync(ns => ns.OnBinary((byte[] data) => new Unserializable()));
        using var client = await host.ConnectAsync("/ws/chat");

        for (var i = 0; i < 3; i++)
        {
            await client.SendBinaryAsync([9]);
            var notice = AssertEvent(await ReceiveJsonAsync(client), "error");
            Assert.Equal("handler_failed", notice.GetProperty("code").GetString());
        }

        await AssertStillServesAsync(client, 1);
    }

    /// <summary>A result System.Text.Json refuses to serialize.</summary>
    public sealed class Unserializable
    {
        public IntPtr Pointer { get; } = IntPtr.Zero;

        public Action Callback { get; } = () => { };
    }

    private static Task<TestHost> StartAsync(
        Action<SocketNamespaceBuilder> configure,
        Action<SocketRegistryOptions>? options = null,
        Action<IServiceCollection>? services = null,
        Action<SocketNamespaceBuilder>? lobby = null)
        => TestHost.StartAsync(
            s =>
            {
                s.AddSocketRegistry(options)
                    .AddNamespace(Chat, ns =>
                    {
                        AddEcho(ns);
                        configure(ns);
                    })
                    .AddNamespace(Lobby, ns =>
                    {
                        AddEcho(ns);
                        lobby?.Invoke(ns);
                    });
                services?.Invoke(s);
            },
            app =>
            {
                app.MapWebSocketEndpoint("/ws/chat", Chat);
                app.MapWebSocketEndpoint("/ws/lobby", Lobby);
            });

    private static void AddEcho(SocketNamespaceBuilder ns)
        => ns.On<string, string>("echo", (socket, text, ct) => Task.FromResult(text));

    /// <summary>Proves the connection still serves requests: the next frame is the echo reply to this one.</summary>
    private static async Task AssertStillServesAsync(WebSocket client, long id)
    {
        await client.SendTextAsync($$$"""{"event":"echo","data":"still here","id":{{{id}}}}""");
        Assert.Equal("still here", AssertReply(await ReceiveJsonAsync(client), id).GetString());
        Assert.Equal(WebSocketState.Open, client.State);
    }

    private static async Task<JsonElement> ReceiveJsonAsync(WebSocket client)
    {
        var message = await client.ReceiveMessageAsync();
        Assert.True(message.Type == WebSocketMessageType.Text, $"Expected a text frame, got {message.Type} ({client.CloseStatus} {client.CloseStatusDescription}).");
        return message.Json;
    }

    /// <summary>Asserts {"event":name,"data":…} and returns the data.</summary>
    private static JsonElement AssertEvent(JsonElement frame, string eventName)
    {
        Assert.Equal(eventName, frame.GetProperty("event").GetString());
        Assert.False(frame.TryGetProperty("id", out _));
        return frame.GetProperty("data");
    }

    /// <summary>Asserts a server request {"event":name,"data":…,"id":n} and returns its ID and data.</summary>
    private static (long Id, JsonElement Data) AssertRequest(JsonElement frame, string eventName)
    {
        Assert.Equal(eventName, frame.GetProperty("event").GetString());
        var id = frame.GetProperty("id").GetInt64();
        Assert.True(id > 0, $"Request IDs are positive; got {id}.");
        return (id, frame.GetProperty("data"));
    }

    /// <summary>Asserts {"reply":id,"data":…} and returns the data.</summary>
    private static JsonElement AssertReply(JsonElement frame, long id)
    {
        Assert.True(frame.TryGetProperty("reply", out var reply), $"Expected a reply, got {frame}.");
        Assert.Equal(id, reply.GetInt64());
        Assert.False(frame.TryGetProperty("error", out _), $"Expected a successful reply, got {frame}.");
        return frame.GetProperty("data");
    }

    /// <summary>Asserts {"reply":id,"error":{"code":code,"message":…}} and returns the message.</summary>
    private static string AssertErrorReply(JsonElement frame, long id, string code)
    {
        Assert.True(frame.TryGetProperty("reply", out var reply), $"Expected an error reply, got {frame}.");
        Assert.Equal(id, reply.GetInt64());
        Assert.False(frame.TryGetProperty("data", out _));
        var error = frame.GetProperty("error");
        Assert.Equal(code, error.GetProperty("code").GetString());
        var message = error.GetProperty("message").GetString();
        Assert.False(string.IsNullOrEmpty(message));
        return message;
    }

    /// <summary>Asserts {"event":"error","data":{"code":code,"message":…[,"id":id]}} and returns the data.</summary>
    private static JsonElement AssertNotice(JsonElement frame, string code, long? id = null)
    {
        Assert.Equal("error", frame.GetProperty("event").GetString());
        Assert.False(frame.TryGetProperty("reply", out _));
        var data = frame.GetProperty("data");
        Assert.Equal(code, data.GetProperty("code").GetString());
        Assert.False(string.IsNullOrEmpty(data.GetProperty("message").GetString()));
        if (id is { } expected)
        {
            Assert.Equal(expected, data.GetProperty("id").GetInt64());
        }

        return data;
    }

    private static int[] Prices(JsonElement batch) => [.. batch.EnumerateArray().Select(t => t.GetProperty("price").GetInt32())];

    /// <summary>Nothing from the library logged above Warning, except the named events.</summary>
    private static void AssertNothingLoggedAboveWarning(TestHost host, params string[] allowedEventNames)
        => Assert.Empty(host.Logs.Records
            .Where(r => r.Category.StartsWith("WebSockets", StringComparison.Ordinal) && r.Level > LogLevel.Warning && !allowedEventNames.Contains(r.EventId.Name))
            .Select(r => $"{r.Level} {r.Category} {r.EventId.Name}: {r.Message} {r.Exception}"));

    /// <summary>Records the connections of a namespace; a connection is registered by the time its hook runs.</summary>
    private sealed class ConnectionLog
    {
        private readonly Channel<ISocketConnection> _connected = Channel.CreateUnbounded<ISocketConnection>();

        public void Attach(SocketNamespaceBuilder ns) => ns.OnConnected((connection, ct) =>
        {
            _connected.Writer.TryWrite(connection);
            return Task.CompletedTask;
        });

        public Task<ISocketConnection> NextAsync() => _connected.Reader.ReadAsync().AsTask();
    }

    /// <summary>Records what a namespace's error hook sees.</summary>
    private sealed class ErrorLog
    {
        private readonly Channel<SocketEventError> _errors = Channel.CreateUnbounded<SocketEventError>();

        public void Attach(SocketNamespaceBuilder ns) => ns.OnError((connection, error, ct) =>
        {
            _errors.Writer.TryWrite(error);
            return Task.CompletedTask;
        });

        public Task<SocketEventError> NextAsync() => _errors.Reader.ReadAsync().AsTask();
    }
}
