using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using WebSockets.Tests.Infrastructure;

namespace WebSockets.Tests.Cluster;

/// <summary>
/// The behaviour every backplane must give: two servers on real Kestrel that share a backplane act as one for rooms,
/// users, connection IDs, namespaces, disconnects and presence. Each implementation runs the whole suite through a
/// subclass that adds its backplane to a server.
/// </summary>
public abstract class BackplaneContractTests
{
    protected const string Chat = "chat";

    /// <summary>Adds the backplane under test. Servers started with the same cluster name must share one cluster.</summary>
    protected abstract void AddBackplane(ISocketRegistryBuilder builder, string cluster);

    /// <summary>Starts a server whose connections take their ID from <c>?id=</c>, their user from <c>?user=</c> and a public "name" session item from <c>?name=</c>.</summary>
    private protected async Task<TestHost> StartServerAsync(string cluster, Action<SocketRegistryOptions>? configure = null)
        => await TestHost.StartAsync(
            services =>
            {
                var builder = services.AddSocketRegistry(o =>
                {
                    o.ConnectionIdGenerator = c => c.Request.Query["id"].ToString();
                    o.UserIdProvider = c => c.Request.Query["user"] is { Count: > 0 } user ? user.ToString() : null;
                    o.PublicSessionItems.Add("name");
                    configure?.Invoke(o);
                });
                builder.AddNamespace(Chat, ns => ns
                    .OnConnected((c, _) =>
                    {
                        c.Session.Set("name", c.Query["name"].ToString());
                        return Task.CompletedTask;
                    })
                    .AllowClientRooms((_, room, _) => ValueTask.FromResult(!room.StartsWith("private-", StringComparison.Ordinal)))
                    .UseBatch("tick", TimeSpan.FromMilliseconds(20)));
                AddBackplane(builder, cluster);
            },
            app => app.MapWebSocketEndpoint("/ws/chat", Chat));

    private protected static async Task<EventClient> ConnectAsync(TestHost server, string id, string? user = null)
    {
        var query = $"?id={id}&name=Name-{id}" + (user is null ? "" : $"&user={user}");
        return new EventClient(await server.ConnectAsync("/ws/chat" + query), id);
    }

    private protected static async Task JoinAsync(EventClient client, string room)
    {
        var reply = await client.RequestAsync("$join", new { room });
        Assert.Equal(room, reply.GetProperty("data").GetProperty("room").GetString());
    }

    /// <summary>Proves a client got nothing before now: a message sent to it alone must be the next it receives.</summary>
    private protected static async Task AssertNothingBeforeAsync(TestHost via, EventClient client)
    {
        var marker = Guid.NewGuid().ToString("N");
        await via.Registry.Connections(client.Id).EmitAsync("marker", marker).DefaultTimeout();
        Assert.Equal(marker, (await client.NextEventAsync("marker")).GetString());
    }

    private static string NewCluster() => "c" + Guid.NewGuid().ToString("N")[..12];

    [Fact]
    public async Task RoomEmit_ReachesMembersOnEveryServer_AndNoOneElse()
    {
        var cluster = NewCluster();
        await using var one = await StartServerAsync(cluster);
        await using var two = await StartServerAsync(cluster);
        using var a = await ConnectAsync(one, "a");
        using var b = await ConnectAsync(two, "b");
        using var outsider = await ConnectAsync(two, "outsider");
        await JoinAsync(a, "lobby");
        await JoinAsync(b, "lobby");

        // Order holds per sending server only, so the second emit is made once the first has arrived everywhere.
        await one.Registry.Rooms("lobby").EmitAsync("news", new { n = 1 }).DefaultTimeout();
        foreach (var member in new[] { a, b })
        {
            Assert.Equal(1, (await member.NextEventAsync("news")).GetProperty("n").GetInt32());
        }

        await two.Registry.Rooms("lobby").EmitAsync("news", new { n = 2 }).DefaultTimeout();
        foreach (var member in new[] { a, b })
        {
            Assert.Equal(2, (await member.NextEventAsync("news")).GetProperty("n").GetInt32());
        }

        await AssertNothingBeforeAsync(one, outsider);
    }

    [Fact]
    public async Task Except_LeavesOutConnectionsOnOtherServers()
    {
        var cluster = NewCluster();
        await using var one = await StartServerAsync(cluster);
        await using var two = await StartServerAsync(cluster);
        using var a = await ConnectAsync(one, "a");
        using var b = await ConnectAsync(two, "b");
        using var c = await ConnectAsync(two, "c");
        foreach (var client in new[] { a, b, c })
        {
            await JoinAsync(client, "lobby");
        }

        await one.Registry.Rooms("lobby").Except("a", "b").EmitAsync("news", "only c").DefaultTimeout();

        Assert.Equal("only c", (await c.NextEventAsync("news")).GetString());
        await AssertNothingBeforeAsync(one, a);
        await AssertNothingBeforeAsync(one, b);
    }

    [Fact]
    public async Task ConnectionInTwoRooms_GetsAMessageForBothRoomsOnce()
    {
        var cluster = NewCluster();
        await using var one = await StartServerAsync(cluster);
        await using var two = await StartServerAsync(cluster);
        using var a = await ConnectAsync(one, "a");
        using var b = await ConnectAsync(two, "b");
        foreach (var client in new[] { a, b })
        {
            await JoinAsync(client, "red");
            await JoinAsync(client, "blue");
        }

        await one.Registry.Rooms("red", "blue").EmitAsync("news", 1).DefaultTimeout();

        foreach (var client in new[] { a, b })
        {
            Assert.Equal(1, (await client.NextEventAsync("news")).GetInt32());
            await AssertNothingBeforeAsync(one, client);
        }
    }

    [Fact]
    public async Task User_IsReachedOnEveryServer()
    {
        var cluster = NewCluster();
        await using var one = await StartServerAsync(cluster);
        await using var two = await StartServerAsync(cluster);
        using var phone = await ConnectAsync(one, "phone", user: "alice");
        using var laptop = await ConnectAsync(two, "laptop", user: "alice");
        using var bob = await ConnectAsync(two, "bob", user: "bob");

        await one.Registry.Users("alice").EmitAsync("dm", "hi alice").DefaultTimeout();

        Assert.Equal("hi alice", (await phone.NextEventAsync("dm")).GetString());
        Assert.Equal("hi alice", (await laptop.NextEventAsync("dm")).GetString());
        await AssertNothingBeforeAsync(two, bob);
    }

    [Fact]
    public async Task ConnectionId_IsReachedOnWhicheverServerHoldsIt()
    {
        var cluster = NewCluster();
        await using var one = await StartServerAsync(cluster);
        await using var two = await StartServerAsync(cluster);
        using var remote = await ConnectAsync(two, "remote");

        Assert.False(await one.Registry.EmitAsync("remote", "direct", 7).DefaultTimeout());
        Assert.Equal(7, (await remote.NextEventAsync("direct")).GetInt32());

        Assert.False(await one.Registry.SendAsync("remote", SocketMessage.Text("raw")).DefaultTimeout());
        Assert.Equal("raw", await remote.Socket.ReceiveTextAsync());
    }

    [Fact]
    public async Task NamespaceBroadcast_IsClusterWide_LocalAndFilteredSendsStayOnThisServer()
    {
        var cluster = NewCluster();
        await using var one = await StartServerAsync(cluster);
        await using var two = await StartServerAsync(cluster);
        using var a = await ConnectAsync(one, "a");
        using var b = await ConnectAsync(two, "b");

        await one.Registry.Namespace(Chat).EmitAsync("all", 1).DefaultTimeout();
        await one.Registry.BroadcastAsync("text to all", Chat).DefaultTimeout();
        Assert.Equal(1, (await b.NextEventAsync("all")).GetInt32());
        Assert.Equal("text to all", await b.Socket.ReceiveTextAsync());
        Assert.Equal(1, (await a.NextEventAsync("all")).GetInt32());
        Assert.Equal("text to all", await a.Socket.ReceiveTextAsync());

        await one.Registry.Namespace(Chat).Local().EmitAsync("local", 2).DefaultTimeout();
        await one.Registry.BroadcastLocalAsync(SocketMessage.Text("local text"), Chat).DefaultTimeout();
        await one.Registry.All.Where(_ => true).EmitAsync("filtered", 3).DefaultTimeout();
        Assert.Equal(2, (await a.NextEventAsync("local")).GetInt32());
        Assert.Equal("local text", await a.Socket.ReceiveTextAsync());
        Assert.Equal(3, (await a.NextEventAsync("filtered")).GetInt32());
        await AssertNothingBeforeAsync(one, b);
    }

    [Fact]
    public async Task BatchedEvent_EmittedToARoom_IsBatchedOnTheOtherServer()
    {
        var cluster = NewCluster();
        await using var one = await StartServerAsync(cluster);
        await using var two = await StartServerAsync(cluster);
        using var b = await ConnectAsync(two, "b");
        await JoinAsync(b, "prices");

        await one.Registry.Rooms("prices").EmitAsync("tick", 1).DefaultTimeout();
        await one.Registry.Rooms("prices").EmitAsync("tick", 2).DefaultTimeout();

        var items = new List<int>();
        while (items.Count < 2)
        {
            items.AddRange((await b.NextEventAsync("batch_tick")).EnumerateArray().Select(static e => e.GetInt32()));
        }

        Assert.Equal([1, 2], items);
    }

    [Fact]
    public async Task DisconnectARoom_ClosesItsMembersOnEveryServer()
    {
        var cluster = NewCluster();
        await using var one = await StartServerAsync(cluster);
        await using var two = await StartServerAsync(cluster);
        using var a = await ConnectAsync(one, "a");
        using var b = await ConnectAsync(two, "b");
        using var stays = await ConnectAsync(two, "stays");
        await JoinAsync(a, "doomed");
        await JoinAsync(b, "doomed");

        await one.Registry.Rooms("doomed").DisconnectAsync(WebSocketCloseStatus.PolicyViolation, "room closed").DefaultTimeout();

        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await a.Socket.ReceiveCloseAsync());
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, await b.Socket.ReceiveCloseAsync());
        Assert.Equal("room closed", b.Socket.CloseStatusDescription);
        await AssertNothingBeforeAsync(one, stays);
    }

    [Fact]
    public async Task Presence_ShowsMembersRoomsAndCountsOfEveryServer()
    {
        var cluster = NewCluster();
        await using var one = await StartServerAsync(cluster);
        await using var two = await StartServerAsync(cluster);
        using var a = await ConnectAsync(one, "a", user: "alice");
        using var b = await ConnectAsync(two, "b", user: "bob");
        using var c = await ConnectAsync(two, "c");
        await JoinAsync(a, "lobby");
        await JoinAsync(b, "lobby");
        await JoinAsync(b, "games");

        foreach (var server in new[] { one, two })
        {
            var members = await Eventually.Until(
                () => server.Registry.GetRoomMembersAsync("lobby"),
                r => r.Value.Count == 2,
                "both lobby members are seen");
            Assert.True(members.IsComplete);
            var byId = members.Value.ToDictionary(static m => m.ConnectionId);
            Assert.Equal("alice", byId["a"].UserId);
            Assert.Equal("bob", byId["b"].UserId);
            Assert.Equal(Chat, byId["b"].Namespace);
            Assert.Equal("Name-b", byId["b"].Items["name"].GetString());
            Assert.NotEqual(byId["a"].ServerId, byId["b"].ServerId);

            var rooms = await server.Registry.GetRoomsAsync("b").DefaultTimeout();
            Assert.Equal(["games", "lobby"], rooms.Value.Order(StringComparer.Ordinal));

            var counts = await Eventually.Until(() => server.Registry.GetCountsAsync(), r => r.Value.Connections == 3, "three connections are counted");
            Assert.True(counts.IsComplete);
            Assert.Equal(3, counts.Value.Namespaces[Chat]);
            Assert.Equal(2, counts.Value.Rooms["lobby"]);
            Assert.Equal(1, counts.Value.Rooms["games"]);
        }
    }

    [Fact]
    public async Task Presence_ForgetsLeavesDisconnectsAndStoppedServers()
    {
        var cluster = NewCluster();
        await using var one = await StartServerAsync(cluster);
        var two = await StartServerAsync(cluster);
        await using var twoDisposal = two;
        using var a = await ConnectAsync(one, "a");
        using var b = await ConnectAsync(two, "b");
        using var c = await ConnectAsync(two, "c");
        await JoinAsync(a, "lobby");
        await JoinAsync(b, "lobby");
        await JoinAsync(c, "lobby");
        await Eventually.Until(() => one.Registry.GetRoomMembersAsync("lobby"), r => r.Value.Count == 3, "three members are seen");

        var left = await b.RequestAsync("$leave", new { room = "lobby" });
        Assert.Empty(left.GetProperty("data").GetProperty("rooms").EnumerateArray());
        await Eventually.Until(() => one.Registry.GetRoomMembersAsync("lobby"), r => r.Value.Count == 2, "b's leave is seen");

        await c.Socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None).DefaultTimeout();
        var afterClose = await Eventually.Until(() => one.Registry.GetRoomMembersAsync("lobby"), r => r.Value.Count == 1, "c's disconnect is seen");
        Assert.Equal("a", afterClose.Value.Single().ConnectionId);

        await two.StopAsync().DefaultTimeout();
        var counts = await Eventually.Until(() => one.Registry.GetCountsAsync(), r => r.Value.Connections == 1, "the stopped server's connections are gone");
        Assert.Equal(1, counts.Value.Rooms["lobby"]);
        Assert.Empty((await one.Registry.GetRoomsAsync("b").DefaultTimeout()).Value);
    }

    [Fact]
    public async Task SlowConnectionThatMakesSendsWait_DoesNotHoldBackOthersOnItsServer()
    {
        // Wait mode and a tiny queue: once the slow client's socket buffers and queue are full, every further message
        // to it waits. Messages from the other server must still reach the fast client on the same server, in order.
        var cluster = NewCluster();
        Action<SocketRegistryOptions> waitMode = o =>
        {
            o.SendQueueFullMode = SendQueueFullMode.Wait;
            o.SendQueueCapacity = 4;
        };
        await using var one = await StartServerAsync(cluster, waitMode);
        await using var two = await StartServerAsync(cluster, waitMode);
        using var slow = await ConnectAsync(two, "slow");
        using var fast = await ConnectAsync(two, "fast");
        await JoinAsync(slow, "feed");
        await JoinAsync(fast, "feed");

        const int count = 200;
        var payload = new string('x', 64 * 1024);
        var receiving = Task.Run(async () =>
        {
            for (var i = 0; i < count; i++)
            {
                Assert.Equal(i, (await fast.NextEventAsync("chunk")).GetProperty("i").GetInt32());
            }
        });
        for (var i = 0; i < count; i++)
        {
            await one.Registry.Rooms("feed").EmitAsync("chunk", new { i, payload }).DefaultTimeout();
        }

        await receiving.DefaultTimeout();
    }

    [Fact]
    public async Task ClientRooms_JoinIsAuthorized_AndBadRequestsKeepTheConnectionOpen()
    {
        var cluster = NewCluster();
        await using var one = await StartServerAsync(cluster);
        await using var two = await StartServerAsync(cluster);
        using var a = await ConnectAsync(one, "a");

        var refused = await a.RequestAsync("$join", new { room = "private-ops" });
        Assert.Equal("forbidden", refused.GetProperty("error").GetProperty("code").GetString());
        var bad = await a.RequestAsync("$join", new { room = "" });
        Assert.Equal("bad_data", bad.GetProperty("error").GetProperty("code").GetString());
        var tooLong = await a.RequestAsync("$join", new { room = new string('x', 201) });
        Assert.Equal("bad_data", tooLong.GetProperty("error").GetProperty("code").GetString());

        var joined = await a.RequestAsync("$join", new { room = "public" });
        Assert.Equal(["public"], joined.GetProperty("data").GetProperty("rooms").EnumerateArray().Select(static r => r.GetString()));
        await two.Registry.Rooms("public").EmitAsync("news", "from two").DefaultTimeout();
        Assert.Equal("from two", (await a.NextEventAsync("news")).GetString());
        await two.Registry.Rooms("private-ops").EmitAsync("news", "secret").DefaultTimeout();
        await AssertNothingBeforeAsync(two, a);
    }
}

/// <summary>The contract suite on the in-memory backplane, whose bus connects the registries of this process.</summary>
public sealed class InMemoryBackplaneContractTests : BackplaneContractTests
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Internal.InMemoryBackplaneBus> Buses = new();

    protected override void AddBackplane(ISocketRegistryBuilder builder, string cluster)
        => builder.Services.AddSingleton<SocketBackplane>(new Internal.InMemorySocketBackplane(Buses.GetOrAdd(cluster, static _ => new Internal.InMemoryBackplaneBus())));
}
