using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.WebSockets;
using System.Security.Claims;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using WebSockets.Internal;
using WebSockets.Tests.Infrastructure;

namespace WebSockets.Tests;

/// <summary>
/// The life of a connection: namespace hooks, the registry's view, connection IDs, what the connection exposes of
/// its upgrade request, session items, idle and keep-alive timeouts, and the graceful shutdown drain.
/// </summary>
public sealed partial class LifecycleTests
{
    private const string Chat = "chat";
    private const string Default = SocketRegistryOptions.DefaultNamespace;

    // ---- 1. Connect and disconnect hooks per namespace -----------------------------------------------------

    [Fact]
    public async Task CleanClientClose_RunsNamespaceHooksOnceWithClientClosedAndClientCloseStatus()
    {
        var chat = new HookRecorder();
        await using var host = await TestHost.StartAsync(
            s => s.AddSocketRegistry().AddNamespace(Chat, chat.Attach),
            app => app.MapWebSocketEndpoint("/ws/chat", o => o.Namespace = Chat));

        using var client = await host.ConnectAsync("/ws/chat");
        var connected = await chat.NextConnectedAsync().DefaultTimeout();
        Assert.Equal(Chat, connected.Namespace);
        Assert.False(string.IsNullOrEmpty(connected.Id));
        Assert.True(connected.IsOpen);
        Assert.Null(connected.CloseStatus);

        await client.CloseAsync((WebSocketCloseStatus)4000, "bye", CancellationToken.None).DefaultTimeout();

        var disconnected = await chat.NextDisconnectedAsync().DefaultTimeout();
        Assert.Same(connected, disconnected.Connection);
        Assert.Equal(DisconnectReason.ClientClosed, disconnected.Reason);
        Assert.Equal((WebSocketCloseStatus)4000, disconnected.CloseStatus);
        Assert.Equal("bye", disconnected.CloseStatusDescription);

        // Completion is set only after every disconnect hook has run: nothing can call the hooks again after it.
        await Completion(connected).DefaultTimeout();
        Assert.Equal(1, chat.ConnectedCount(connected.Id));
        Assert.Equal(1, chat.DisconnectedCount(connected.Id));
        Assert.False(connected.IsOpen);
        Assert.True(connected.ConnectionClosed.IsCancellationRequested);
        Assert.Equal((WebSocketCloseStatus)4000, client.CloseStatus); // the server answered the close with the client's code
    }

    [Fact]
    public async Task EndpointWithoutNamespace_JoinsDefaultNamespaceAndRunsOnlyItsHooks()
    {
        var defaults = new HookRecorder();
        var chat = new HookRecorder();
        await using var host = await TestHost.StartAsync(
            s => s.AddSocketRegistry().AddNamespace(Default, defaults.Attach).AddNamespace(Chat, chat.Attach),
            app =>
            {
                app.MapWebSocketEndpoint("/ws", o => { });
                app.MapWebSocketEndpoint("/ws/chat", o => o.Namespace = Chat);
            });

        using var client = await host.ConnectAsync("/ws");
        var connected = await defaults.NextConnectedAsync().DefaultTimeout();
        Assert.Equal("default", connected.Namespace);
        Assert.Equal(1, host.Registry.GetCount(Default));
        Assert.Equal(0, host.Registry.GetCount(Chat));

        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).DefaultTimeout();
        var disconnected = await defaults.NextDisconnectedAsync().DefaultTimeout();
        Assert.Same(connected, disconnected.Connection);
        Assert.Equal(DisconnectReason.ClientClosed, disconnected.Reason);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, disconnected.CloseStatus);

        await Completion(connected).DefaultTimeout();
        Assert.Equal(1, defaults.DisconnectedCount(connected.Id));
        Assert.Equal(0, chat.TotalConnected);
        Assert.Equal(0, chat.TotalDisconnected);
    }

    [Fact]
    public async Task ConnectHook_MessageItSendsArrivesBeforeAnyReply()
    {
        await using var host = await TestHost.StartAsync(
            s => s.AddSocketRegistry().AddNamespace(Default, ns => ns.OnConnected((c, ct) => c.SendAsync($"welcome {c.Id}", ct).AsTask())),
            app => app.MapWebSocketEndpoint("/ws", (string message) => $"echo {message}"));

        using var client = await host.ConnectAsync("/ws");
        await client.SendTextAsync("hi");

        var welcome = await client.ReceiveTextAsync();
        Assert.StartsWith("welcome ", welcome, StringComparison.Ordinal);
        var id = welcome["welcome ".Length..];
        Assert.True(host.Registry.TryGetConnection(id, out _));
        Assert.Equal("echo hi", await client.ReceiveTextAsync());
    }

    // ---- 2. Abrupt disconnect ------------------------------------------------------------------------------

    [Fact]
    public async Task ClientTcpReset_RunsDisconnectHookOnceWithConnectionLostAndLeavesRegistry()
    {
        var chat = new HookRecorder();
        await using var host = await TestHost.StartAsync(
            s => s.AddSocketRegistry().AddNamespace(Chat, chat.Attach),
            app => app.MapWebSocketEndpoint("/ws/chat", o => o.Namespace = Chat));

        await using var raw = await host.ConnectRawAsync("/ws/chat");
        var connected = await chat.NextConnectedAsync().DefaultTimeout();
        Assert.True(host.Registry.TryGetConnection(connected.Id, out _));

        raw.Reset();

        var disconnected = await chat.NextDisconnectedAsync().DefaultTimeout();
        Assert.Same(connected, disconnected.Connection);
        Assert.Equal(DisconnectReason.ConnectionLost, disconnected.Reason);
        Assert.Null(disconnected.CloseStatus);

        // The connection leaves the registry before its disconnect hooks run.
        Assert.Equal(0, host.Registry.Count);
        Assert.Equal(0, host.Registry.GetCount(Chat));
        Assert.False(host.Registry.TryGetConnection(connected.Id, out _));
        Assert.Empty(host.Registry.GetConnections());
        Assert.False(await host.Registry.SendAsync(connected.Id, SocketMessage.Text("too late")).DefaultTimeout());

        await Completion(connected).DefaultTimeout();
        Assert.Equal(1, chat.DisconnectedCount(connected.Id));
    }

    // ---- 3. Registry view ----------------------------------------------------------------------------------

    [Fact]
    public async Task Registry_ListsExactlyTheLiveConnectionsPerNamespaceAndForgetsClosedOnes()
    {
        var defaults = new HookRecorder();
        var chat = new HookRecorder();
        await using var host = await TestHost.StartAsync(
            s => s.AddSocketRegistry().AddNamespace(Default, defaults.Attach).AddNamespace(Chat, chat.Attach),
            app =>
            {
                app.MapWebSocketEndpoint("/ws", o => { });
                app.MapWebSocketEndpoint("/ws/chat", o => o.Namespace = Chat);
            });
        var registry = host.Registry;

        using var chatClient1 = await host.ConnectAsync("/ws/chat");
        var chat1 = await chat.NextConnectedAsync().DefaultTimeout();
        using var chatClient2 = await host.ConnectAsync("/ws/chat");
        var chat2 = await chat.NextConnectedAsync().DefaultTimeout();
        using var defaultClient = await host.ConnectAsync("/ws");
        var default1 = await defaults.NextConnectedAsync().DefaultTimeout();

        Assert.Equal(3, registry.Count);
        Assert.Equal(2, registry.GetCount(Chat));
        Assert.Equal(1, registry.GetCount(Default));
        Assert.Equal(0, registry.GetCount("no-such-namespace"));
        Assert.Equal(Ids(chat1, chat2), Ids(registry.GetConnections(Chat)));
        Assert.Equal(Ids(default1), Ids(registry.GetConnections(Default)));
        Assert.Equal(Ids(chat1, chat2, default1), Ids(registry.GetConnections()));
        Assert.Empty(registry.GetConnections("no-such-namespace"));

        Assert.True(registry.TryGetConnection(chat1.Id, out var found));
        Assert.Same(chat1, found);
        Assert.Equal(Chat, found.Namespace);
        Assert.True(registry.TryGetConnection(default1.Id, out found));
        Assert.Same(default1, found);
        Assert.False(registry.TryGetConnection("no-such-id", out _));

        // Sending by ID reaches that connection only.
        Assert.True(await registry.SendAsync(chat2.Id, SocketMessage.Text("for chat2")).DefaultTimeout());
        Assert.Equal("for chat2", await chatClient2.ReceiveTextAsync());

        await chatClient1.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).DefaultTimeout();
        var left = await chat.NextDisconnectedAsync().DefaultTimeout();
        Assert.Same(chat1, left.Connection);

        Assert.Equal(2, registry.Count);
        Assert.Equal(1, registry.GetCount(Chat));
        Assert.Equal(Ids(chat2), Ids(registry.GetConnections(Chat)));
        Assert.Equal(Ids(chat2, default1), Ids(registry.GetConnections()));
        Assert.False(registry.TryGetConnection(chat1.Id, out _));
        Assert.False(await registry.SendAsync(chat1.Id, SocketMessage.Text("gone")).DefaultTimeout());
        Assert.True(registry.TryGetConnection(chat2.Id, out _));
    }

    // ---- 4. A connect hook that throws ---------------------------------------------------------------------

    [Fact]
    public async Task ThrowingConnectHook_IsLoggedAndClosesOnlyThatConnectionWith1011()
    {
        var chat = new HookRecorder
        {
            OnConnected = (c, ct) => c.Query["fail"] == "1" ? throw new InvalidOperationException("connect hook failed on purpose") : Task.CompletedTask,
        };
        await using var host = await TestHost.StartAsync(
            s => s.AddSocketRegistry().AddNamespace(Chat, chat.Attach),
            app =>
            {
                app.MapWebSocketEndpoint("/ws/chat", (string message) => message, o => o.Namespace = Chat);
                app.MapWebSocketEndpoint("/ws/echo", (string message) => message);
            });

        using var healthy = await host.ConnectAsync("/ws/chat");
        var healthyConnection = await chat.NextConnectedAsync().DefaultTimeout();
        using var echo = await host.ConnectAsync("/ws/echo");
        await echo.SendTextAsync("before");
        Assert.Equal("before", await echo.ReceiveTextAsync());

        using var failing = await host.ConnectAsync("/ws/chat?fail=1");
        var failingConnection = await chat.NextConnectedAsync().DefaultTimeout();

        Assert.Equal(WebSocketCloseStatus.InternalServerError, await failing.ReceiveCloseAsync());

        var log = await host.Logs.WaitForEventAsync("ConnectedHookFailed").DefaultTimeout();
        Assert.Contains(failingConnection.Id, log.Message, StringComparison.Ordinal);
        var exception = Assert.IsType<InvalidOperationException>(log.Exception);
        Assert.Equal("connect hook failed on purpose", exception.Message);

        var disconnected = await chat.NextDisconnectedAsync().DefaultTimeout();
        Assert.Same(failingConnection, disconnected.Connection);
        Assert.Equal(DisconnectReason.HookFailed, disconnected.Reason);
        Assert.Equal(WebSocketCloseStatus.InternalServerError, disconnected.CloseStatus);
        await Completion(failingConnection).DefaultTimeout();
        Assert.Equal(1, chat.DisconnectedCount(failingConnection.Id));

        // The other connections, in the same namespace and elsewhere, are untouched.
        Assert.True(healthyConnection.IsOpen);
        Assert.True(host.Registry.TryGetConnection(healthyConnection.Id, out _));
        Assert.Equal(1, host.Registry.GetCount(Chat));
        await healthy.SendTextAsync("still here");
        Assert.Equal("still here", await healthy.ReceiveTextAsync());
        await echo.SendTextAsync("after");
        Assert.Equal("after", await echo.ReceiveTextAsync());
        Assert.Equal(0, chat.DisconnectedCount(healthyConnection.Id));
    }

    // ---- 5. A disconnect hook that throws ------------------------------------------------------------------

    [Fact]
    public async Task ThrowingDisconnectHook_IsLoggedAndLaterHooksAndNewConnectionsStillRun()
    {
        var recorder = new HookRecorder();
        await using var host = await TestHost.StartAsync(
            s => s.AddSocketRegistry().AddNamespace(Default, ns =>
            {
                ns.OnDisconnected((c, reason, ct) => throw new InvalidOperationException("disconnect hook failed on purpose"));
                recorder.Attach(ns);
            }),
            app => app.MapWebSocketEndpoint("/ws", (string message) => message));

        using (var first = await host.ConnectAsync("/ws"))
        {
            var firstConnection = await recorder.NextConnectedAsync().DefaultTimeout();
            await first.SendTextAsync("one");
            Assert.Equal("one", await first.ReceiveTextAsync());
            await first.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).DefaultTimeout();

            var log = await host.Logs.WaitForEventAsync("DisconnectedHookFailed").DefaultTimeout();
            Assert.Contains(firstConnection.Id, log.Message, StringComparison.Ordinal);
            Assert.Equal("disconnect hook failed on purpose", Assert.IsType<InvalidOperationException>(log.Exception).Message);

            // The hook added after the failing one still runs, once.
            var disconnected = await recorder.NextDisconnectedAsync().DefaultTimeout();
            Assert.Same(firstConnection, disconnected.Connection);
            Assert.Equal(DisconnectReason.ClientClosed, disconnected.Reason);
            await Completion(firstConnection).DefaultTimeout();
            Assert.Equal(1, recorder.DisconnectedCount(firstConnection.Id));
            Assert.Equal(0, host.Registry.Count);
        }

        using var second = await host.ConnectAsync("/ws");
        var secondConnection = await recorder.NextConnectedAsync().DefaultTimeout();
        await second.SendTextAsync("two");
        Assert.Equal("two", await second.ReceiveTextAsync());
        Assert.True(host.Registry.TryGetConnection(secondConnection.Id, out _));
        Assert.Equal(1, host.Registry.Count);
    }

    // ---- 6. Handshake timeout ------------------------------------------------------------------------------

    [Fact]
    public async Task ConnectHookOutlivingHandshakeTimeout_IsCanceledAndConnectionClosedWith1011()
    {
        var hookTokenCanceled = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var chat = new HookRecorder
        {
            OnConnected = async (c, ct) =>
            {
                try
                {
                    await Task.Delay(Timeout.Infinite, ct);
                }
                finally
                {
                    hookTokenCanceled.TrySetResult(ct.IsCancellationRequested);
                }
            },
        };
        await using var host = await TestHost.StartAsync(
            s => s.AddSocketRegistry().AddNamespace(Chat, chat.Attach),
            app => app.MapWebSocketEndpoint("/ws/chat", (string message) => message, o =>
            {
                o.Namespace = Chat;
                o.HandshakeTimeout = TimeSpan.FromMilliseconds(300);
            }));

        using var client = await host.ConnectAsync("/ws/chat");
        var connected = await chat.NextConnectedAsync().DefaultTimeout();

        Assert.True(await hookTokenCanceled.Task.DefaultTimeout());
        Assert.Equal(WebSocketCloseStatus.InternalServerError, await client.ReceiveCloseAsync());
        await host.Logs.WaitForEventAsync("ConnectedHookTimedOut").DefaultTimeout();

        var disconnected = await chat.NextDisconnectedAsync().DefaultTimeout();
        Assert.Same(connected, disconnected.Connection);
        Assert.Equal(DisconnectReason.HookFailed, disconnected.Reason);
        await Completion(connected).DefaultTimeout();
        Assert.Equal(1, chat.DisconnectedCount(connected.Id));
        Assert.Equal(0, host.Registry.Count);
    }

    // ---- 7. Graceful shutdown drain ------------------------------------------------------------------------

    [Fact]
    public async Task GracefulShutdown_DeliversQueuedMessagesInOrderThenClosesWith1001()
    {
        const int MessageCount = 200;
        const int PayloadSize = 64 * 1024;
        var recorder = new HookRecorder();
        await using var host = await TestHost.StartAsync(
            s => s.AddSocketRegistry().AddNamespace(Default, recorder.Attach),
            app => app.MapWebSocketEndpoint("/ws", o => { }));

        // A small receive window, so that most of the 12.8 MB stays in the server's send queue while the client is not reading.
        await using var raw = await host.ConnectRawAsync("/ws", receiveBufferSize: 4096);
        var connection = await recorder.NextConnectedAsync().DefaultTimeout();

        var filler = new string('x', PayloadSize - 3);
        for (var i = 0; i < MessageCount; i++)
        {
            Assert.True(await host.Registry.SendAsync(connection.Id, SocketMessage.Text(Prefix(i) + filler)).DefaultTimeout());
        }

        Assert.True(Internal(connection).QueuedMessages > 0, "Every message left the send queue before shutdown; the drain would not be exercised.");

        var stopping = host.StopAsync();

        for (var i = 0; i < MessageCount; i++)
        {
            var frame = await raw.ReceiveDataFrameAsync().DefaultTimeout();
            Assert.Equal(RawOpcode.Text, frame.Opcode);
            Assert.True(frame.Fin);
            Assert.Equal(PayloadSize, frame.Payload.Length);
            Assert.Equal(Prefix(i), Encoding.UTF8.GetString(frame.Payload, 0, 3));
        }

        var close = await raw.ReceiveDataFrameAsync().DefaultTimeout();
        Assert.Equal(RawOpcode.Close, close.Opcode);
        Assert.Equal((ushort)WebSocketCloseStatus.EndpointUnavailable, close.CloseStatus);
        await raw.SendCloseAsync((ushort)WebSocketCloseStatus.EndpointUnavailable).DefaultTimeout();

        await stopping.DefaultTimeout();

        var disconnected = await recorder.NextDisconnectedAsync().DefaultTimeout();
        Assert.Same(connection, disconnected.Connection);
        Assert.Equal(DisconnectReason.ServerShutdown, disconnected.Reason);
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, disconnected.CloseStatus);
        await Completion(connection).DefaultTimeout();
        Assert.Equal(1, recorder.DisconnectedCount(connection.Id));
        Assert.Equal(0, host.Registry.Count);

        static string Prefix(int i) => i.ToString("D3", CultureInfo.InvariantCulture);
    }

    // ---- 8. Connection IDs ---------------------------------------------------------------------------------

    [Fact]
    public async Task DefaultConnectionIds_Are22CharacterBase64UrlAndDistinct()
    {
        var recorder = new HookRecorder();
        await using var host = await TestHost.StartAsync(
            s => s.AddSocketRegistry().AddNamespace(Default, recorder.Attach),
            app => app.MapWebSocketEndpoint("/ws", o => { }));

        using var client1 = await host.ConnectAsync("/ws");
        var id1 = (await recorder.NextConnectedAsync().DefaultTimeout()).Id;
        using var client2 = await host.ConnectAsync("/ws");
        var id2 = (await recorder.NextConnectedAsync().DefaultTimeout()).Id;
        using var client3 = await host.ConnectAsync("/ws");
        var id3 = (await recorder.NextConnectedAsync().DefaultTimeout()).Id;

        Assert.All([id1, id2, id3], id => Assert.Matches(Base64UrlId(), id));
        Assert.Equal(3, new HashSet<string>([id1, id2, id3], StringComparer.Ordinal).Count);
    }

    [Fact]
    public async Task CustomConnectionIdGenerator_IsUsedAndALiveDuplicateIsRefusedWith409()
    {
        var recorder = new HookRecorder();
        await using var host = await TestHost.StartAsync(
            s => s.AddSocketRegistry(o => o.ConnectionIdGenerator = context => $"device-{context.Request.Query["device"]}")
                .AddNamespace(Default, recorder.Attach),
            app => app.MapWebSocketEndpoint("/ws", (string message) => message));

        using var first = await host.ConnectAsync("/ws?device=42");
        var firstConnection = await recorder.NextConnectedAsync().DefaultTimeout();
        Assert.Equal("device-42", firstConnection.Id);
        Assert.True(host.Registry.TryGetConnection("device-42", out var found));
        Assert.Same(firstConnection, found);

        var refused = await Assert.ThrowsAsync<RawHandshakeException>(() => host.ConnectRawAsync("/ws?device=42"));
        Assert.Equal(StatusCodes.Status409Conflict, refused.Response.StatusCode);
        await host.Logs.WaitForEventAsync("DuplicateConnectionId").DefaultTimeout();

        // The live connection with that ID is untouched, and other IDs are still accepted.
        Assert.True(host.Registry.TryGetConnection("device-42", out found));
        Assert.Same(firstConnection, found);
        await first.SendTextAsync("ping");
        Assert.Equal("ping", await first.ReceiveTextAsync());
        using var other = await host.ConnectAsync("/ws?device=43");
        Assert.Equal("device-43", (await recorder.NextConnectedAsync().DefaultTimeout()).Id);
        Assert.Equal(2, host.Registry.Count);
        Assert.Equal(1, recorder.ConnectedCount("device-42"));

        // Once the first connection has gone, its ID is free again.
        await first.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).DefaultTimeout();
        Assert.Same(firstConnection, (await recorder.NextDisconnectedAsync().DefaultTimeout()).Connection);
        using var again = await host.ConnectAsync("/ws?device=42");
        var againConnection = await recorder.NextConnectedAsync().DefaultTimeout();
        Assert.Equal("device-42", againConnection.Id);
        Assert.NotSame(firstConnection, againConnection);
        await again.SendTextAsync("back");
        Assert.Equal("back", await again.ReceiveTextAsync());
    }

    // ---- 9. The upgrade request ----------------------------------------------------------------------------

    [Fact]
    public async Task Connection_ExposesUpgradeRequest_AndHeadersAndQueryStayReadableInDisconnectHook()
    {
        var seenOnDisconnect = new TaskCompletionSource<(string? Tag, string? Room, string? User)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var recorder = new HookRecorder
        {
            OnDisconnected = (c, reason) =>
            {
                seenOnDisconnect.TrySetResult((c.Headers["x-client-tag"].ToString(), c.Query["room"].ToString(), c.User.Identity?.Name));
                return Task.CompletedTask;
            },
        };
        await using var host = await TestHost.StartAsync(
            s => s.AddSocketRegistry().AddNamespace(Default, recorder.Attach),
            app =>
            {
                app.Use((context, next) =>
                {
                    context.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, "ann"), new Claim(ClaimTypes.Role, "admin")], "Test"));
                    return next(context);
                });
                app.MapWebSocketEndpoint("/ws", o => { });
            });

        using var client = await host.ConnectAsync("/ws?room=lobby&page=2", o => o.SetRequestHeader("X-Client-Tag", "blue"));
        var connection = await recorder.NextConnectedAsync().DefaultTimeout();

        Assert.True(connection.User.Identity?.IsAuthenticated);
        Assert.Equal("ann", connection.User.Identity?.Name);
        Assert.True(connection.User.IsInRole("admin"));
        Assert.Equal("lobby", connection.Query["room"].ToString());
        Assert.Equal("2", connection.Query["page"].ToString());
        Assert.Equal("blue", connection.Headers["X-Client-Tag"].ToString());
        Assert.Equal(IPAddress.Loopback, connection.RemoteIpAddress);

        await client.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).DefaultTimeout();
        var seen = await seenOnDisconnect.Task.DefaultTimeout();
        Assert.Equal("blue", seen.Tag);
        Assert.Equal("lobby", seen.Room);
        Assert.Equal("ann", seen.User);

        // And after the connection (and its request) is done.
        await Completion(connection).DefaultTimeout();
        Assert.Equal("blue", connection.Headers["X-Client-Tag"].ToString());
        Assert.Equal("lobby", connection.Query["room"].ToString());
    }

    // ---- 10. Session items ---------------------------------------------------------------------------------

    [Fact]
    public async Task SessionItems_PersistAcrossMessagesAndAreSeparatePerConnection()
    {
        await using var host = await TestHost.StartAsync(
            s => s.AddSocketRegistry(),
            app => app.MapWebSocketEndpoint("/ws", (ISocketConnection connection, string message) => SessionCommand(connection.Session, message)));

        using var a = await host.ConnectAsync("/ws");
        using var b = await host.ConnectAsync("/ws");

        Assert.Equal("hits=1", await ExchangeAsync(a, "hit"));
        Assert.Equal("hits=2", await ExchangeAsync(a, "hit"));
        Assert.Equal("ok", await ExchangeAsync(a, "name=ann"));

        Assert.Equal("hits=1", await ExchangeAsync(b, "hit"));
        Assert.Equal("no name", await ExchangeAsync(b, "name?"));

        Assert.Equal("hits=3", await ExchangeAsync(a, "hit"));
        Assert.Equal("name=ann", await ExchangeAsync(a, "name?"));
        Assert.Equal("not an int", await ExchangeAsync(a, "name as int?"));
        Assert.Equal("removed", await ExchangeAsync(a, "forget"));
        Assert.Equal("no name", await ExchangeAsync(a, "name?"));
        Assert.Equal("nothing to remove", await ExchangeAsync(a, "forget"));

        Assert.Equal("hits=2", await ExchangeAsync(b, "hit"));
    }

    [Fact]
    public async Task SessionItemSetByConnectHook_IsSeenByThatConnectionsMessageHandler()
    {
        await using var host = await TestHost.StartAsync(
            s => s.AddSocketRegistry().AddNamespace(Default, ns => ns.OnConnected((c, ct) =>
            {
                c.Session.Set("greeting", $"hello {c.Query["user"]}");
                return Task.CompletedTask;
            })),
            app => app.MapWebSocketEndpoint("/ws", (ISocketConnection connection, string message) => $"{connection.Session.Get<string>("greeting")}: {message}"));

        using var ann = await host.ConnectAsync("/ws?user=ann");
        using var bob = await host.ConnectAsync("/ws?user=bob");

        Assert.Equal("hello bob: hi", await ExchangeAsync(bob, "hi"));
        Assert.Equal("hello ann: hi", await ExchangeAsync(ann, "hi"));
    }

    // ---- 11. Idle timeout ----------------------------------------------------------------------------------

    [Fact]
    public async Task SilentClient_IsClosedWith1000AfterIdleTimeout()
    {
        var recorder = new HookRecorder();
        await using var host = await TestHost.StartAsync(
            s => s.AddSocketRegistry().AddNamespace(Default, recorder.Attach),
            app => app.MapWebSocketEndpoint("/ws", (string message) => message, o => o.IdleTimeout = TimeSpan.FromMilliseconds(300)));

        using var client = await host.ConnectAsync("/ws");
        var connection = await recorder.NextConnectedAsync().DefaultTimeout();

        Assert.Equal(WebSocketCloseStatus.NormalClosure, await client.ReceiveCloseAsync());
        await client.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).DefaultTimeout();
        await host.Logs.WaitForEventAsync("IdleTimeout").DefaultTimeout();

        var disconnected = await recorder.NextDisconnectedAsync().DefaultTimeout();
        Assert.Same(connection, disconnected.Connection);
        Assert.Equal(DisconnectReason.IdleTimeout, disconnected.Reason);
        Assert.Equal(WebSocketCloseStatus.NormalClosure, disconnected.CloseStatus);
        await Completion(connection).DefaultTimeout();
        Assert.Equal(1, recorder.DisconnectedCount(connection.Id));
    }

    // ---- 12. Keep-alive ------------------------------------------------------------------------------------

    [Fact]
    public async Task KeepAlive_ServerPingsAndAnsweredPingsKeepTheConnectionOpen()
    {
        var recorder = new HookRecorder();
        await using var host = await TestHost.StartAsync(
            s => s.AddSocketRegistry().AddNamespace(Default, recorder.Attach),
            app => app.MapWebSocketEndpoint("/ws", o =>
            {
                o.KeepAliveInterval = TimeSpan.FromMilliseconds(200);
                o.KeepAliveTimeout = TimeSpan.FromMilliseconds(500);
            }));

        await using var raw = await host.ConnectRawAsync("/ws");
        var connection = await recorder.NextConnectedAsync().DefaultTimeout();

        // Five pings span well over the 500 ms timeout: had a pong gone unnoticed, the server would have aborted.
        for (var i = 0; i < 5; i++)
        {
            var frame = await raw.ReceiveFrameAsync().DefaultTimeout();
            Assert.Equal(RawOpcode.Ping, frame.Opcode);
            await raw.SendFrameAsync(RawOpcode.Pong, frame.Payload).DefaultTimeout();
        }

        Assert.True(connection.IsOpen);
        await raw.SendCloseAsync((ushort)WebSocketCloseStatus.NormalClosure).DefaultTimeout();
        Assert.Equal(RawOpcode.Close, (await raw.ReceiveDataFrameAsync().DefaultTimeout()).Opcode);

        var disconnected = await recorder.NextDisconnectedAsync().DefaultTimeout();
        Assert.Equal(DisconnectReason.ClientClosed, disconnected.Reason);
    }

    [Fact]
    public async Task KeepAlive_ClientThatNeverAnswersPings_IsAbortedAsConnectionLost()
    {
        var recorder = new HookRecorder();
        await using var host = await TestHost.StartAsync(
            s => s.AddSocketRegistry().AddNamespace(Default, recorder.Attach),
            app => app.MapWebSocketEndpoint("/ws", o =>
            {
                o.KeepAliveInterval = TimeSpan.FromMilliseconds(200);
                o.KeepAliveTimeout = TimeSpan.FromMilliseconds(500);
            }));

        await using var raw = await host.ConnectRawAsync("/ws");
        var connection = await recorder.NextConnectedAsync().DefaultTimeout();
        Assert.Equal(RawOpcode.Ping, (await raw.ReceiveFrameAsync().DefaultTimeout()).Opcode);

        var disconnected = await recorder.NextDisconnectedAsync().DefaultTimeout();
        Assert.Same(connection, disconnected.Connection);
        Assert.Equal(DisconnectReason.ConnectionLost, disconnected.Reason);
        Assert.Null(disconnected.CloseStatus);
        Assert.False(host.Registry.TryGetConnection(connection.Id, out _));
        await Completion(connection).DefaultTimeout();
        Assert.Equal(1, recorder.DisconnectedCount(connection.Id));
    }

    // ---- 13. Idle connections hold no receive buffer -------------------------------------------------------

    [Fact]
    public async Task HandledMessage_ReturnsReceiveBuffer_SoIdleConnectionHoldsNone()
    {
        await using var host = await TestHost.StartAsync(
            s => s.AddSocketRegistry(),
            app => app.MapWebSocketEndpoint(
                "/ws",
                (ISocketConnection connection, string message) => $"{message.Length}:{(((SocketConnection)connection).HoldsReceiveBuffer ? "held" : "not held")}",
                o => o.ReceiveBufferSize = 1024));

        await using var raw = await host.ConnectRawAsync("/ws");

        // A pong proves the read pump is back waiting for the next message (pings are answered only while it reads).
        await ProbeAsync(raw, "before");
        var connection = Internal(Assert.Single(host.Registry.GetConnections()));
        Assert.False(connection.HoldsReceiveBuffer);

        await raw.SendTextAsync("hello").DefaultTimeout();
        Assert.Equal("5:held", (await raw.ReceiveDataFrameAsync().DefaultTimeout()).Text);
        await ProbeAsync(raw, "after small");
        Assert.False(connection.HoldsReceiveBuffer);

        // A message larger than ReceiveBufferSize grows the buffer; the grown one is returned as well.
        await raw.SendTextAsync(new string('y', 20_000)).DefaultTimeout();
        Assert.Equal("20000:held", (await raw.ReceiveDataFrameAsync().DefaultTimeout()).Text);
        await ProbeAsync(raw, "after large");
        Assert.False(connection.HoldsReceiveBuffer);
    }

    // ---- Helpers -------------------------------------------------------------------------------------------

    [GeneratedRegex("^[A-Za-z0-9_-]{22}$")]
    private static partial Regex Base64UrlId();

    /// <summary>
    /// Lets Debug events reach <see cref="TestLoggerProvider"/>. Without it, the sample app's appsettings.json, which is
    /// copied into the test output (content root), sets the default level to Information and hides them.
    /// </summary>
    private static SocketConnection Internal(ISocketConnection connection) => Assert.IsType<SocketConnection>(connection);

    /// <summary>Completes once the connection has ended and every disconnect hook has run.</summary>
    private static Task Completion(ISocketConnection connection) => Internal(connection).Completion;

    private static IReadOnlyList<string> Ids(params IEnumerable<ISocketConnection> connections)
        => [.. connections.Select(c => c.Id).Order(StringComparer.Ordinal)];

    private static async Task<string> ExchangeAsync(WebSocket client, string message)
    {
        await client.SendTextAsync(message);
        return await client.ReceiveTextAsync();
    }

    private static async Task ProbeAsync(RawWebSocketClient raw, string payload)
    {
        await raw.SendFrameAsync(RawOpcode.Ping, Encoding.UTF8.GetBytes(payload)).DefaultTimeout();
        while (true)
        {
            var frame = await raw.ReceiveFrameAsync().DefaultTimeout();
            if (frame.Opcode == RawOpcode.Pong && frame.Text == payload)
            {
                return;
            }

            Assert.Equal(RawOpcode.Ping, frame.Opcode); // only keep-alive pings may come first
        }
    }

    private static string SessionCommand(SocketSession session, string message)
    {
        if (message == "hit")
        {
            var hits = session.Get<int>("hits") + 1;
            session.Set("hits", hits);
            return $"hits={hits}";
        }

        if (message.StartsWith("name=", StringComparison.Ordinal))
        {
            session.Set("name", message["name=".Length..]);
            return "ok";
        }

        return message switch
        {
            "name?" => session.TryGet<string>("name", out var name) ? $"name={name}" : "no name",
            "name as int?" => session.TryGet<int>("name", out _) ? "an int" : "not an int",
            "forget" => session.Remove("name") ? "removed" : "nothing to remove",
            _ => "unknown command",
        };
    }

    private sealed record Disconnection(ISocketConnection Connection, DisconnectReason Reason, WebSocketCloseStatus? CloseStatus, string? CloseStatusDescription);

    /// <summary>Records a namespace's hook calls and lets a test await them in order.</summary>
    private sealed class HookRecorder
    {
        private readonly Channel<ISocketConnection> _connected = Channel.CreateUnbounded<ISocketConnection>();
        private readonly Channel<Disconnection> _disconnected = Channel.CreateUnbounded<Disconnection>();
        private readonly ConcurrentQueue<string> _connectedIds = new();
        private readonly ConcurrentQueue<string> _disconnectedIds = new();

        /// <summary>Runs in the connect hook after the call is recorded.</summary>
        public Func<ISocketConnection, CancellationToken, Task>? OnConnected { get; init; }

        /// <summary>Runs in the disconnect hook before the call is recorded.</summary>
        public Func<ISocketConnection, DisconnectReason, Task>? OnDisconnected { get; init; }

        public int TotalConnected => _connectedIds.Count;

        public int TotalDisconnected => _disconnectedIds.Count;

        public void Attach(SocketNamespaceBuilder ns)
        {
            ns.OnConnected(async (connection, cancellationToken) =>
            {
                _connectedIds.Enqueue(connection.Id);
                _connected.Writer.TryWrite(connection);
                if (OnConnected is { } hook)
                {
                    await hook(connection, cancellationToken);
                }
            });
            ns.OnDisconnected(async (connection, reason, cancellationToken) =>
            {
                if (OnDisconnected is { } hook)
                {
                    await hook(connection, reason);
                }

                _disconnectedIds.Enqueue(connection.Id);
                _disconnected.Writer.TryWrite(new Disconnection(connection, reason, connection.CloseStatus, connection.CloseStatusDescription));
            });
        }

        public int ConnectedCount(string id) => _connectedIds.Count(i => i == id);

        public int DisconnectedCount(string id) => _disconnectedIds.Count(i => i == id);

        public Task<ISocketConnection> NextConnectedAsync() => _connected.Reader.ReadAsync().AsTask();

        public Task<Disconnection> NextDisconnectedAsync() => _disconnected.Reader.ReadAsync().AsTask();
    }
}
