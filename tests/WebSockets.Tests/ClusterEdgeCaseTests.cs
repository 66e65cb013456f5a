using System.Net.WebSockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using WebSockets.Internal;
using WebSockets.Tests.Infrastructure;
using WebSockets.Tests.Redis;

namespace WebSockets.Tests;

/// <summary>Edge cases of the cluster layer found in review (a throwing backplane, repeated IDs, hostile cluster messages, a stuck Wait-mode client); each failed before its fix.</summary>
public sealed class ClusterEdgeCaseTests
{
    private const string Chat = "chat";

    /// <summary>A backplane whose presence writes throw synchronously, as a non-async override may.</summary>
    private sealed class ThrowingPresenceBackplane : SocketBackplane
    {
        public volatile bool ThrowOnSet;
        public volatile bool ThrowOnRemove;

        public override Task StartAsync(SocketBackplaneContext context, CancellationToken cancellationToken) => Task.CompletedTask;

        public override Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override ValueTask PublishAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken) => default;

        public override ValueTask SetMemberAsync(SocketMember member, string? joined, string? left)
            => ThrowOnSet ? throw new InvalidOperationException("presence store not connected") : default;

        public override ValueTask RemoveMemberAsync(SocketMember member)
            => ThrowOnRemove ? throw new InvalidOperationException("presence store not connected") : default;

        public override Task<ClusterResult<IReadOnlyList<SocketMember>>> GetRoomMembersAsync(string room, CancellationToken cancellationToken)
            => Task.FromResult(new ClusterResult<IReadOnlyList<SocketMember>>([], isComplete: true));

        public override Task<ClusterResult<SocketMember?>> GetMemberAsync(string connectionId, CancellationToken cancellationToken)
            => Task.FromResult(new ClusterResult<SocketMember?>(null, isComplete: true));

        public override Task<ClusterResult<SocketCounts>> GetCountsAsync(CancellationToken cancellationToken)
            => Task.FromResult(new ClusterResult<SocketCounts>(new SocketCounts(new Dictionary<string, int>(), new Dictionary<string, int>()), isComplete: true));
    }

    private static Task<TestHost> StartAsync(SocketBackplane? backplane = null, Action<SocketRegistryOptions>? options = null, Action<SocketNamespaceBuilder>? configure = null)
        => TestHost.StartAsync(
            s =>
            {
                var builder = s.AddSocketRegistry(o =>
                {
                    o.ConnectionIdGenerator = c => c.Request.Query["id"].ToString();
                    options?.Invoke(o);
                }).AddNamespace(Chat, ns =>
                {
                    ns.On("ping", () => "pong");
                    configure?.Invoke(ns);
                });
                if (backplane is not null)
                {
                    s.AddSingleton(backplane);
                }
            },
            app => app.MapWebSocketEndpoint("/ws", Chat));

    private static async Task<EventClient> ConnectAsync(TestHost host, string id) => new(await host.ConnectAsync($"/ws?id={id}"), id);

    private static async Task AssertNothingBeforeAsync(TestHost via, EventClient client)
    {
        var marker = Guid.NewGuid().ToString("N");
        await via.Registry.Connections(client.Id).EmitAsync("marker", marker).DefaultTimeout();
        Assert.Equal(marker, (await client.NextEventAsync("marker")).GetString());
    }

    // ---- Finding: a synchronous throw from the backplane's presence calls escapes RunConnectionAsync ----------

    [Fact]
    public async Task PresenceWriteThatThrowsSynchronously_OnRegister_DoesNotKillOrLeakTheConnection()
    {
        var backplane = new ThrowingPresenceBackplane { ThrowOnSet = true };
        await using var host = await StartAsync(backplane);
        using var a = await ConnectAsync(host, "a");

        // An asynchronous failure is logged as PresenceFailed and the connection works; a synchronous one must too.
        var reply = await a.RequestAsync("ping", null);
        Assert.Equal("pong", reply.GetProperty("data").GetString());
    }

    [Fact]
    public async Task PresenceWriteThatThrowsSynchronously_OnUnregister_StillRunsDisconnectHooks_AndFreesTheId()
    {
        var backplane = new ThrowingPresenceBackplane { ThrowOnRemove = true };
        var disconnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var host = await StartAsync(backplane, configure: ns => ns.OnDisconnected((_, _, _) =>
        {
            disconnected.TrySetResult();
            return Task.CompletedTask;
        }));
        using (var a = await ConnectAsync(host, "a"))
        {
            await a.Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).DefaultTimeout();
        }

        await disconnected.Task.DefaultTimeout();
        backplane.ThrowOnRemove = false;
        using var again = await ConnectAsync(host, "a"); // 409 while the ID stays claimed
        Assert.Equal("pong", (await again.RequestAsync("ping", null)).GetProperty("data").GetString());
    }

    // ---- Finding: duplicate connection IDs deliver the message once per duplicate --------------------------

    [Fact]
    public async Task ConnectionsAudience_WithARepeatedId_DeliversOnce()
    {
        await using var host = await StartAsync();
        using var a = await ConnectAsync(host, "a");
        await host.Registry.Connections("a", "a").EmitAsync("news", 1).DefaultTimeout();
        Assert.Equal(1, (await a.NextEventAsync("news")).GetInt32());
        await AssertNothingBeforeAsync(host, a);
    }

    [Fact]
    public async Task ClusterMessage_WithManyRepeatedIds_IsNotAmplified()
    {
        var backplane = new ThrowingPresenceBackplane();
        await using var host = await StartAsync(backplane, o => o.SendQueueCapacity = 16);
        using var a = await ConnectAsync(host, "a");

        // 40 bytes per repeat: a 4 KB message from a peer queues 100 copies and closes the connection as a slow consumer.
        var hostile = ClusterMessage.Send(new AudienceTarget { ConnectionIds = Enumerable.Repeat("a", 100).ToArray() }, SocketMessage.Text("{\"event\":\"x\"}"));
        await host.RegistryInternal.BackplaneContext.DeliverAsync(hostile).AsTask().DefaultTimeout();
        Assert.Equal("x", (await a.NextAsync()).GetProperty("event").GetString());
        await AssertNothingBeforeAsync(host, a);
    }

    // ---- Finding: a Disconnect from a peer with a status the WebSocket refuses aborts without a close frame -----

    [Theory]
    [InlineData(1006, "")]
    [InlineData(1000, "a description that is far longer than the one hundred and twenty three bytes that RFC 6455 leaves for a close reason in a frame")]
    public async Task ClusterDisconnect_WithAnInvalidCloseStatus_IsRefused_NotAnAbort(int status, string description)
    {
        var backplane = new ThrowingPresenceBackplane();
        await using var host = await StartAsync(backplane);
        using var a = await ConnectAsync(host, "a");
        var hostile = ClusterMessage.Disconnect(new AudienceTarget { ConnectionIds = ["a"] }, (WebSocketCloseStatus)status, description);
        await host.RegistryInternal.BackplaneContext.DeliverAsync(hostile).AsTask().DefaultTimeout();

        // Refused as malformed, like any message the WebSocket could not carry: the connection stays open.
        await AssertNothingBeforeAsync(host, a);
    }

    // ---- Finding: with SendQueueFullMode.Wait, one slow client stalls every cluster message to its server -----

    [Fact]
    public async Task WaitMode_OneStuckClient_DoesNotStallClusterDeliveryToTheOthers()
    {
        await using var redis = await RedisServer.StartAsync();
        var cluster = "c" + Guid.NewGuid().ToString("N")[..12];
        Task<TestHost> Start(Action<SocketRegistryOptions>? options) => TestHost.StartAsync(
            s => s.AddSocketRegistry(o =>
            {
                o.ConnectionIdGenerator = c => c.Request.Query["id"].ToString();
                options?.Invoke(o);
            }).AddNamespace(Chat, _ => { }).AddRedisBackplane(redis.Configuration, o => o.ChannelPrefix = cluster),
            app => app.MapWebSocketEndpoint("/ws", Chat));

        await using var one = await Start(null);
        await using var two = await Start(o =>
        {
            o.SendQueueFullMode = SendQueueFullMode.Wait;
            o.SendQueueCapacity = 1;
        });
        using var stuck = await ConnectAsync(two, "stuck"); // never reads
        using var fine = await ConnectAsync(two, "fine");

        // Queue far more than the socket's buffers can take (loopback TCP buffers are a few MB at most): the last
        // sends wait for room, and stay waiting, since the client never reads.
        var big = SocketMessage.Binary(new byte[1 << 20]);
        var waiting = new List<Task<bool>>();
        for (var i = 0; i < 256; i++)
        {
            waiting.Add(two.Registry.SendAsync("stuck", big).AsTask());
        }

        Assert.False(waiting[^1].IsCompleted, "the stuck client's queue never filled");

        // One cluster message for the stuck client, then one for a client that reads.
        await one.Registry.Connections("stuck").SendAsync(SocketMessage.Text("{}")).DefaultTimeout();
        await one.Registry.Connections("fine").EmitAsync("hello", "from one").DefaultTimeout();
        Assert.Equal("from one", (await fine.NextEventAsync("hello")).GetString());
        stuck.Socket.Abort();
    }
}
