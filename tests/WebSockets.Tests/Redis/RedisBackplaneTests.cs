using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using WebSockets.Redis;
using WebSockets.Redis.Internal;
using WebSockets.Tests.Infrastructure;

namespace WebSockets.Tests.Redis;

/// <summary>
/// The Redis backplane against a real redis-server of each test's own: servers on real Kestrel exchange room, user and
/// connection messages, share presence, survive a Redis restart, heal after a server dies, answer within their bound
/// when Redis is down, and stay apart from other apps with another prefix.
/// </summary>
public sealed class RedisBackplaneTests : IAsyncLifetime
{
    private const string Lobby = "lobby";

    private RedisServer _redis = null!;

    public async Task InitializeAsync() => _redis = await RedisServer.StartAsync();

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    [Fact]
    public async Task RoomUserAndConnectionMessages_ReachTheOtherServer()
    {
        await using var cluster = new RedisCluster(_redis, RedisCluster.NewPrefix());
        var a = await cluster.StartServerAsync();
        var b = await cluster.StartServerAsync();
        using var aMetrics = new MetricRecorder(a.Services.GetRequiredService<IMeterFactory>());
        using var bMetrics = new MetricRecorder(b.Services.GetRequiredService<IMeterFactory>());
        await using var onA = await ChatClient.ConnectAsync(a);
        await using var onB = await ChatClient.ConnectAsync(b);
        await onA.JoinAsync(Lobby);
        await onB.JoinAsync(Lobby);

        await a.Registry.Rooms(Lobby).EmitAsync("said", "to the room").DefaultTimeout();
        Assert.Equal(("said", "to the room"), Text(await onA.ReceiveEventAsync()));
        Assert.Equal(("said", "to the room"), Text(await onB.ReceiveEventAsync()));

        // From B back to A, by connection ID: B does not hold it (false), so it travels.
        Assert.False(await b.Registry.EmitAsync(onA.Id, "direct", "to A's client").DefaultTimeout());
        Assert.Equal(("direct", "to A's client"), Text(await onA.ReceiveEventAsync()));

        // A namespace broadcast from B, except B's own client.
        await b.Registry.Namespace(RedisCluster.Chat).Except(onB.Id).EmitAsync("all", "everyone else").DefaultTimeout();
        Assert.Equal(("all", "everyone else"), Text(await onA.ReceiveEventAsync()));

        Assert.True(aMetrics.Sum("websockets.backplane.publishes") >= 1);
        Assert.True(bMetrics.Sum("websockets.backplane.receives") >= 1);
        Assert.Equal(0, aMetrics.Sum("websockets.backplane.publish_errors"));
    }

    [Fact]
    public async Task SendToALocalConnectionId_NeverGoesThroughRedis()
    {
        await using var cluster = new RedisCluster(_redis, RedisCluster.NewPrefix());
        var a = await cluster.StartServerAsync();
        var b = await cluster.StartServerAsync();
        await using var onA = await ChatClient.ConnectAsync(a);
        await using var onB = await ChatClient.ConnectAsync(b);

        // A watcher on the bus channel sees every message published there, in order.
        var seen = Channel.CreateUnbounded<byte[]>();
        await using var watcher = _redis.CreateClient(
            "watcher",
            async connection => (await connection.SendAsync(["SUBSCRIBE", RedisCluster.Backplane(a).ChannelName])).ThrowIfError(),
            reply =>
            {
                seen.Writer.TryWrite(reply.Items![2].Bytes!);
                return default;
            });
        await watcher.FirstConnected.DefaultTimeout();

        Assert.True(await a.Registry.EmitAsync(onA.Id, "local", "stays on A").DefaultTimeout());
        Assert.Equal(("local", "stays on A"), Text(await onA.ReceiveEventAsync()));
        await a.Registry.Connections(onA.Id).EmitAsync("local2", "still on A").DefaultTimeout();
        Assert.Equal(("local2", "still on A"), Text(await onA.ReceiveEventAsync()));

        // Then one that must travel. Redis delivers one publisher's messages in order, so had either local send been
        // published, the watcher would see it first.
        Assert.False(await a.Registry.EmitAsync(onB.Id, "remote", "to B").DefaultTimeout());
        Assert.Equal(("remote", "to B"), Text(await onB.ReceiveEventAsync()));
        var first = await seen.Reader.ReadAsync().AsTask().DefaultTimeout();
        Assert.Contains("remote", Encoding.UTF8.GetString(first), StringComparison.Ordinal);
        Assert.False(seen.Reader.TryRead(out var _));
    }

    [Fact]
    public async Task TwoPrefixesOnOneRedis_AreIsolated()
    {
        await using var app1 = new RedisCluster(_redis, RedisCluster.NewPrefix());
        await using var app2 = new RedisCluster(_redis, RedisCluster.NewPrefix());
        var a1 = await app1.StartServerAsync();
        var c1 = await app1.StartServerAsync();
        var b2 = await app2.StartServerAsync();
        var d2 = await app2.StartServerAsync();
        await using var onC1 = await ChatClient.ConnectAsync(c1);
        await using var onB2 = await ChatClient.ConnectAsync(b2);
        await onC1.JoinAsync(Lobby);
        await onB2.JoinAsync(Lobby);

        await a1.Registry.Rooms(Lobby).EmitAsync("app1", "x").DefaultTimeout();
        Assert.Equal(("app1", "x"), Text(await onC1.ReceiveEventAsync()));

        // Redis handled app 1's publish before app 2's: had B2 been subscribed to app 1's channel, it would get "x" first.
        await d2.Registry.Rooms(Lobby).EmitAsync("app2", "y").DefaultTimeout();
        Assert.Equal(("app2", "y"), Text(await onB2.ReceiveEventAsync()));

        // Presence is apart too: each app counts its own client only.
        var counts1 = await Poll.UntilAsync(() => a1.Registry.GetCountsAsync(), c => c.IsComplete && c.Value.Connections == 1, "app 1 to count C1's client");
        Assert.Equal(1, counts1.Value.Rooms[Lobby]);
        var counts2 = await Poll.UntilAsync(() => d2.Registry.GetCountsAsync(), c => c.IsComplete && c.Value.Connections == 1, "app 2 to count B2's client");
        Assert.Equal(1, counts2.Value.Rooms[Lobby]);
        var members = await d2.Registry.GetRoomMembersAsync(Lobby).DefaultTimeout();
        Assert.Equal([onB2.Id], members.Value.Select(m => m.ConnectionId));
    }

    [Fact]
    public async Task Presence_IsClusterWide_AndStoredAsJson()
    {
        await using var cluster = new RedisCluster(_redis, RedisCluster.NewPrefix());
        var a = await cluster.StartServerAsync();
        var b = await cluster.StartServerAsync();
        await using var onA = await ChatClient.ConnectAsync(a, name: "ann");
        await onA.JoinAsync(Lobby);
        await onA.JoinAsync("games");

        var members = await Poll.UntilAsync(() => b.Registry.GetRoomMembersAsync(Lobby), r => r.Value is [{ Rooms.Count: 2 }], "B to see A's member in both rooms");
        Assert.True(members.IsComplete);
        var member = members.Value[0];
        Assert.Equal(onA.Id, member.ConnectionId);
        Assert.Equal(RedisCluster.Chat, member.Namespace);
        Assert.Equal(RedisCluster.ServerId(a), member.ServerId);
        Assert.Equal(["games", Lobby], member.Rooms.Order(StringComparer.Ordinal));
        Assert.Equal("ann", member.Items["name"].GetString());

        var rooms = await b.Registry.GetRoomsAsync(onA.Id).DefaultTimeout();
        Assert.True(rooms.IsComplete);
        Assert.Equal(["games", Lobby], rooms.Value.Order(StringComparer.Ordinal));

        var counts = await b.Registry.GetCountsAsync().DefaultTimeout();
        Assert.True(counts.IsComplete);
        Assert.Equal(1, counts.Value.Namespaces[RedisCluster.Chat]);
        Assert.Equal(1, counts.Value.Rooms[Lobby]);
        Assert.Equal(1, counts.Value.Rooms["games"]);

        // The stored form: JSON with the member's fields.
        var json = await _redis.CommandAsync("HGET", RedisCluster.Backplane(a).ServerKeyBase(RedisCluster.ServerId(a)) + ":members", onA.Id);
        using var document = System.Text.Json.JsonDocument.Parse(json.Bytes!);
        Assert.Equal(onA.Id, document.RootElement.GetProperty("connectionId").GetString());
        Assert.Equal(RedisCluster.ServerId(a), document.RootElement.GetProperty("serverId").GetString());
        Assert.Equal("ann", document.RootElement.GetProperty("items").GetProperty("name").GetString());

        // Leaving and disconnecting show on the other server.
        await onA.LeaveAsync(Lobby);
        await Poll.UntilAsync(() => b.Registry.GetRoomMembersAsync(Lobby), r => r.IsComplete && r.Value.Count == 0, "B to see A's member leave the lobby");
        await onA.CloseAsync();
        await Poll.UntilAsync(() => b.Registry.GetCountsAsync(), c => c.IsComplete && c.Value.Connections == 0 && c.Value.Rooms.Count == 0, "B to see A's member go");
    }

    [Fact]
    public async Task RedisRestart_LocalDeliveryGoesOn_LostPublishesAreCounted_AndEverythingComesBack()
    {
        await using var cluster = new RedisCluster(_redis, RedisCluster.NewPrefix());
        var a = await cluster.StartServerAsync();
        var b = await cluster.StartServerAsync();
        using var aMetrics = new MetricRecorder(a.Services.GetRequiredService<IMeterFactory>());
        await using var onA = await ChatClient.ConnectAsync(a, name: "ann");
        await using var onB = await ChatClient.ConnectAsync(b, name: "bob");
        await onA.JoinAsync(Lobby);
        await onB.JoinAsync(Lobby);
        await Poll.UntilAsync(() => b.Registry.GetRoomMembersAsync(Lobby), r => r.IsComplete && r.Value.Count == 2, "B to see both members");

        await _redis.KillAsync();
        await a.Logs.WaitForEventAsync("RedisConnectionLost").DefaultTimeout();
        await b.Logs.WaitForEventAsync("RedisConnectionLost").DefaultTimeout();
        await Poll.UntilAsync(() => !RedisCluster.Backplane(a).IsConnected, "A to notice that Redis is gone");

        // Local delivery goes on; what should have crossed to B is lost, logged and counted.
        await a.Registry.Rooms(Lobby).EmitAsync("during", "the outage").DefaultTimeout();
        Assert.Equal(("during", "the outage"), Text(await onA.ReceiveEventAsync()));
        Assert.True(aMetrics.Sum("websockets.backplane.publish_errors") >= 1);
        Assert.Single(a.Logs.WithEventName("PublishesLost"));

        // Queries answer with this server's part, marked incomplete.
        var during = await b.Registry.GetRoomMembersAsync(Lobby).DefaultTimeout();
        Assert.False(during.IsComplete);
        Assert.Equal([onB.Id], during.Value.Select(m => m.ConnectionId));

        // Redis comes back empty: both servers reconnect, resubscribe and write their presence again in full.
        var resyncsBefore = a.Logs.WithEventName("PresenceResynced").Count();
        await _redis.RestartAsync();
        await Poll.UntilAsync(() => a.Logs.WithEventName("PresenceResynced").Count() > resyncsBefore, "A to write its presence again");
        var restored = await a.Logs.WaitForAsync(r => r.EventId.Name == "RedisConnectionRestored" && r.Message.Contains("command", StringComparison.Ordinal)).DefaultTimeout();
        Assert.Contains("1 messages", restored.Message, StringComparison.Ordinal);

        var channel = RedisCluster.Backplane(a).ChannelName;
        await Poll.UntilAsync(() => _redis.CommandAsync("PUBSUB", "NUMSUB", channel), r => r.Items![1].Integer == 2, "both servers to subscribe again");

        // B never got the message of the outage: the first it gets is the one sent after.
        await a.Registry.Rooms(Lobby).EmitAsync("after", "the outage").DefaultTimeout();
        Assert.Equal(("after", "the outage"), Text(await onA.ReceiveEventAsync()));
        Assert.Equal(("after", "the outage"), Text(await onB.ReceiveEventAsync()));

        var members = await Poll.UntilAsync(() => b.Registry.GetRoomMembersAsync(Lobby), r => r.IsComplete && r.Value.Count == 2, "B to see A's member again");
        Assert.Equal("ann", members.Value.Single(m => m.ConnectionId == onA.Id).Items["name"].GetString());
        await Poll.UntilAsync(() => a.Registry.GetRoomMembersAsync(Lobby), r => r.IsComplete && r.Value.Count == 2, "A to see B's member again");
    }

    [Fact]
    public async Task AServerThatDies_LeavesTheAnswersOnceItsHeartbeatExpires_AndItsKeysAreRemoved()
    {
        await using var cluster = new RedisCluster(_redis, RedisCluster.NewPrefix(), o =>
        {
            o.HeartbeatInterval = TimeSpan.FromMilliseconds(250);
            o.PresenceTtl = TimeSpan.FromSeconds(2);
        });
        var a = await cluster.StartServerAsync();
        var b = await cluster.StartServerAsync();
        await using var onA = await ChatClient.ConnectAsync(a);
        await onA.JoinAsync(Lobby);
        await Poll.UntilAsync(() => b.Registry.GetRoomMembersAsync(Lobby), r => r.Value.Count == 1, "B to see A's member");

        var deadServer = RedisCluster.ServerId(a);
        var deadBase = RedisCluster.Backplane(a).ServerKeyBase(deadServer);
        await RedisCluster.Backplane(a).CrashAsync();
        var stopwatch = Stopwatch.StartNew();

        await Poll.UntilAsync(() => b.Registry.GetRoomMembersAsync(Lobby), r => r.IsComplete && r.Value.Count == 0, "A's member to leave B's answers", TimeSpan.FromSeconds(15));
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(10), $"healed after {stopwatch.Elapsed}");
        await Poll.UntilAsync(
            () => _redis.CommandAsync("EXISTS", deadBase + ":members", deadBase + ":rooms", deadBase + ":namespaces", deadBase + ":room:" + Lobby),
            r => r.Integer == 0,
            "A's keys to be removed");

        // Its keys may expire by TTL before the janitor's next round; the janitor takes it off the server list.
        await Poll.UntilAsync(() => _redis.CommandAsync("ZSCORE", RedisCluster.Backplane(b).ServersKey, deadServer), r => r.IsNull, "the janitor to remove A from the servers");
        Assert.Contains(b.Logs.WithEventName("DeadServersRemoved"), r => r.Message.Contains(deadServer, StringComparison.Ordinal));
    }

    [Fact]
    public async Task AGracefulStop_RemovesTheServersPresenceAtOnce()
    {
        await using var cluster = new RedisCluster(_redis, RedisCluster.NewPrefix(), o => o.PresenceTtl = TimeSpan.FromMinutes(1));
        var a = await cluster.StartServerAsync();
        var b = await cluster.StartServerAsync();
        var onA = await ChatClient.ConnectAsync(a);
        await onA.JoinAsync(Lobby);
        await Poll.UntilAsync(() => b.Registry.GetRoomMembersAsync(Lobby), r => r.Value.Count == 1, "B to see A's member");
        var aBase = RedisCluster.Backplane(a).ServerKeyBase(RedisCluster.ServerId(a));

        await a.StopAsync().DefaultTimeout();
        await onA.DisposeAsync();

        var members = await b.Registry.GetRoomMembersAsync(Lobby).DefaultTimeout();
        Assert.True(members.IsComplete);
        Assert.Empty(members.Value);
        Assert.Equal(0, (await _redis.CommandAsync("EXISTS", aBase + ":members", aBase + ":rooms", aBase + ":namespaces")).Integer);
    }

    [Fact]
    public async Task Queries_WhenRedisIsDown_AnswerIncompleteWithinTheirBound()
    {
        await using var cluster = new RedisCluster(_redis, RedisCluster.NewPrefix(), registry: o => o.ClusterQueryTimeout = TimeSpan.FromMilliseconds(500));
        var a = await cluster.StartServerAsync();
        var b = await cluster.StartServerAsync();
        await using var onA = await ChatClient.ConnectAsync(a);
        await using var onB = await ChatClient.ConnectAsync(b);
        await onA.JoinAsync(Lobby);
        await onB.JoinAsync(Lobby);
        await Poll.UntilAsync(() => b.Registry.GetCountsAsync(), c => c.IsComplete && c.Value.Connections == 2, "B to count both clients");

        // Redis answers nothing for a while: the query's deadline ends it, with B's own part.
        await _redis.CommandAsync("CLIENT", "PAUSE", 3000, "ALL");
        var stopwatch = Stopwatch.StartNew();
        var paused = await b.Registry.GetCountsAsync().DefaultTimeout();
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(2), $"answered after {stopwatch.Elapsed}");
        Assert.False(paused.IsComplete);
        Assert.Equal(1, paused.Value.Connections);

        // Redis is gone: the answer is at once, naming the servers last known to be live.
        await _redis.KillAsync();
        await Poll.UntilAsync(() => !RedisCluster.Backplane(b).IsConnected, "B to notice that Redis is gone");
        stopwatch.Restart();
        var down = await b.Registry.GetRoomMembersAsync(Lobby).DefaultTimeout();
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(1), $"answered after {stopwatch.Elapsed}");
        Assert.False(down.IsComplete);
        Assert.Contains(RedisCluster.ServerId(a), down.MissingServers);
        Assert.Equal([onB.Id], down.Value.Select(m => m.ConnectionId));
        var member = await b.Registry.GetRoomsAsync(onA.Id).DefaultTimeout();
        Assert.False(member.IsComplete);
    }

    [Fact]
    public async Task AServerStartsWhileRedisIsDown_AndJoinsTheClusterWhenRedisComesUp()
    {
        await _redis.KillAsync();
        await using var cluster = new RedisCluster(_redis, RedisCluster.NewPrefix());
        var a = await cluster.StartServerAsync();
        Assert.Single(a.Logs.WithEventName("RedisNotReachableAtStart"));
        await using var onA = await ChatClient.ConnectAsync(a);
        await onA.JoinAsync(Lobby);

        await _redis.RestartAsync();
        var b = await cluster.StartServerAsync();
        await Poll.UntilAsync(() => b.Registry.GetRoomMembersAsync(Lobby), r => r.IsComplete && r.Value.Count == 1, "B to see the member A had before Redis came up");
        await using var onB = await ChatClient.ConnectAsync(b);
        await onB.JoinAsync(Lobby);
        await b.Registry.Rooms(Lobby).Except(onB.Id).EmitAsync("hello", "from B").DefaultTimeout();
        Assert.Equal(("hello", "from B"), Text(await onA.ReceiveEventAsync()));
    }

    [Fact]
    public async Task InvalidOptions_FailTheStart_WithEveryProblem()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => TestHost.StartAsync(
            services => services.AddSocketRegistry().AddRedisBackplane("127.0.0.1:notaport,colour=blue", o =>
            {
                o.ChannelPrefix = "has space";
                o.HeartbeatInterval = TimeSpan.FromSeconds(10);
                o.PresenceTtl = TimeSpan.FromSeconds(5);
            }),
            _ => { }));
        Assert.Equal(4, error.Failures.Count());
        Assert.Contains(error.Failures, f => f.Contains("port", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("colour", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains(nameof(RedisBackplaneOptions.ChannelPrefix), StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains(nameof(RedisBackplaneOptions.PresenceTtl), StringComparison.Ordinal));
    }

    [Fact]
    public async Task AddRedisBackplane_ReplacesTheDefaultBackplane_WithTheDocumentedDefaults()
    {
        var services = new ServiceCollection();
        services.AddSocketRegistry().AddRedisBackplane();
        await using var provider = services.BuildServiceProvider();
        Assert.IsType<RedisSocketBackplane>(provider.GetRequiredService<SocketBackplane>());
        Assert.Single(services, d => d.ServiceType == typeof(SocketBackplane));
        var options = provider.GetRequiredService<IOptions<RedisBackplaneOptions>>().Value;
        Assert.Equal("localhost:6379", options.Configuration);
        Assert.Equal("websockets", options.ChannelPrefix);
        Assert.Equal(TimeSpan.FromSeconds(5), options.HeartbeatInterval);
        Assert.Equal(TimeSpan.FromSeconds(15), options.PresenceTtl);
        Assert.Null(options.ConnectionFactory);

        var configured = new ServiceCollection();
        configured.AddSocketRegistry().AddRedisBackplane("redis:6380,password=secret", o => o.ChannelPrefix = "app");
        await using var configuredProvider = configured.BuildServiceProvider();
        var value = configuredProvider.GetRequiredService<IOptions<RedisBackplaneOptions>>().Value;
        Assert.Equal("redis:6380,password=secret", value.Configuration);
        Assert.Equal("app", value.ChannelPrefix);
    }

    [Fact]
    public async Task ConnectionFactory_IsUsedForEveryConnection()
    {
        var opened = 0;
        await using var cluster = new RedisCluster(_redis, RedisCluster.NewPrefix(), o =>
        {
            o.Configuration = "unused.invalid:1";
            o.ConnectionFactory = async ct =>
            {
                Interlocked.Increment(ref opened);
                var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
                await socket.ConnectAsync(System.Net.IPAddress.Loopback, _redis.Port, ct);
                return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
            };
        });
        var a = await cluster.StartServerAsync();
        var b = await cluster.StartServerAsync();
        await using var onB = await ChatClient.ConnectAsync(b);
        await onB.JoinAsync(Lobby);
        await a.Registry.Rooms(Lobby).EmitAsync("via", "factory").DefaultTimeout();
        Assert.Equal(("via", "factory"), Text(await onB.ReceiveEventAsync()));
        Assert.Equal(4, Volatile.Read(ref opened));
    }

    private static (string, string) Text((string Event, System.Text.Json.JsonElement Data) received) => (received.Event, received.Data.GetString()!);
}
